/**
 * Sandboxes as rootless podman/docker containers (docs/architecture.md, "The trust boundary"). Each sandbox
 * is one `<engine> run -i` whose stdin/stdout carry the frames. Killing the client process does not stop a
 * container, so every kill goes through `rm -f` by name, retried until the client has exited (a container
 * still being created cannot be removed yet).
 */
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BridgeError, shuttingDownError } from '../../shared/errors.js';
import { isOutOfFileDescriptors, outOfFileDescriptorsError } from '../../shared/fd-exhaustion.js';
import { isProcessAlive } from '../../shared/kill-group.js';
import type { Logger } from '../../shared/logger.js';
import { packagePath } from '../../shared/package-root.js';
import { type CpuControl, containerCpuControl } from '../cpu-weight.js';
import { minimalEnvironment, runCommand } from '../process/run-command.js';
import { ProcessSandbox } from '../process-sandbox.js';
import type { SandboxBackend, SandboxStartOptions } from '../types.js';
import { imageExists } from './engine-probe.js';
import { describeOciRuntime, isGvisor } from './oci-runtime.js';
import {
  buildRemoveArgs,
  buildRunArgs,
  type ContainerEngine,
  type ContainerLimits,
  OWNER_LABEL,
} from './run-args.js';
import { prepareSandboxFiles, type SandboxFiles } from './sandbox-files.js';
import { hardenedPodmanProfile, PODMAN_SECCOMP_PATHS } from './seccomp.js';
import { isLocalEngine, SocketChannels } from './socket-channel.js';

const DEFAULT_RUNTIME_DIR = packagePath('runtime', 'python');
const REMOVE_RETRY_MS = 100;
const REMOVE_ATTEMPTS = 100;
const COMMAND_TIMEOUT_MS = 30_000;

export interface ContainerBackendOptions {
  engine: ContainerEngine;
  /** The engine's version, for descriptions. */
  version?: string;
  image: string;
  limits: ContainerLimits;
  logger: Logger;
  /** Directory holding the Python runtime; mounted read-only. Default: the package's `runtime/python`. */
  runtimeDir?: string;
  /** Owner label value; default this process's pid. */
  ownerPid?: number;
  /**
   * How frames travel: a bind-mounted Unix socket (default; fastest) or the engine's attached stdio
   * (for engines that cannot bind-mount host paths, such as a remote Docker daemon).
   */
  channel?: 'socket' | 'stdio';
  /** OCI runtime the engine runs the container with (`--runtime`); default the engine's own. */
  ociRuntime?: string | undefined;
  /** Find each container's cgroup to weigh its CPU (podman's `--pidfile`). Default false. */
  cpuWeights?: boolean;
}

export class ContainerBackend implements SandboxBackend {
  readonly kind: ContainerEngine;
  readonly description: string;
  readonly #options: ContainerBackendOptions;
  readonly #ownerPid: number;
  readonly #live = new Set<ProcessSandbox>();
  /** Starts under way, from the call to their end: close() waits for them before removing files. */
  readonly #starting = new Set<Promise<unknown>>();
  /** Channel directories being removed after their sandbox exited. */
  readonly #closingChannels = new Set<Promise<void>>();
  readonly #channels = new SocketChannels();
  #counter = 0;
  #closing: Promise<void> | undefined;
  #imageChecked = false;
  #seccompProfile: Promise<string | undefined> | undefined;
  #files: Promise<Partial<SandboxFiles>> | undefined;

  constructor(options: ContainerBackendOptions) {
    this.#options = options;
    this.kind = options.engine;
    this.#ownerPid = options.ownerPid ?? process.pid;
    const runtime = options.ociRuntime ? ` with ${describeOciRuntime(options.ociRuntime)}` : '';
    this.description = `${options.engine}${options.version ? ` ${options.version}` : ''}${runtime}, image ${options.image}`;
  }

  start(signal?: AbortSignal, options: SandboxStartOptions = {}): Promise<ProcessSandbox> {
    if (this.#closing) return Promise.reject(shuttingDownError());
    const starting = this.#start(signal, options).catch((error: unknown) => {
      // The frame socket, the seccomp file or the engine's pipes: any of them can be the one that fails.
      if (isOutOfFileDescriptors(error) && !(error instanceof BridgeError)) {
        throw outOfFileDescriptorsError(`starting a ${this.#options.engine} sandbox`, error);
      }
      throw error;
    });
    const settled = starting.then(
      () => {},
      () => {},
    );
    this.#starting.add(settled);
    void settled.then(() => this.#starting.delete(settled));
    return starting;
  }

  async #start(signal: AbortSignal | undefined, options: SandboxStartOptions): Promise<ProcessSandbox> {
    const { engine, image, logger } = this.#options;
    const limits = options.memory
      ? { ...this.#options.limits, memory: options.memory }
      : this.#options.limits;
    const name = `codemode-${this.#ownerPid}-${++this.#counter}`;
    const channel = this.#options.channel === 'stdio' ? undefined : await this.#channels.open();
    const files = await this.#sandboxFiles();
    // Never the user's directory: conmon leaves an `oom` file in its cwd when the kernel kills a run.
    const cwd = await this.#channels.root();
    // Where podman says the container's host pid: its cgroup carries the principal's CPU weight.
    const pidFile =
      this.#options.cpuWeights && engine === 'podman' && isLocalEngine(process.platform, process.env)
        ? join(cwd, `${name}.pid`)
        : undefined;
    const args = buildRunArgs({
      engine,
      image,
      name,
      ownerPid: this.#ownerPid,
      runtimeDir: files.runtimeDir ?? this.#options.runtimeDir ?? DEFAULT_RUNTIME_DIR,
      limits,
      channelDir: channel?.dir,
      ociRuntime: this.#options.ociRuntime,
      seccompProfile: await this.#seccomp(),
      hostsFile: files.hostsFile,
      resolvConfFile: files.resolvConfFile,
      pidFile,
    });
    // Checked again after the waits above: close() removes only the containers it can see.
    if (this.#closing) {
      await channel?.close();
      throw shuttingDownError();
    }
    const startedAt = performance.now();
    const child = spawn(engine, args, { stdio: ['pipe', 'pipe', 'pipe'], env: minimalEnvironment(), cwd });
    const sandbox: ProcessSandbox = new ProcessSandbox({
      id: name,
      kind: this.#options.engine,
      child,
      logger,
      terminate: (): Promise<void> => this.#remove(name, sandbox),
      ...(channel ? { channel: 'later' as const } : {}),
    });
    this.#live.add(sandbox);
    void channel?.connection.then((socket) => sandbox.attachChannel({ input: socket, output: socket }));
    void sandbox.exited().then(() => {
      this.#live.delete(sandbox);
      if (!channel) return;
      const closing = channel.close();
      this.#closingChannels.add(closing);
      void closing.finally(() => this.#closingChannels.delete(closing));
    });
    child.once('error', (error) => logger.error('could not spawn the container engine', { engine, error }));
    try {
      await sandbox.waitReady(signal);
    } catch (error) {
      throw await this.#explainStartFailure(error, sandbox);
    }
    logger.debug('sandbox ready', { sandbox: name, ms: Math.round(performance.now() - startedAt) });
    if (pidFile) {
      sandbox.useCpuControl(() => this.#cpuControl(pidFile));
      // Read only if a weight is ever set; either way it goes with the container.
      void sandbox.exited().then(() => rm(pidFile, { force: true }).catch(() => {}));
    }
    return sandbox;
  }

  /** The control of a container's CPU weight, from the pid podman wrote. */
  async #cpuControl(pidFile: string): Promise<CpuControl | undefined> {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    return Number.isInteger(pid) && pid > 0 ? containerCpuControl(pid) : undefined;
  }

  /**
   * The profile file every podman sandbox under runc/crun gets (seccomp.ts), written once into the
   * bridge's private directory; undefined for docker and gVisor, whose defaults need no hardening.
   */
  #seccomp(): Promise<string | undefined> {
    const { engine, ociRuntime, logger } = this.#options;
    if (engine !== 'podman' || isGvisor(ociRuntime)) return Promise.resolve(undefined);
    this.#seccompProfile ??= (async () => {
      const profile = await hardenedPodmanProfile();
      if (profile === undefined) {
        logger.warn(
          'no seccomp profile of podman found; sandboxes keep its built-in default, which allows user namespaces',
          {
            looked: PODMAN_SECCOMP_PATHS,
          },
        );
        return undefined;
      }
      const path = join(await this.#channels.root(), 'seccomp.json');
      await writeFile(path, profile, { mode: 0o600 });
      return path;
    })();
    return this.#seccompProfile;
  }

  /**
   * The runtime and /etc files every sandbox mounts, from the private directory (sandbox-files.ts),
   * prepared once. None for an engine in a VM or on another machine, which cannot see that
   * directory: the runtime is then mounted from the package, and the engine's /etc files stay.
   */
  #sandboxFiles(): Promise<Partial<SandboxFiles>> {
    if (!isLocalEngine(process.platform, process.env)) return Promise.resolve({});
    this.#files ??= this.#channels.root().then((root) =>
      prepareSandboxFiles(root, this.#options.runtimeDir ?? DEFAULT_RUNTIME_DIR).catch((error: unknown) => {
        this.#files = undefined; // a disk that was full may not be next time
        throw error;
      }),
    );
    return this.#files;
  }

  /**
   * Removes every sandbox and then the bridge's directory. Starts still under way (spawning, or
   * writing into the directory) are waited for first: removing the directory beside them raced them
   * (`ENOTEMPTY`). Never rejects: a failure to clean up is logged.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // A start that had passed its last check has spawned and is live; one that had not gives up.
      while (this.#live.size > 0 || this.#starting.size > 0) {
        await Promise.all([...this.#live].map((sandbox) => sandbox.destroy()));
        await Promise.all(this.#starting);
      }
      await Promise.all(this.#closingChannels);
      await this.#channels.dispose().catch((error: unknown) => {
        this.#options.logger.warn("could not remove the sandboxes' directory", { error });
      });
    })();
    return this.#closing;
  }

  /** Removes containers left by bridges that are no longer running (crashed, killed with SIGKILL). */
  async reapStale(): Promise<string[]> {
    await SocketChannels.reapStale().catch(() => 0);
    const { engine, logger } = this.#options;
    const format = `{{.Names}}\t{{index .Labels "${OWNER_LABEL}"}}`;
    const listed = await runCommand(
      engine,
      ['ps', '-a', '--filter', `label=${OWNER_LABEL}`, '--format', format],
      {
        timeoutMs: COMMAND_TIMEOUT_MS,
        env: minimalEnvironment(),
      },
    );
    if (listed.exitCode !== 0) {
      logger.warn('could not list stale sandboxes', { engine, error: listed.stderr.trim() });
      return [];
    }
    const stale = listed.stdout
      .split('\n')
      .map((line) => line.trim().split('\t'))
      .filter(([name, owner]) => name && owner && !isProcessAlive(Number(owner)))
      .map(([name]) => name as string);
    if (stale.length > 0) {
      await runCommand(engine, buildRemoveArgs(engine, stale), {
        timeoutMs: COMMAND_TIMEOUT_MS,
        env: minimalEnvironment(),
      });
      logger.info('removed sandboxes left by a bridge that is gone', { count: stale.length });
    }
    return stale;
  }

  async #remove(name: string, sandbox: ProcessSandbox): Promise<void> {
    const { engine } = this.#options;
    for (let attempt = 0; attempt < REMOVE_ATTEMPTS; attempt++) {
      await runCommand(engine, buildRemoveArgs(engine, [name]), {
        timeoutMs: COMMAND_TIMEOUT_MS,
        env: minimalEnvironment(),
      });
      const exited = await Promise.race([sandbox.exited().then(() => true), sleep(REMOVE_RETRY_MS, false)]);
      if (exited) return;
    }
    this.#options.logger.warn('container still running after repeated removal', { sandbox: name });
  }

  async #explainStartFailure(error: unknown, sandbox: ProcessSandbox): Promise<Error> {
    const { engine, image } = this.#options;
    if (error instanceof BridgeError || (error instanceof Error && error.name === 'AbortError')) return error;
    // Checked first: with no descriptor left, the image check below fails too and would blame the image.
    if (isOutOfFileDescriptors(error) || isOutOfFileDescriptors(new Error(sandbox.diagnostics))) {
      return outOfFileDescriptorsError(`starting a ${engine} sandbox`, error);
    }
    const diagnostics = sandbox.diagnostics;
    if (!this.#imageChecked && !(await imageExists(engine, image))) {
      return new BridgeError(
        'IMAGE_MISSING',
        `The sandbox image ${image} is not available to ${engine}. Pull it once with: ${engine} pull ${image}` +
          ' (or set MCP_BRIDGE_IMAGE to an image you have, with python3 on its PATH).',
        { cause: error, details: { engine, image } },
      );
    }
    this.#imageChecked = true;
    return new BridgeError(
      'SANDBOX_START_FAILED',
      `Could not start a ${engine} sandbox from ${image}: ${diagnostics || (error instanceof Error ? error.message : String(error))}`,
      { cause: error, details: { engine, image } },
    );
  }
}
