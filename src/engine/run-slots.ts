/**
 * Bounds how many programs run at once, in all and per principal. Each run holds a sandbox (a
 * container with its memory limit, or a ~200 MB worker), so an agent firing dozens of calls queues
 * here instead of exhausting the host.
 *
 * Fair: each principal waits in its own queue, and a freed slot goes to the waiting principal with
 * the fewest runs going (the one waiting longest among equals), never to one at its own limit. So a
 * principal flooding the bridge delays another's next run by at most the time one of its runs takes
 * to end, however long its own queue is.
 */
import { abortableWait } from '../shared/abort.js';

export interface RunSlotsOptions {
  /** Programs at once, in all. */
  limit: number;
  /** Programs at once of one principal. Default: `limit`. */
  perPrincipal?: number;
}

interface Waiter {
  principal: string;
  /** When it began waiting (a counter: ties between principals go to the longest waiting). */
  since: number;
  grant(): void;
}

export class RunSlots {
  readonly #limit: number;
  readonly #perPrincipal: number;
  #active = 0;
  readonly #activeBy = new Map<string, number>();
  /** Waiters by principal, each queue in order of arrival. */
  readonly #waiting = new Map<string, Waiter[]>();
  #arrivals = 0;

  constructor(options: RunSlotsOptions | number) {
    const { limit, perPrincipal } = typeof options === 'number' ? { limit: options } : options;
    this.#limit = limit;
    this.#perPrincipal = Math.min(perPrincipal ?? limit, limit);
  }

  /** Runs going now, in all or of one principal. */
  active(principal?: string): number {
    return principal === undefined ? this.#active : (this.#activeBy.get(principal) ?? 0);
  }

  /** Runs waiting for a slot, in all or of one principal. */
  waiting(principal?: string): number {
    if (principal !== undefined) return this.#waiting.get(principal)?.length ?? 0;
    let count = 0;
    for (const queue of this.#waiting.values()) count += queue.length;
    return count;
  }

  /**
   * Waits for a free slot for `principal`; rejects with the signal's reason if it aborts first.
   * Returns the release (idempotent).
   */
  async acquire(signal: AbortSignal, principal = ''): Promise<() => void> {
    if (signal.aborted) throw signal.reason;
    const queue = this.#waiting.get(principal);
    if (this.#fits(principal) && !queue?.length) {
      this.#take(principal);
    } else {
      await abortableWait<void>(signal, (resolve) => {
        const waiter: Waiter = { principal, since: ++this.#arrivals, grant: () => resolve() };
        const own = this.#waiting.get(principal) ?? [];
        own.push(waiter);
        this.#waiting.set(principal, own);
        return () => {
          const index = own.indexOf(waiter);
          if (index >= 0) own.splice(index, 1);
          if (own.length === 0 && this.#waiting.get(principal) === own) this.#waiting.delete(principal);
        };
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      const left = (this.#activeBy.get(principal) ?? 1) - 1;
      if (left > 0) this.#activeBy.set(principal, left);
      else this.#activeBy.delete(principal);
      this.#grantNext();
    };
  }

  #fits(principal: string): boolean {
    return this.#active < this.#limit && (this.#activeBy.get(principal) ?? 0) < this.#perPrincipal;
  }

  #take(principal: string): void {
    this.#active++;
    this.#activeBy.set(principal, (this.#activeBy.get(principal) ?? 0) + 1);
  }

  /** Gives free slots to waiting principals: fewest runs going first, then the longest waiting. */
  #grantNext(): void {
    while (this.#active < this.#limit) {
      let chosen: Waiter[] | undefined;
      let chosenActive = Number.POSITIVE_INFINITY;
      for (const [principal, queue] of this.#waiting) {
        const head = queue[0];
        const active = this.#activeBy.get(principal) ?? 0;
        if (!head || active >= this.#perPrincipal) continue;
        if (active < chosenActive || (active === chosenActive && head.since < (chosen?.[0]?.since ?? 0))) {
          chosen = queue;
          chosenActive = active;
        }
      }
      const waiter = chosen?.shift();
      if (!waiter) return;
      if (chosen?.length === 0) this.#waiting.delete(waiter.principal);
      this.#take(waiter.principal);
      waiter.grant();
    }
  }
}
