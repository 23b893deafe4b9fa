/** Waiting that an `AbortSignal` can end: the one helper every wait in the bridge goes through. */
import { addAbortListener } from 'node:events';

/**
 * A promise that `start` settles, or that rejects with `signal.reason` as soon as `signal` aborts.
 * `start` returns a withdraw function, called on abort only (to leave a queue, say); the abort
 * listener is removed however the wait ends, so long-lived signals collect no listeners.
 */
export function abortableWait<T>(
  signal: AbortSignal | undefined,
  start: (resolve: (value: T) => void, reject: (reason: unknown) => void) => () => void,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let withdraw = () => {};
    // Registered before `start`, which may settle at once: the listener must go either way.
    const listener = signal
      ? addAbortListener(signal, () => {
          if (settled) return;
          settled = true;
          withdraw();
          reject(signal.reason);
        })
      : undefined;
    const settle =
      <A>(finish: (value: A) => void) =>
      (value: A) => {
        if (settled) return;
        settled = true;
        listener?.[Symbol.dispose]();
        finish(value);
      };
    withdraw = start(settle(resolve), settle(reject));
  });
}

/** Waits for `promise`, or rejects as soon as `signal` aborts (the work itself goes on). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  return abortableWait(signal, (resolve, reject) => {
    promise.then(resolve, reject);
    return () => {};
  });
}
