/**
 * Sandboxes as Pyodide inside a permissionless Deno (docs/architecture.md, "The trust boundary"): one Deno
 * process per run, speaking the frames (docs/architecture.md, "The frame protocol") on its stdin/stdout
 * (frame handling is `ProcessSandbox`'s). Deno's permissions are the boundary: Python can reach every JS
 * object of its worker, and that worker can read the Pyodide package, the runtime and its snapshot, and
 * nothing else. Each worker leads its own process group and is killed by it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortable } from '../../shared/abort.js';
import { BridgeError, shuttingDownError } from '../../shared/errors.js';
import { isOutOfFileDescriptors, outOfFileDescriptorsError } from '../../shared/fd-exhaustion.js';
import { isProcessAlive } from '../../shared/kill-group.js';
import type { Logger } from '../../shared/logger.js';
import { type CpuControl, niceControl, WorkerCgroups } from '../cpu-weight.js';
import { startGroupSandbox } from '../process/group-sandbox.js';
import type { ProcessSandbox } from '../process-sandbox.js';
import type { SandboxBackend, SandboxStartOptions } from '../types.js';
import { type EmbeddedMemoryLimits, embeddedMemoryLimits } from './limits.js';
import { findParentDeathPrefix } from './parent-death.js';
import { type EmbeddedPaths, resolveEmbeddedPaths } from './paths.js';
import { buildSnapshotDetached, buildSnapshotHere, runSnapshotWorker } from './snapshot-build.js';
import { snapshotKeyOf } from './snapshot-key.js';
import { type SnapshotRecord, SnapshotStore, writeSnapshot } from './snapshot-store.js';
import { buildWorkerCommand, type WorkerCommand } from './worker-command.js';

/** The worker's exit code for "the snapshot is unusable" (runtime/deno/worker.js). */
const EXIT_SNAPSHOT_INVALID = 3;
/** The longest a start waits for a build under way (~4.5 s on two cores) before loading cold. */
const BUILD_WAIT_MS = 20_000;

export interface EmbeddedBackendOptions {
  /** `MCP_BRIDGE_STATE_DIR`: the snapshot and Deno's cache live under `<stateDir>/embedded/`. */
  stateDir: string;
  /** `MCP_BRIDGE_MEMORY`, e.g. `512m`: the Python heap cap of each worker. */
  memory: string;
  logger: Logger;
  /** Where Deno, Pyodide, the worker and the runtime are. Default: resolved from this package. */
  paths?: EmbeddedPaths;
  /** Owner pid written on each worker's command line, for reaping. Default: this process's pid. */
  ownerPid?: number;
  /**
   * Build the snapshot in a detached process that outlives this bridge (a one-shot command, which
   * would otherwise stop a build it started when it exits). Default false: built here.
   */
  detachSnapshotBuilds?: boolean;
  /** Give each worker a CPU weight control (a cgroup of its own, else its niceness). Default false. */
  cpuWeights?: boolean;
}

/** The embedded state directory of a bridge state dir. */
export function embeddedStateDir(stateDir: string): string {
  return join(stateDir, 'embedded');
}

class SnapshotRejected extends Error {}

export class EmbeddedBackend implements SandboxBackend {
  readonly kind = 'embedded' as const;
  readonly description: string;
  readonly paths: EmbeddedPaths;
  readonly #options: EmbeddedBackendOptions;
  readonly #limits: EmbeddedMemoryLimits;
  readonly #dir: string;
  readonly #ownerPid: number;
  readonly #live = new Set<ProcessSandbox>();
  readonly #snapshots: Promise<SnapshotStore>;
  /** Found once, beside the snapshot key; nothing is spawned before it is known. */
  readonly #parentDeath: Promise<void>;
  #parentDeathPrefix: readonly string[] | undefined;
  /** The cgroups of workers, for their CPU weights; undefined where none can be made (then `nice`). */
  #cgroups: Promise<WorkerCgroups | undefined> | undefined;
  #counter = 0;
  #closing: Promise<void> | undefined;

  constructor(options: EmbeddedBackendOptions) {
    this.#options = options;
    this.paths = options.paths ?? resolveEmbeddedPaths();
    this.#limits = embeddedMemoryLimits(options.memory);
    this.#dir = embeddedStateDir(options.stateDir);
    this.#ownerPid = options.ownerPid ?? process.pid;
    this.description = `embedded (deno ${this.paths.denoVersion}, pyodide ${this.paths.pyodideVersion})`;
    this.#snapshots = snapshotKeyOf(this.paths).then((key) => {
      const store: SnapshotStore = new SnapshotStore({
        dir: this.#dir,
        key,
        build: (signal) => this.#buildSnapshot(store, signal),
        // A detached build needs no grace: it goes on without this bridge.
        ...(options.detachSnapshotBuilds ? { closeGraceMs: 0 } : {}),
        logger: options.logger,
      });
      return store;
    });
    // A failure surfaces from `start`; this only keeps it from being an unhandled rejection.
    this.#snapshots.catch(() => {});
    this.#parentDeath = findParentDeathPrefix().then(
      (prefix) => {
        this.#parentDeathPrefix = prefix;
      },
      () => {},
    );
  }

  /** The snapshot cache (state, verified record); resolves once the key is known. */
  snapshots(): Promise<SnapshotStore> {
    return this.#snapshots;
  }

  async start(signal?: AbortSignal, options: SandboxStartOptions = {}): Promise<ProcessSandbox> {
    try {
      return await this.#start(signal, options);
    } catch (error) {
      // Reading the snapshot or spawning the worker's pipes: either can be the step that fails.
      if (isOutOfFileDescriptors(error) && !(error instanceof BridgeError)) {
        throw outOfFileDescriptorsError('starting an embedded sandbox', error);
      }
      throw error;
    }
  }

  async #start(signal: AbortSignal | undefined, options: SandboxStartOptions): Promise<ProcessSandbox> {
    if (this.#closing) throw shuttingDownError();
    const limits = options.memory ? embeddedMemoryLimits(options.memory) : this.#limits;
    const [store] = await Promise.all([this.#snapshots, this.#parentDeath]);
    let snapshot = await store.current({ build: false });
    // A build under way is awaited rather than raced by a cold load: on two cores the two shared the
    // CPU and both took ~6 s, where a worker from the finished snapshot adds ~0.5 s to the build's ~4.5.
    if (!snapshot && store.building) {
      snapshot = await abortable(
        Promise.race([store.settled(), sleep(BUILD_WAIT_MS, undefined, { ref: false })]),
        signal,
      );
    }
    if (snapshot) {
      const sandbox = await this.#startFromSnapshot(store, snapshot, signal, limits);
      if (sandbox) return sandbox;
    }
    // No usable snapshot (a new machine or version, or one just rejected): this worker loads cold,
    // alone, and the build starts once it is ready, so the first run waits for one load, not two.
    try {
      return await this.#startWorker(undefined, signal, limits);
    } finally {
      void store.current();
    }
  }

  /**
   * A worker restored from `snapshot`, or undefined when the snapshot proves unusable. Its digest is
   * checked beside the first workers' start: a worker restored from a corrupt snapshot is never used,
   * and is stopped as soon as the check fails (it may never get as far as `ready`).
   */
  async #startFromSnapshot(
    store: SnapshotStore,
    snapshot: SnapshotRecord,
    signal: AbortSignal | undefined,
    limits: EmbeddedMemoryLimits,
  ): Promise<ProcessSandbox | undefined> {
    const sound = store.verify(snapshot);
    const unsound = new AbortController();
    void sound.then((ok) => {
      if (!ok) unsound.abort();
    });
    try {
      const starting = signal ? AbortSignal.any([signal, unsound.signal]) : unsound.signal;
      const sandbox = await this.#startWorker(snapshot, starting, limits);
      if (await sound) return sandbox;
      await sandbox.destroy();
    } catch (error) {
      if (signal?.aborted || !(unsound.signal.aborted || error instanceof SnapshotRejected)) throw error;
      if (error instanceof SnapshotRejected) store.invalidate(snapshot, error.message);
    }
    return undefined;
  }

  /** How workers' CPU weights are set here (docs/team.md, "Fair shares"). */
  async cpuShares(): Promise<{ mechanism: CpuControl['mechanism']; where: string }> {
    const cgroups = await this.#workerCgroups();
    return cgroups
      ? { mechanism: 'cgroup', where: `a cgroup per worker under ${cgroups.dir}` }
      : { mechanism: 'nice', where: 'no writable cgroup with the cpu controller: niceness per worker' };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const store = await this.#snapshots.catch(() => undefined);
      await Promise.all([store?.close(), ...[...this.#live].map((sandbox) => sandbox.destroy())]);
      await (await this.#cgroups)?.close();
    })();
    return this.#closing;
  }

  /**
   * Kills workers whose bridge is gone. A worker notices a closed stdin only between Python steps,
   * so one stuck in `while True` outlives a bridge killed with SIGKILL. Linux only (/proc).
   */
  async reapStale(): Promise<number> {
    if (process.platform !== 'linux') return 0;
    const marker = `--owner=`;
    let reaped = 0;
    for (const entry of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(entry)) continue;
      const args = await readFile(`/proc/${entry}/cmdline`, 'utf8')
        .then((text) => text.split('\0'))
        .catch(() => [] as string[]);
      if (!args.includes(this.paths.worker)) continue;
      const owner = Number(args.find((arg) => arg.startsWith(marker))?.slice(marker.length));
      if (!Number.isInteger(owner) || owner <= 0 || isProcessAlive(owner)) continue;
      try {
        process.kill(Number(entry), 'SIGKILL');
        reaped++;
      } catch {
        // gone, or not ours to kill
      }
    }
    if (reaped > 0)
      this.#options.logger.info('killed embedded workers left by a bridge that is gone', { reaped });
    return reaped;
  }

  #workerCgroups(): Promise<WorkerCgroups | undefined> {
    this.#cgroups ??= WorkerCgroups.create(this.#ownerPid).catch(() => undefined);
    return this.#cgroups;
  }

  /** A cgroup of its own for the worker (removed when it exits), else its niceness. */
  async #cpuControl(
    sandbox: ProcessSandbox,
    pid: number,
    cgroups: WorkerCgroups | undefined,
  ): Promise<CpuControl | undefined> {
    const adopted = await cgroups?.adopt(pid);
    if (!adopted) return niceControl(pid);
    void sandbox.exited().then(adopted.remove);
    return adopted.control;
  }

  #command(snapshot: SnapshotRecord | undefined, makeSnapshot = false, limits = this.#limits): WorkerCommand {
    return buildWorkerCommand({
      paths: this.paths,
      limits,
      denoDir: join(this.#dir, 'deno'),
      snapshot,
      makeSnapshot,
      ownerPid: this.#ownerPid,
      parentDeath: this.#parentDeathPrefix,
    });
  }

  #spawn(command: WorkerCommand): ChildProcess {
    // cwd '/': Deno.cwd() needs no permission and would otherwise reveal the bridge's directory.
    return spawn(command.file, command.args, {
      cwd: '/',
      env: command.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  }

  async #startWorker(
    snapshot: SnapshotRecord | undefined,
    signal?: AbortSignal,
    limits = this.#limits,
  ): Promise<ProcessSandbox> {
    // Checked again here, after the waits in `start`: close() destroys only the workers it can see.
    if (this.#closing) throw shuttingDownError();
    const { logger } = this.#options;
    const id = `embedded-${this.#ownerPid}-${++this.#counter}`;
    const startedAt = performance.now();
    const child = this.#spawn(this.#command(snapshot, false, limits));
    const sandbox = startGroupSandbox({
      id,
      kind: 'embedded',
      child,
      logger,
      live: this.#live,
      what: 'the embedded worker',
    });
    const pid = child.pid;
    if (this.#options.cpuWeights && pid !== undefined) {
      // Moved into a cgroup of its own only when first weighed: most workers never are.
      sandbox.useCpuControl(async () => this.#cpuControl(sandbox, pid, await this.#workerCgroups()));
    }
    try {
      await sandbox.waitReady(signal);
    } catch (error) {
      if (error instanceof Error && error.name === 'AbortError') throw error;
      if (signal?.aborted) throw error;
      if (this.#closing) {
        throw shuttingDownError(error);
      }
      if (snapshot && sandbox.exitCode === EXIT_SNAPSHOT_INVALID) {
        throw new SnapshotRejected(sandbox.diagnostics || 'the worker refused the snapshot');
      }
      if (isOutOfFileDescriptors(error) || isOutOfFileDescriptors(new Error(sandbox.diagnostics))) {
        throw outOfFileDescriptorsError('starting an embedded sandbox', error);
      }
      throw new BridgeError(
        'SANDBOX_START_FAILED',
        `Could not start an embedded (Deno + Pyodide) sandbox: ${sandbox.diagnostics || (error instanceof Error ? error.message : String(error))}. ` +
          'Run `codemode-bridge doctor`, or set MCP_BRIDGE_RUNTIME to podman or docker.',
        { cause: error, details: { deno: this.paths.deno } },
      );
    }
    logger.debug('sandbox ready', {
      sandbox: id,
      snapshot: snapshot !== undefined,
      ms: Math.round(performance.now() - startedAt),
    });
    return sandbox;
  }

  /**
   * Builds the snapshot: here, or (`detachSnapshotBuilds`) in a process of its own that finishes it
   * after this bridge has gone.
   */
  async #buildSnapshot(store: SnapshotStore, signal: AbortSignal): Promise<SnapshotRecord | undefined> {
    if (this.#options.detachSnapshotBuilds) {
      return buildSnapshotDetached(
        {
          dir: this.#dir,
          key: store.key,
          stateDir: this.#options.stateDir,
          memory: this.#options.memory,
          logger: this.#options.logger,
        },
        signal,
      );
    }
    await this.#parentDeath;
    return writeSnapshot(
      this.#dir,
      store.key,
      await runSnapshotWorker(this.#command(undefined, true), signal),
    );
  }
}

/**
 * What `codemode-bridge __build-snapshot` does: builds the snapshot of `stateDir` in this process,
 * unless another process is building it (undefined).
 */
export async function buildSnapshotAlone(options: {
  stateDir: string;
  memory: string;
  signal: AbortSignal;
}): Promise<SnapshotRecord | undefined> {
  const paths = resolveEmbeddedPaths();
  const dir = embeddedStateDir(options.stateDir);
  const command = buildWorkerCommand({
    paths,
    limits: embeddedMemoryLimits(options.memory),
    denoDir: join(dir, 'deno'),
    makeSnapshot: true,
    ownerPid: process.pid,
  });
  return buildSnapshotHere(command, dir, await snapshotKeyOf(paths), options.signal);
}
