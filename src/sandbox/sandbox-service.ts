/**
 * The sandboxes of one bridge: picks the runtime on first use (probing costs ~0.1 s, so serving
 * does not wait for it), reaps sandboxes a dead bridge left, and keeps the warm pool.
 */
import { availableParallelism } from 'node:os';
import { BridgeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { resolveStateDir } from '../shared/state-dir.js';
import { ContainerBackend } from './container/container-backend.js';
import type { ContainerLimits } from './container/run-args.js';
import { EmbeddedBackend } from './embedded/embedded-backend.js';
import { parseSize } from './embedded/limits.js';
import { MontyTier } from './monty/monty-tier.js';
import { type PoolStats, WarmPool } from './pool.js';
import { type RuntimePreference, selectRuntime } from './select.js';
import type { FullPythonKind, Sandbox, SandboxBackend, SandboxClaim, SandboxStartOptions } from './types.js';

/**
 * Warm sandboxes per runtime when demand is low (MCP_BRIDGE_POOL_SIZE unset). An idle container costs
 * ~30 MB (PSS: its engine client, conmon and the interpreter); an idle embedded worker ~100 MB (PSS,
 * with Deno's code shared between workers). An embedded worker takes 0.45–0.65 s and ~0.9 s of CPU to
 * start on two cores, so one warm worker cannot be replaced between runs half a second apart: two can.
 */
const DEFAULT_POOL_SIZE: Readonly<Record<FullPythonKind, number>> = { podman: 2, docker: 2, embedded: 2 };
/** The most a burst may grow the pool to (MCP_BRIDGE_POOL_MAX unset); it shrinks back when quiet. */
const DEFAULT_POOL_MAX = 16;
/** Embedded workers a burst may grow the pool to per core (see `defaultPoolMax`). */
const EMBEDDED_POOL_MAX_PER_CORE = 8;

/**
 * The pool's ceiling when MCP_BRIDGE_POOL_MAX is unset. An embedded worker costs ~0.9 s of CPU to
 * start, so its ceiling follows the cores: what they refill in about seven seconds after a burst
 * (8 on one core, 16 from two). On two cores 16 beat 8 for the next burst in two of three same-run
 * rounds (p50 292/469 vs 589/567 ms); in the third the refill was still running into it.
 */
export function defaultPoolMax(runtime: FullPythonKind, cores = availableParallelism()): number {
  if (runtime !== 'embedded') return DEFAULT_POOL_MAX;
  return Math.min(DEFAULT_POOL_MAX, EMBEDDED_POOL_MAX_PER_CORE * Math.max(1, cores));
}

export interface SandboxServiceOptions {
  /**
   * MCP_BRIDGE_RUNTIME: `monty` keeps no full-Python sandbox; `auto` adds the Monty tier to the full
   * one (unless an OCI runtime is configured: whoever asks for gVisor gets a container).
   */
  runtime: RuntimePreference | 'monty';
  /** The longest run the engine allows (Monty's own time limit sits above it). Default 120 s. */
  maxTimeoutMs?: number;
  image: string;
  limits: ContainerLimits;
  /** Sandboxes kept ready when idle; default `DEFAULT_POOL_SIZE` of the selected runtime. */
  poolSize?: number | undefined;
  /** The most sandboxes a burst may keep ready; default `defaultPoolMax` of the selected runtime. */
  poolMax?: number | undefined;
  /** Where caches live (the embedded snapshot). Default: MCP_BRIDGE_STATE_DIR or the per-user cache dir. */
  stateDir?: string | undefined;
  /** How container sandboxes carry frames (default: a bind-mounted Unix socket). */
  containerChannel?: 'socket' | 'stdio';
  /** OCI runtime of container sandboxes (MCP_BRIDGE_OCI_RUNTIME); default the engine's. */
  ociRuntime?: string | undefined;
  /**
   * Find how each sandbox's CPU weight is set (a team's bridge: docs/team.md, "Fair shares"), so the
   * engine can weigh them. Default false: sandboxes start and stay as they always did.
   */
  cpuWeights?: boolean;
  /** A one-off command (`run`): the embedded snapshot is built by a process that outlives it. Default false. */
  oneShot?: boolean;
  logger: Logger;
}

export class SandboxService {
  readonly #options: SandboxServiceOptions;
  /** The Monty tier, under `auto` and `monty`. */
  readonly instant: MontyTier | undefined;
  #ready: Promise<{ backend: SandboxBackend; pool: WarmPool }> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: SandboxServiceOptions) {
    this.#options = options;
    const withTier = options.runtime === 'monty' || (options.runtime === 'auto' && !options.ociRuntime);
    this.instant = withTier
      ? new MontyTier({
          memoryBytes: parseSize(options.limits.memory),
          maxTimeoutMs: options.maxTimeoutMs ?? 120_000,
          ...(options.poolSize !== undefined ? { minIdle: Math.min(options.poolSize, 2) } : {}),
          logger: options.logger,
        })
      : undefined;
  }

  /** Whether full-Python sandboxes exist at all (not under MCP_BRIDGE_RUNTIME=monty). */
  get hasFullPython(): boolean {
    return this.#options.runtime !== 'monty';
  }

  /**
   * A warm sandbox from the pool; with `options` (a session's own memory limit), one started for the
   * caller with them. `claim` says how a warm one is taken (fair shares).
   */
  async acquire(signal?: AbortSignal, options?: SandboxStartOptions, claim?: SandboxClaim): Promise<Sandbox> {
    if (!this.hasFullPython) {
      throw new BridgeError(
        'RUNTIME_UNAVAILABLE',
        'MCP_BRIDGE_RUNTIME=monty keeps no full-Python sandbox; set MCP_BRIDGE_RUNTIME=auto to have one.',
      );
    }
    const { backend, pool } = await this.#init();
    return options ? backend.start(signal, options) : pool.acquire(signal, claim);
  }

  /** A run has replied: refill the pool in the background. */
  released(): void {
    if (this.#closing || !this.hasFullPython) return;
    this.#init().then(
      ({ pool }) => pool.released(),
      () => {},
    );
  }

  /** Selects the runtime and fills the pool in the background; failures surface on the next `acquire`. */
  warm(): void {
    if (this.#closing) return;
    this.instant?.warm();
    if (!this.hasFullPython) return;
    this.#init().then(
      ({ pool }) => pool.warm(),
      () => {},
    );
  }

  /** What the pool is doing, once the runtime is selected (under `monty`, the tier's workers). */
  async stats(): Promise<PoolStats> {
    if (!this.hasFullPython && this.instant) {
      const workers = await this.instant.stats();
      return {
        ready: workers.fresh + workers.idle,
        starting: 0,
        target: workers.fresh,
        inUse: workers.busy,
        hits: 0,
        misses: workers.started,
      };
    }
    return (await this.#init()).pool.stats;
  }

  /** The backend in use, once selected; under `monty`, one that describes the tier and starts nothing. */
  async backend(): Promise<SandboxBackend> {
    const instant = this.instant;
    if (!this.hasFullPython && instant) {
      await instant.ready();
      return {
        kind: 'monty',
        description: instant.description,
        start: () => Promise.reject(new Error('the Monty tier takes no sandbox from a backend')),
        close: async () => {},
      };
    }
    return (await this.#init()).backend;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.instant?.close();
      const ready = await this.#ready?.catch(() => undefined);
      if (!ready) return;
      await ready.pool.close();
      await ready.backend.close();
    })();
    return this.#closing;
  }

  #init(): Promise<{ backend: SandboxBackend; pool: WarmPool }> {
    if (!this.#ready) {
      const { logger } = this.#options;
      this.#ready = (async () => {
        const preference = this.#options.runtime === 'monty' ? 'auto' : this.#options.runtime;
        const selection = await selectRuntime(preference, {
          image: this.#options.image,
          ociRuntime: this.#options.ociRuntime,
        });
        const backend = this.#createBackend(selection.runtime, selection.version);
        logger.info('sandbox runtime selected', { runtime: backend.description, reason: selection.reason });
        backend.reapStale().catch((error) => logger.warn('reaping stale sandboxes failed', { error }));
        const { poolSize, poolMax } = this.#options;
        // A ceiling set below the default idle size lowers that too (settings refuse an explicit
        // MCP_BRIDGE_POOL_SIZE above MCP_BRIDGE_POOL_MAX).
        const minSize =
          poolSize ?? Math.min(DEFAULT_POOL_SIZE[selection.runtime], poolMax ?? Number.POSITIVE_INFINITY);
        const maxSize = Math.max(minSize, poolMax ?? defaultPoolMax(selection.runtime));
        return { backend, pool: new WarmPool(backend, { minSize, maxSize, logger }) };
      })();
      // A failed selection is retried on the next use: the user may install a runtime meanwhile.
      this.#ready.catch((error) => {
        logger.error('no sandbox runtime', { error });
        this.#ready = undefined;
      });
    }
    return this.#ready;
  }

  #createBackend(runtime: FullPythonKind, version: string | undefined): ContainerBackend | EmbeddedBackend {
    const { logger, limits } = this.#options;
    if (runtime === 'embedded') {
      return new EmbeddedBackend({
        stateDir: this.#options.stateDir ?? resolveStateDir(process.env),
        memory: limits.memory,
        ...(this.#options.oneShot ? { detachSnapshotBuilds: true } : {}),
        ...(this.#options.cpuWeights ? { cpuWeights: true } : {}),
        logger,
      });
    }
    return new ContainerBackend({
      engine: runtime,
      ...(version ? { version } : {}),
      image: this.#options.image,
      limits,
      ...(this.#options.containerChannel ? { channel: this.#options.containerChannel } : {}),
      ociRuntime: this.#options.ociRuntime,
      ...(this.#options.cpuWeights ? { cpuWeights: true } : {}),
      logger,
    });
  }
}
