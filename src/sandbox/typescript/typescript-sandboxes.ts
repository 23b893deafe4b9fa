/**
 * The TypeScript sandboxes of one bridge (MCP_BRIDGE_LANGUAGES includes `typescript`): the backend,
 * created on first use (resolving Deno throws if it is missing, and a Python-only bridge never pays
 * for it), sandboxes a dead bridge left reaped, and a warm pool of its own beside Python's.
 */
import type { Logger } from '../../shared/logger.js';
import { type PoolStats, WarmPool } from '../pool.js';
import type { Sandbox, SandboxStartOptions } from '../types.js';
import { TypeScriptBackend } from './typescript-backend.js';

/** Sandboxes kept ready when idle: a Deno sandbox starts in ~0.1 s, so two cover agent pace. */
const DEFAULT_POOL_SIZE = 2;
/**
 * The most a burst may grow the pool to. A burst of short runs spends the stock far faster than Deno
 * starts (~5–10 ms a run, ~100 ms a start), so a burst longer than the stock runs its tail on cold
 * starts: measured with bursts of 30, 16 left the second half at 50–100 ms a run (next p50 10–27 ms)
 * where 32 kept every run warm (next p50 7.6–8.1 ms). An idle sandbox costs ~14 MB (PSS); the pool
 * halves back towards 2 after a minute without a miss.
 */
const DEFAULT_POOL_MAX = 32;

export interface TypeScriptSandboxesOptions {
  stateDir: string;
  /** MCP_BRIDGE_MEMORY: each sandbox's heap, with an RLIMIT_DATA backstop. */
  memory: string;
  /** MCP_BRIDGE_POOL_SIZE / _MAX; 0 keeps no pool (a one-off command). Default 2 / 32. */
  poolSize?: number | undefined;
  poolMax?: number | undefined;
  logger: Logger;
}

export class TypeScriptSandboxes {
  readonly #options: TypeScriptSandboxesOptions;
  #ready: { backend: TypeScriptBackend; pool: WarmPool } | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: TypeScriptSandboxesOptions) {
    this.#options = options;
  }

  /** A warm sandbox; with `options` (a session's own memory limit), one started with them. */
  async acquire(signal?: AbortSignal, options?: SandboxStartOptions): Promise<Sandbox> {
    const { backend, pool } = this.#init();
    return options ? backend.start(signal, options) : pool.acquire(signal);
  }

  /** A run has replied: refill the pool in the background. */
  released(): void {
    if (!this.#closing && this.#ready) this.#ready.pool.released();
  }

  /** Creates the backend and fills the pool in the background; a failure surfaces on the next `acquire`. */
  warm(): void {
    if (this.#closing) return;
    try {
      this.#init().pool.warm();
    } catch (error) {
      this.#options.logger.error('no TypeScript sandbox', { error });
    }
  }

  get stats(): PoolStats | undefined {
    return this.#ready?.pool.stats;
  }

  get description(): string | undefined {
    return this.#ready?.backend.description;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const ready = this.#ready;
      if (!ready) return;
      await ready.pool.close();
      await ready.backend.close();
    })();
    return this.#closing;
  }

  #init(): { backend: TypeScriptBackend; pool: WarmPool } {
    if (!this.#ready) {
      const { logger, poolSize, poolMax } = this.#options;
      // Throws RUNTIME_UNAVAILABLE naming what is missing; the next use tries again.
      const backend = new TypeScriptBackend({
        stateDir: this.#options.stateDir,
        memory: this.#options.memory,
        logger,
      });
      backend
        .reapStale()
        .catch((error) => logger.warn('reaping stale TypeScript sandboxes failed', { error }));
      const minSize = poolSize ?? Math.min(DEFAULT_POOL_SIZE, poolMax ?? Number.POSITIVE_INFINITY);
      const maxSize = Math.max(minSize, poolMax ?? DEFAULT_POOL_MAX);
      this.#ready = { backend, pool: new WarmPool(backend, { minSize, maxSize, logger }) };
    }
    return this.#ready;
  }
}
