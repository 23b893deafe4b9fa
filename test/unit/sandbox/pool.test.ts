/**
 * The warm pool's logic against a scripted backend: each `start` is a promise the test settles, so
 * how many sandboxes the pool starts, when, and who gets them is observed directly.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WarmPool } from '../../../src/sandbox/pool.js';
import type { Sandbox, SandboxBackend } from '../../../src/sandbox/types.js';
import { createLogger } from '../../../src/shared/logger.js';

class FakeSandbox implements Sandbox {
  readonly kind = 'podman' as const;
  alive = true;
  destroyed = false;
  constructor(readonly id: string) {}
  async execute(): Promise<never> {
    throw new Error('not used');
  }
  async destroy(): Promise<void> {
    this.alive = false;
    this.destroyed = true;
  }
}

/** A backend whose starts stay pending until the test finishes them, in order. */
class ScriptedBackend implements SandboxBackend {
  readonly kind = 'podman' as const;
  readonly description = 'scripted';
  readonly pending: Array<{ finish: () => FakeSandbox; fail: (error: Error) => void }> = [];
  readonly started: FakeSandbox[] = [];
  #count = 0;

  start(): Promise<FakeSandbox> {
    return new Promise((resolve, reject) => {
      const sandbox = new FakeSandbox(`s${++this.#count}`);
      this.pending.push({
        finish: () => {
          this.started.push(sandbox);
          resolve(sandbox);
          return sandbox;
        },
        fail: reject,
      });
    });
  }

  /** Finishes the oldest `n` pending starts and lets the pool react. */
  async finish(n = this.pending.length): Promise<FakeSandbox[]> {
    const done = this.pending.splice(0, n).map((start) => start.finish());
    await flush();
    return done;
  }

  async close(): Promise<void> {}
  async reapStale(): Promise<void> {}
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
const logger = createLogger('error', () => {});

function pool(options: {
  minSize: number;
  maxSize?: number;
  maxParallelStarts?: number;
  shrinkAfterMs?: number;
}) {
  const backend = new ScriptedBackend();
  return { backend, pool: new WarmPool(backend, { logger, ...options }) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('WarmPool', () => {
  it('fills to its floor when warmed: the first alone, then a bounded number at a time', async () => {
    const { backend, pool: warm } = pool({ minSize: 3, maxParallelStarts: 2 });
    warm.warm();
    expect(backend.pending).toHaveLength(1);
    await backend.finish(1);
    expect(backend.pending).toHaveLength(2);
    await backend.finish();
    expect(warm.stats).toMatchObject({ ready: 3, starting: 0, target: 3 });
  });

  it('hands out a ready sandbox at once and refills after the run is released', async () => {
    const { backend, pool: warm } = pool({ minSize: 1 });
    warm.warm();
    const [first] = await backend.finish();
    expect(await warm.acquire()).toBe(first);
    expect(backend.pending).toHaveLength(0); // nothing starts while the run answers
    warm.released();
    expect(backend.pending).toHaveLength(1);
    expect(warm.stats).toMatchObject({ hits: 1, misses: 0, inUse: 0 });
  });

  it('keeps as many ready sandboxes as a claim spares, for runs that spare none', async () => {
    const { backend, pool: warm } = pool({ minSize: 2, maxSize: 4 });
    warm.warm();
    await backend.finish(1);
    await backend.finish();
    const [first, second] = backend.started;
    expect(await warm.acquire(undefined, { spare: 1 })).toBe(first); // two ready: one may go
    const spared = warm.acquire(undefined, { spare: 1 }); // one ready: it waits for a start
    await flush();
    expect(warm.stats).toMatchObject({ ready: 1, hits: 1, misses: 1 });
    expect(await warm.acquire()).toBe(second); // a run that spares nothing takes the last one
    const [started] = await backend.finish(1);
    expect(await spared).toBe(started);
  });

  it('doubles its target on a miss, up to the ceiling, and starts for the waiting run at once', async () => {
    const { backend, pool: warm } = pool({ minSize: 1, maxSize: 4 });
    warm.warm();
    await backend.finish();
    await warm.acquire(); // hit
    const second = warm.acquire(); // miss: target 2, a start for this run
    expect(warm.stats.target).toBe(2);
    const [forSecond] = await backend.finish(1);
    expect(await second).toBe(forSecond);
    // One refill at a time while runs are in use.
    expect(backend.pending).toHaveLength(1);
    const third = warm.acquire(); // miss again: target 4 (the ceiling); it takes the refill in flight
    expect(warm.stats.target).toBe(4);
    const [refill] = await backend.finish(1);
    expect(await third).toBe(refill);
    warm.acquire().catch(() => {}); // a fourth miss cannot grow past the ceiling
    expect(warm.stats.target).toBe(4);
  });

  it('refills in parallel once no run holds a sandbox', async () => {
    const { backend, pool: warm } = pool({ minSize: 0, maxSize: 8, maxParallelStarts: 3 });
    const run = warm.acquire(); // miss: target 1
    await backend.finish();
    await run;
    warm.acquire().catch(() => {}); // miss: target 2, one start for it
    await backend.finish();
    warm.released();
    warm.released();
    // Target 2, nothing ready: both refills may start together now.
    expect(backend.pending).toHaveLength(2);
  });

  it('gives a run a sandbox already starting rather than starting another, and does not grow then', async () => {
    const { backend, pool: warm } = pool({ minSize: 2, maxSize: 8, maxParallelStarts: 2 });
    warm.warm();
    expect(backend.pending).toHaveLength(1);
    const waiting = warm.acquire();
    expect(backend.pending).toHaveLength(1);
    const [first] = await backend.finish(1);
    expect(await waiting).toBe(first);
    // A miss during the first fill is the bridge starting up, not demand: the target stays.
    expect(warm.stats).toMatchObject({ target: 2, misses: 1 });
  });

  it('grows during the first fill when more runs come than sandboxes are starting', async () => {
    const { backend, pool: warm } = pool({ minSize: 1, maxSize: 8 });
    warm.warm();
    const runs = Array.from({ length: 3 }, () => warm.acquire());
    // The first takes the one starting; the other two start their own and double the target twice.
    expect(warm.stats.target).toBe(4);
    await backend.finish(3);
    await Promise.all(runs);
  });

  it('holds refills while a program runs and the pool is above its low-water mark', async () => {
    const { backend, pool: warm } = pool({ minSize: 8, maxParallelStarts: 8 });
    warm.warm();
    await backend.finish();
    await backend.finish();
    expect(warm.stats).toMatchObject({ ready: 8, target: 8 });
    // Low water is 2 of 8: six runs take sandboxes and nothing starts beside them.
    for (let i = 0; i < 6; i++) await warm.acquire();
    warm.released(); // five still run
    await flush();
    expect(backend.pending).toHaveLength(0);
    await warm.acquire(); // one left ready: below the mark, one refill at a time
    warm.released();
    expect(backend.pending).toHaveLength(1);
  });

  it('after a reply, refills once replies pause, in parallel when no program runs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { backend, pool: warm } = pool({ minSize: 4, maxParallelStarts: 4 });
    warm.warm();
    await backend.finish();
    await backend.finish();
    await warm.acquire();
    await warm.acquire();
    warm.released();
    vi.advanceTimersByTime(10);
    warm.released(); // a burst replies again within the quiet time: the wait starts over
    vi.advanceTimersByTime(10);
    expect(backend.pending).toHaveLength(0);
    vi.advanceTimersByTime(10);
    expect(backend.pending).toHaveLength(2);
  });

  it('skips sandboxes that died while idle', async () => {
    const { backend, pool: warm } = pool({ minSize: 2, maxParallelStarts: 2 });
    warm.warm();
    const [dead] = await backend.finish();
    const [live] = await backend.finish();
    if (dead) dead.alive = false;
    expect(await warm.acquire()).toBe(live);
  });

  it('withdraws a waiting run whose signal aborts', async () => {
    const { backend, pool: warm } = pool({ minSize: 1 });
    warm.warm();
    const controller = new AbortController();
    const waiting = warm.acquire(controller.signal);
    controller.abort(new Error('cancelled'));
    await expect(waiting).rejects.toThrow('cancelled');
    const [sandbox] = await backend.finish();
    expect(warm.stats.ready).toBe(1);
    expect(sandbox?.destroyed).toBe(false);
  });

  it('shrinks back towards its floor after a quiet period, destroying surplus idle sandboxes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const { backend, pool: warm } = pool({
      minSize: 1,
      maxSize: 8,
      shrinkAfterMs: 1000,
      maxParallelStarts: 8,
    });
    warm.warm();
    await backend.finish();
    await warm.acquire();
    const miss = warm.acquire(); // target 2
    await backend.finish();
    await miss;
    warm.released();
    warm.released();
    await backend.finish();
    expect(warm.stats).toMatchObject({ ready: 2, target: 2 });
    vi.advanceTimersByTime(1000);
    expect(warm.stats).toMatchObject({ ready: 1, target: 1 });
    expect(backend.started.filter((sandbox) => sandbox.destroyed)).toHaveLength(1);
  });

  it('rejects waiting runs and destroys every sandbox when closed, also those still starting', async () => {
    const { backend, pool: warm } = pool({ minSize: 2, maxParallelStarts: 2 });
    warm.warm();
    const [ready] = await backend.finish(1);
    await warm.acquire(); // takes `ready`
    const waiting = warm.acquire(); // waits for the one still starting
    await warm.close();
    await expect(waiting).rejects.toThrow(/shutting down/);
    const [late] = await backend.finish();
    expect(late?.destroyed).toBe(true);
    expect(ready?.destroyed).toBe(false); // in use: its run destroys it
    await expect(warm.acquire()).rejects.toThrow(/shutting down/);
  });
});
