/**
 * The sandboxes of one bridge: picks the runtime on first use (probing costs ~0.1 s, so serving
 * does not wait for it), reaps containers a dead bridge left, and keeps the warm pool.
 */
import type { Logger } from '../shared/logger.js';
import { ContainerBackend } from './container/container-backend.js';
import type { ContainerLimits } from './container/run-args.js';
import { WarmPool } from './pool.js';
import { type RuntimePreference, selectRuntime } from './select.js';
import type { Sandbox, SandboxBackend } from './types.js';

export interface SandboxServiceOptions {
  runtime: RuntimePreference;
  image: string;
  limits: ContainerLimits;
  poolSize: number;
  logger: Logger;
}

export class SandboxService {
  readonly #options: SandboxServiceOptions;
  #ready: Promise<{ backend: SandboxBackend; pool: WarmPool }> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: SandboxServiceOptions) {
    this.#options = options;
  }

  async acquire(signal?: AbortSignal): Promise<Sandbox> {
    const { pool } = await this.#init();
    return pool.acquire(signal);
  }

  /** Warms the pool in the background; failures are logged and reported by the next `acquire`. */
  replenish(): void {
    if (this.#closing) return;
    this.#init().then(
      ({ pool }) => pool.replenish(),
      () => {},
    );
  }

  /** The backend in use, once selected. */
  async backend(): Promise<SandboxBackend> {
    return (await this.#init()).backend;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
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
        const selection = await selectRuntime(this.#options.runtime);
        const backend = new ContainerBackend({
          engine: selection.engine,
          ...(selection.version ? { version: selection.version } : {}),
          image: this.#options.image,
          limits: this.#options.limits,
          logger,
        });
        logger.info('sandbox runtime selected', { runtime: backend.description });
        backend.reapStale().catch((error) => logger.warn('reaping stale sandboxes failed', { error }));
        return { backend, pool: new WarmPool(backend, { size: this.#options.poolSize, logger }) };
      })();
      // A failed selection is retried on the next use: the user may install a runtime meanwhile.
      this.#ready.catch((error) => {
        logger.error('no sandbox runtime', { error });
        this.#ready = undefined;
      });
    }
    return this.#ready;
  }
}
