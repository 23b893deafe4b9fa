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
});
