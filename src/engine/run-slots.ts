/**
 * Bounds how many programs run at once. Each run holds a sandbox (a container with its memory limit,
 * or a ~200 MB worker), so an agent firing dozens of calls queues here instead of exhausting the host.
 */
import { abortableWait } from '../shared/abort.js';

export class RunSlots {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Waits for a free slot; rejects with the signal's reason if it aborts first. Returns the release. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) throw signal.reason;
    if (this.#active >= this.#limit) {
      await abortableWait<void>(signal, (resolve) => {
        const grant = () => resolve();
        this.#waiting.push(grant);
        return () => this.#waiting.splice(this.#waiting.indexOf(grant), 1);
      });
    } else {
      this.#active++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter, so `#active` only drops when nobody waits.
      if (next) next();
      else this.#active--;
    };
  }
}
