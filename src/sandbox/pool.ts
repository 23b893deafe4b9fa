/**
 * Keeps sandboxes started ahead of demand. One program per sandbox: a sandbox leaves the pool when
 * it is acquired and never comes back. Refills are requested by the caller *after* it has replied,
 * so starting the next sandbox does not compete with the run that is answering (measured: it does).
 */
import { BridgeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Sandbox, SandboxBackend } from './types.js';

interface Waiter {
  resolve: (sandbox: Sandbox) => void;
  reject: (error: unknown) => void;
}

export interface WarmPoolOptions {
  /** How many started sandboxes to keep ready. 0 disables warming. */
  size: number;
  logger: Logger;
}

export class WarmPool {
  readonly #backend: SandboxBackend;
  readonly #size: number;
  readonly #logger: Logger;
  readonly #ready: Sandbox[] = [];
  readonly #waiters: Waiter[] = [];
  #starting = 0;
  #closed = false;

  constructor(backend: SandboxBackend, options: WarmPoolOptions) {
    this.#backend = backend;
    this.#size = options.size;
    this.#logger = options.logger;
  }

  get readyCount(): number {
    return this.#ready.length;
  }

  /** A started sandbox for one program: a warm one, one already starting, or a fresh one. */
  async acquire(signal?: AbortSignal): Promise<Sandbox> {
    if (this.#closed) throw new BridgeError('SHUTTING_DOWN', 'the bridge is shutting down');
    for (let sandbox = this.#ready.shift(); sandbox; sandbox = this.#ready.shift()) {
      if (sandbox.alive) return sandbox;
    }
    if (this.#starting > this.#waiters.length) return this.#waitForStarting(signal);
    return this.#backend.start(signal);
  }

  /** Starts sandboxes in the background until `size` are ready or on their way. Never throws. */
  replenish(): void {
    while (!this.#closed && this.#ready.length + this.#starting - this.#waiters.length < this.#size) {
      this.#starting++;
      this.#backend
        .start()
        .then(
          (sandbox) => this.#deliver(sandbox),
          (error) => {
            // Sandboxes still starting when the bridge closes are killed: that is no failure.
            if (!this.#closed) this.#logger.warn('could not pre-start a sandbox', { error });
            this.#waiters.shift()?.reject(error);
          },
        )
        .finally(() => {
          this.#starting--;
        });
    }
  }

  /** Destroys the ready sandboxes; sandboxes still starting are destroyed when they arrive. */
  async close(): Promise<void> {
    this.#closed = true;
    const error = new BridgeError('SHUTTING_DOWN', 'the bridge is shutting down');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    await Promise.all(this.#ready.splice(0).map((sandbox) => sandbox.destroy()));
  }

  #deliver(sandbox: Sandbox): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(sandbox);
    else if (this.#closed) void sandbox.destroy();
    else this.#ready.push(sandbox);
  }

  #waitForStarting(signal?: AbortSignal): Promise<Sandbox> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (sandbox) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(sandbox);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}
