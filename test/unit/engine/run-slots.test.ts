import { describe, expect, it } from 'vitest';
import { RunSlots } from '../../../src/engine/run-slots.js';

const never = new AbortController().signal;

describe('RunSlots', () => {
  it('admits up to the limit and hands a released slot to the next waiter in order', async () => {
    const slots = new RunSlots(2);
    const first = await slots.acquire(never);
    await slots.acquire(never);
    const order: string[] = [];
    const third = slots.acquire(never).then((release) => {
      order.push('third');
      return release;
    });
    const fourth = slots.acquire(never).then(() => order.push('fourth'));
    await Promise.resolve();
    expect(order).toEqual([]);
    first();
    first(); // releasing twice frees one slot only
    (await third)();
    await fourth;
    expect(order).toEqual(['third', 'fourth']);
  });

  it('gives up waiting when the signal aborts, without losing the slot', async () => {
    const slots = new RunSlots(1);
    const held = await slots.acquire(never);
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    controller.abort(new Error('timed out'));
    await expect(waiting).rejects.toThrow('timed out');
    held();
    const again = await slots.acquire(never);
    expect(typeof again).toBe('function');
  });

  it('refuses at once when the signal has already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(new RunSlots(1).acquire(controller.signal)).rejects.toThrow('cancelled');
  });

  it("gives a freed slot to the principal with the fewest runs going, not to the flood's queue", async () => {
    const slots = new RunSlots({ limit: 2 });
    const flood = [await slots.acquire(never, 'a'), await slots.acquire(never, 'a')];
    const order: string[] = [];
    const queued = (principal: string, label: string) =>
      slots.acquire(never, principal).then((release) => {
        order.push(label);
        return release;
      });
    const floodMore = [queued('a', 'a3'), queued('a', 'a4'), queued('a', 'a5')];
    const b = queued('b', 'b1');
    await Promise.resolve();
    expect(slots.waiting('a')).toBe(3);
    // One of a's runs ends: b, with none going, gets the slot before a's earlier arrivals.
    flood[0]?.();
    await b;
    expect(order).toEqual(['b1']);
    flood[1]?.();
    (await b)();
    await floodMore[0];
    await floodMore[1];
    expect(order).toEqual(['b1', 'a3', 'a4']);
    (await floodMore[0])?.();
    await floodMore[2];
    expect(order).toEqual(['b1', 'a3', 'a4', 'a5']);
  });

  it('holds a principal at its own limit while others use the rest', async () => {
    const slots = new RunSlots({ limit: 3, perPrincipal: 2 });
    await slots.acquire(never, 'a');
    const second = await slots.acquire(never, 'a');
    let third = false;
    const pending = slots.acquire(never, 'a').then((release) => {
      third = true;
      return release;
    });
    await slots.acquire(never, 'b');
    await Promise.resolve();
    expect(third).toBe(false);
    expect([slots.active(), slots.active('a'), slots.active('b')]).toEqual([3, 2, 1]);
    second();
    await pending;
    expect(third).toBe(true);
    expect(slots.active('a')).toBe(2);
  });

  it('among principals with as many runs going, serves the one waiting longest', async () => {
    const slots = new RunSlots({ limit: 1 });
    const held = await slots.acquire(never, 'x');
    const order: string[] = [];
    const c = slots.acquire(never, 'c').then((release) => {
      order.push('c');
      release();
    });
    const b = slots.acquire(never, 'b').then((release) => {
      order.push('b');
      release();
    });
    held();
    await Promise.all([b, c]);
    expect(order).toEqual(['c', 'b']);
  });
});
