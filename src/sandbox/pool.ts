/**
 * Keeps sandboxes started ahead of demand, as many as demand has recently needed. One program per
 * sandbox: a sandbox leaves the pool when it is acquired and never comes back.
 *
 * Sizing: the pool keeps `target` sandboxes ready or starting, between `minSize` (when idle) and
 * `maxSize` (MCP_BRIDGE_POOL_MAX). An acquire that finds none ready is a miss and doubles the target,
 * so a burst grows the pool within a few runs and the next burst finds it warm; after `shrinkAfterMs`
 * without a miss the target halves back towards `minSize` and surplus idle sandboxes are removed.
 *
 * CPU: starting a sandbox costs 0.1–0.4 s of CPU (the engine's client, the OCI runtime, the
 * interpreter), which on a small machine is what a running program needs. So a run that waits for a
 * sandbox gets it started at once, but refills ahead of demand hold back: while programs run and at
 * least a quarter of the target is ready (the low-water mark) none start; below it one at a time.
 * When a run has replied (`released`) refills wait for a quiet moment (no release for `QUIET_MS`),
 * then start `maxParallelStarts` at a time if no program runs. A burst of short runs thus spends the
 * ready stock without a start beside each run, and the pool refills in the pause after it. The very
 * first sandbox starts alone: at start-up it competes with the bridge's own loading, and the first
 * run is waiting for it.
 */
import { abortableWait } from '../shared/abort.js';
import { shuttingDownError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Sandbox, SandboxBackend, SandboxClaim } from './types.js';

interface Waiter {
  resolve: (sandbox: Sandbox) => void;
  reject: (error: unknown) => void;
}

export interface WarmPoolOptions {
  /** Sandboxes kept ready when demand is low. 0 starts sandboxes only when asked for. */
  minSize: number;
  /** The most sandboxes kept ready or starting at once. Default: `minSize`. */
  maxSize?: number;
  /** Refills started at once while no program runs. Default 2. */
  maxParallelStarts?: number;
  /** How long without a miss before the pool shrinks by half towards `minSize`. Default 60 s. */
  shrinkAfterMs?: number;
  logger: Logger;
}

/** What the pool is doing, for `doctor`, logs and benchmarks. */
export interface PoolStats {
  ready: number;
  starting: number;
  target: number;
  inUse: number;
  hits: number;
  misses: number;
}

const DEFAULT_PARALLEL_STARTS = 2;
const DEFAULT_SHRINK_AFTER_MS = 60_000;
/** A pause this long after a run replied, with no other reply, counts as quiet: refills may start. */
const QUIET_MS = 20;

export class WarmPool {
  readonly #backend: SandboxBackend;
  readonly #minSize: number;
  readonly #maxSize: number;
  readonly #maxParallelStarts: number;
  readonly #shrinkAfterMs: number;
  readonly #logger: Logger;
  readonly #ready: Sandbox[] = [];
  readonly #waiters: Waiter[] = [];
  #target: number;
  #starting = 0;
  #inUse = 0;
  #hits = 0;
  #misses = 0;
  #lastMissAt = 0;
  #shrinkTimer: NodeJS.Timeout | undefined;
  #quietTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Whether the pool has held its target once: until then a miss is the first fill still under way. */
  #filled: boolean;

  constructor(backend: SandboxBackend, options: WarmPoolOptions) {
    this.#backend = backend;
    this.#minSize = options.minSize;
    this.#maxSize = Math.max(options.minSize, options.maxSize ?? options.minSize);
    this.#maxParallelStarts = Math.max(1, options.maxParallelStarts ?? DEFAULT_PARALLEL_STARTS);
    this.#shrinkAfterMs = options.shrinkAfterMs ?? DEFAULT_SHRINK_AFTER_MS;
    this.#logger = options.logger;
    this.#target = options.minSize;
    this.#filled = options.minSize === 0;
  }

  get stats(): PoolStats {
    return {
      ready: this.#ready.length,
      starting: this.#starting,
      target: this.#target,
      inUse: this.#inUse,
      hits: this.#hits,
      misses: this.#misses,
    };
  }

  /**
   * A started sandbox for one program: a warm one, one already starting, or a fresh one. With
   * `claim.spare`, that many warm ones stay for others.
   */
  async acquire(signal?: AbortSignal, claim: SandboxClaim = {}): Promise<Sandbox> {
    if (this.#closed) throw shuttingDownError();
    this.#dropDead();
    if (this.#ready.length > (claim.spare ?? 0)) {
      const sandbox = this.#ready.shift() as Sandbox;
      this.#hits++;
      this.#inUse++;
      return sandbox;
    }
    this.#misses++;
    // Before the first fill is done, a miss that can take a sandbox already starting says nothing
    // about demand (the bridge has just started): growing would only start more beside it.
    if (this.#filled || this.#starting <= this.#waiters.length) this.#grow();
    // This run waits for a sandbox: one already on its way if any is not spoken for, else a new one.
    const sandbox =
      this.#starting > this.#waiters.length
        ? await this.#waitForStarting(signal)
        : await this.#backend.start(signal);
    this.#inUse++;
    // The rest of the new target fills in the background, one at a time while this run goes on.
    this.#refill();
    return sandbox;
  }

  /**
   * A run that held a sandbox from `acquire` has replied: refill off its hot path, at once when the
   * pool is low, else once no other run has replied for `QUIET_MS` (a burst keeps replying sooner).
   */
  released(): void {
    this.#inUse = Math.max(0, this.#inUse - 1);
    clearTimeout(this.#quietTimer);
    this.#quietTimer = undefined;
    if (this.#ready.length < this.#lowWater()) {
      this.#refill();
      return;
    }
    this.#quietTimer = setTimeout(() => {
      this.#quietTimer = undefined;
      this.#refill();
    }, QUIET_MS);
    this.#quietTimer.unref();
  }

  /** Starts the pool filling (at start-up). Never throws. */
  warm(): void {
    this.#refill();
  }

  /** Destroys the ready sandboxes; sandboxes still starting are destroyed when they arrive. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#shrinkTimer);
    clearTimeout(this.#quietTimer);
    const error = shuttingDownError();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    await Promise.all(this.#ready.splice(0).map((sandbox) => sandbox.destroy()));
  }

  /** Forgets ready sandboxes that died while waiting (killed, out of memory). */
  #dropDead(): void {
    for (let index = this.#ready.length - 1; index >= 0; index--) {
      if (!this.#ready[index]?.alive) this.#ready.splice(index, 1);
    }
  }

  #grow(): void {
    this.#lastMissAt = performance.now();
    const grown = Math.min(this.#maxSize, Math.max(1, this.#target * 2, this.#minSize));
    if (grown > this.#target) {
      this.#logger.debug('warm pool grows', { from: this.#target, to: grown });
      this.#target = grown;
    }
    this.#scheduleShrink();
  }

  #scheduleShrink(): void {
    if (this.#shrinkTimer || this.#target <= this.#minSize || this.#closed) return;
    this.#shrinkTimer = setTimeout(() => {
      this.#shrinkTimer = undefined;
      const quietMs = performance.now() - this.#lastMissAt;
      if (quietMs >= this.#shrinkAfterMs) this.#shrink();
      this.#scheduleShrink();
    }, this.#shrinkAfterMs);
    this.#shrinkTimer.unref();
  }

  #shrink(): void {
    const shrunk = Math.max(this.#minSize, Math.floor(this.#target / 2));
    this.#logger.debug('warm pool shrinks', { from: this.#target, to: shrunk });
    this.#target = shrunk;
    // The oldest idle sandboxes go first; starting ones stay (they are nearly paid for).
    const surplus = this.#ready.length + this.#starting - this.#target;
    for (const sandbox of this.#ready.splice(0, Math.max(0, Math.min(surplus, this.#ready.length)))) {
      void sandbox.destroy();
    }
  }

  /** Starts sandboxes up to the target, as many at once as the CPU rule allows. Never throws. */
  #refill(): void {
    const parallel = this.#parallelStarts();
    while (
      !this.#closed &&
      this.#ready.length + this.#starting - this.#waiters.length < this.#target &&
      this.#starting < parallel + this.#waiters.length
    ) {
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
          this.#refill();
        });
    }
  }

  /** A quarter of the target, at least one: below it refills start even while programs run. */
  #lowWater(): number {
    return Math.max(1, Math.ceil(this.#target / 4));
  }

  /** How many refills ahead of demand may be starting at once now (the CPU rule above). */
  #parallelStarts(): number {
    if (this.#inUse > 0) return this.#ready.length < this.#lowWater() ? 1 : 0;
    // The first sandbox starts alone: the bridge is still loading and the first run waits for it.
    if (!this.#filled && this.#ready.length === 0) return 1;
    return this.#maxParallelStarts;
  }

  #deliver(sandbox: Sandbox): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(sandbox);
    else if (this.#closed) void sandbox.destroy();
    else {
      this.#ready.push(sandbox);
      if (this.#ready.length >= this.#target) this.#filled = true;
    }
  }

  #waitForStarting(signal?: AbortSignal): Promise<Sandbox> {
    return abortableWait(signal, (resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      this.#waiters.push(waiter);
      return () => {
        const index = this.#waiters.indexOf(waiter);
        if (index !== -1) this.#waiters.splice(index, 1);
      };
    });
  }
}
