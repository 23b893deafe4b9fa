import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { abortable, abortableWait } from '../../../src/shared/abort.js';

const nothingToWithdraw = () => {};
const resolvesWith =
  <T>(value: T) =>
  (resolve: (value: T) => void) => {
    resolve(value);
    return nothingToWithdraw;
  };

describe('abortableWait', () => {
  it('settles as its starter says, and leaves no listener behind', async () => {
    const controller = new AbortController();
    await expect(abortableWait(controller.signal, resolvesWith(7))).resolves.toBe(7);
    await expect(
      abortableWait(controller.signal, (_resolve, reject) => {
        reject(new Error('no'));
        return nothingToWithdraw;
      }),
    ).rejects.toThrow('no');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('rejects with the reason and withdraws when the signal aborts first', async () => {
    const controller = new AbortController();
    let withdrawn = false;
    const waiting = abortableWait(controller.signal, () => () => {
      withdrawn = true;
    });
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(withdrawn).toBe(true);
  });

  it('rejects at once, without starting, on an aborted signal', async () => {
    let started = false;
    const waiting = abortableWait(AbortSignal.abort(new Error('already')), () => {
      started = true;
      return () => {};
    });
    await expect(waiting).rejects.toThrow('already');
    expect(started).toBe(false);
  });

  it('waits without a signal', async () => {
    await expect(abortableWait(undefined, resolvesWith('x'))).resolves.toBe('x');
  });
});

describe('abortable', () => {
  it('passes the promise through, or the abort', async () => {
    await expect(abortable(Promise.resolve(1), new AbortController().signal)).resolves.toBe(1);
    const controller = new AbortController();
    const never = abortable(new Promise(() => {}), controller.signal);
    controller.abort(new Error('gone'));
    await expect(never).rejects.toThrow('gone');
  });
});
