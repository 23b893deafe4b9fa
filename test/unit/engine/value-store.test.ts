/**
 * The saved-value store: slices, caps and owners, and that every byte a run makes it hold counts
 * against the total (values with their overhead, uploads still arriving) and is freed when the run ends.
 */
import { describe, expect, it } from 'vitest';
import { valueOperations } from '../../../src/engine/host-operations/values.js';
import type { CallContext } from '../../../src/engine/types.js';
import { VALUE_OVERHEAD_BYTES as KiB, ValueStore } from '../../../src/engine/value-store.js';
import type { ReplyChannel } from '../../../src/sandbox/types.js';
import { hostCaller } from '../../helpers/host-operations.js';

const context = (owner: string, runId = 'r'): CallContext => ({ runId, owner });

describe('ValueStore', () => {
  it('assembles slices, replaces a name, keeps owners apart, and pages a load', async () => {
    const ops = hostCaller(valueOperations(new ValueStore({ maxValueBytes: 100, maxTotalBytes: 150 + KiB })));
    const a = context('a');
    const data = Buffer.from('hello world');
    await ops(
      'save_value',
      { name: 'v', part: 0, parts: 2, size: 11, data: data.subarray(0, 5).toString('base64') },
      a,
    );
    const saved = await ops(
      'save_value',
      { name: 'v', part: 1, parts: 2, size: 11, data: data.subarray(5).toString('base64') },
      a,
    );
    expect(saved).toEqual({ name: 'v', bytes: 11 });
    const loaded = (await ops('load_value', { name: 'v' }, a)) as { size: number; data: string };
    expect(Buffer.from(loaded.data, 'base64').toString()).toBe('hello world');
    await expect(ops('load_value', { name: 'v' }, context('b'))).rejects.toThrow(/nothing is saved/);
    expect(await ops('list_values', {}, a)).toMatchObject([{ name: 'v', bytes: 11 }]);
    expect(await ops('delete_value', { name: 'v' }, a)).toBe(true);
  });

  it("forgets a connection's values when it goes, freeing their room", async () => {
    const store = new ValueStore({ maxValueBytes: 100, maxTotalBytes: 100 + KiB });
    const ops = hostCaller(valueOperations(store));
    const put = (owner: string) =>
      ops(
        'save_value',
        { name: 'v', part: 0, parts: 1, size: 80, data: Buffer.alloc(80).toString('base64') },
        context(owner),
      );
    await put('a');
    await expect(put('b')).rejects.toThrow(/together/);
    store.dropOwner('a');
    await put('b');
    expect(await ops('list_values', {}, context('a'))).toEqual([]);
    expect(store.heldBytes).toBe(80 + KiB);
  });

  it('refuses values over the caps, slices out of order, and bytes past the declared size', async () => {
    const store = new ValueStore({ maxValueBytes: 100, maxTotalBytes: 150 + 2 * KiB });
    const ops = hostCaller(valueOperations(store));
    const a = context('a');
    const put = (name: string, size: number, part = 0, parts = 1, bytes = parts === 1 ? size : 10) =>
      ops('save_value', { name, part, parts, size, data: Buffer.alloc(bytes).toString('base64') }, a);
    await expect(put('big', 101)).rejects.toThrow(/at most 0\.0 MiB/);
    await put('one', 100);
    await expect(put('two', 60)).rejects.toThrow(/more than .* together/);
    await put('two', 40);
    // A replacement counts beside the value it replaces until it is complete.
    await expect(put('one', 90)).rejects.toThrow(/counts until its replacement is complete/);
    await ops('delete_value', { name: 'two' }, a);
    await put('one', 40);
    expect(store.heldBytes).toBe(40 + KiB);
    await expect(put('x', 20, 1, 2)).rejects.toThrow(/out of order/);
    await expect(put('x', 20, 0, 1, 21)).rejects.toThrow(/exceeds the declared size/);
    await expect(
      ops('save_value', { name: 'x', part: 0, parts: 1, size: 3, data: '!!!!' }, a),
    ).rejects.toThrow(/not base64/);
    expect(store.heldBytes).toBe(40 + KiB);
  });

  it("reserves a value's declared size at its first slice, and frees it when the run ends", async () => {
    const store = new ValueStore({ maxValueBytes: 100, maxTotalBytes: 150 + 2 * KiB });
    const ops = hostCaller(valueOperations(store));
    const start = (name: string, runId: string, size = 100) =>
      ops(
        'save_value',
        { name, part: 0, parts: 2, size, data: Buffer.alloc(10).toString('base64') },
        context('a', runId),
      );
    expect(await start('first', 'r1')).toEqual({ name: 'first', received: 10 });
    expect(store.heldBytes).toBe(100 + KiB);
    // An upload that would not fit beside the first is refused before any of its bytes are kept.
    await expect(start('second', 'r2')).rejects.toThrow(/with those being saved now/);
    // Starting a name again gives its first reservation back.
    await start('first', 'r1', 50);
    expect(store.heldBytes).toBe(50 + KiB);
    await start('second', 'r2', 100);
    store.releaseRun('r1');
    store.releaseRun('r2');
    expect(store.heldBytes).toBe(0);
    await expect(
      ops(
        'save_value',
        { name: 'first', part: 1, parts: 2, size: 50, data: Buffer.alloc(40).toString('base64') },
        context('a', 'r1'),
      ),
    ).rejects.toThrow(/out of order/);
  });

  it('charges each value a fixed overhead, so tiny values cannot pile up past the total', async () => {
    const store = new ValueStore({ maxValueBytes: 100, maxTotalBytes: 10 * KiB });
    const ops = hostCaller(valueOperations(store));
    const outcomes = [];
    for (let i = 0; i < 12; i++) {
      outcomes.push(
        await ops('save_value', { name: `v${i}`, part: 0, parts: 1, size: 0, data: '' }, context('a')).then(
          () => 'saved',
          (error: Error) => error.message.replace(/^.*would take/, 'would take').slice(0, 30),
        ),
      );
    }
    expect(outcomes).toEqual([
      ...Array(10).fill('saved'),
      ...Array(2).fill('would take more than 0.0 MiB t'),
    ]);
  });

  it('lets a run save a bounded number of values at once', async () => {
    const store = new ValueStore({ maxValueBytes: 100, maxTotalBytes: 100 * KiB });
    const ops = hostCaller(valueOperations(store));
    const start = (name: string) =>
      ops(
        'save_value',
        { name, part: 0, parts: 2, size: 2, data: Buffer.alloc(1).toString('base64') },
        context('a'),
      );
    for (let i = 0; i < 16; i++) await start(`v${i}`);
    await expect(start('v16')).rejects.toThrow(/at most 16 values at once/);
    store.releaseRun('r');
    await start('v16');
  });

  it("makes a run's next page only after the caller of the last one has had its turn", async () => {
    const store = new ValueStore({ maxValueBytes: 100, maxTotalBytes: 100 * KiB });
    const ops = hostCaller(valueOperations(store));
    const load = (args: Record<string, unknown>, run: CallContext, replies?: ReplyChannel) =>
      ops('load_value', args, run, replies);
    const a = context('a');
    await ops(
      'save_value',
      { name: 'v', part: 0, parts: 1, size: 3, data: Buffer.from('abc').toString('base64') },
      a,
    );
    // Three loads at once; the first caller deletes the value in the turn its page arrives (where the
    // sandbox's reply is written): the other two pages must not have been made before that.
    const pages = await Promise.all(
      [0, 1, 2].map((offset) =>
        (load({ name: 'v', offset }, a) as Promise<{ data: string }>).then(
          (page) => {
            if (offset === 0) void ops('delete_value', { name: 'v' }, a);
            return Buffer.from(page.data, 'base64').toString();
          },
          (error: Error) => error.message.slice(0, 30),
        ),
      ),
    );
    expect(pages).toEqual(['abc', 'load("v"): nothing is saved un', 'load("v"): nothing is saved un']);
    store.releaseRun('r');
  });

  it('makes no page while the program has not read the ones before it', async () => {
    const store = new ValueStore({ maxValueBytes: 100, maxTotalBytes: 100 * KiB });
    const ops = hostCaller(valueOperations(store));
    const load = (args: Record<string, unknown>, run: CallContext, replies?: ReplyChannel) =>
      ops('load_value', args, run, replies);
    const a = context('a');
    await ops(
      'save_value',
      { name: 'v', part: 0, parts: 1, size: 3, data: Buffer.from('abc').toString('base64') },
      a,
    );
    let read: () => void = () => {};
    let behind = true;
    const replies = {
      drained: () => (behind ? new Promise<void>((resolve) => (read = resolve)) : Promise.resolve()),
    };
    let made = 0;
    const page = load({ name: 'v' }, a, replies).then(() => made++);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(made).toBe(0);
    behind = false;
    read();
    await page;
    expect(made).toBe(1);
    store.releaseRun('r');
  });
});
