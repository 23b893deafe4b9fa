/**
 * Which program may take a full-Python sandbox now: the one place that caps a principal's sandboxes
 * when others share the bridge (docs/team.md, "Fair shares"). Run slots share programs, and CPU
 * weights share cores once they are taken, but neither keeps a core or a warm sandbox free: on two
 * cores a principal's four CPU-bound programs left another's `print(1)` waiting for a sandbox to
 * start beside them (6× its solo time with weights, 95× without).
 *
 * So while more than one principal is active (has a run in flight, or had one within
 * `ACTIVE_WINDOW_MS`), each may run at most its share of the cores in full-Python sandboxes at once
 * (`sandboxShare`: at least one). Its runs beyond that wait here, each principal in its own queue in
 * order of arrival; a freed place goes to the waiting principal with the fewest sandboxes running
 * (the one waiting longest among equals). And an admitted run leaves one warm sandbox in the pool for
 * each other active principal running none, whose next run would otherwise wait for a start. A
 * principal alone has the whole bridge. The Monty tier is not admitted here: a run there costs
 * milliseconds of CPU and takes no sandbox from the pool.
 */
import type { SandboxClaim } from '../sandbox/types.js';
import { abortableWait } from '../shared/abort.js';

/**
 * How long a principal counts as active after its last run ended. An agent's runs come seconds apart
 * (the model thinks in between); a principal that paused that long should still find a free core and a
 * warm sandbox on its next run, and one gone longer gives the others the whole bridge back.
 */
export const ACTIVE_WINDOW_MS = 30_000;

/** The most full-Python sandboxes one principal runs at once while `active` principals share `cores`. */
export function sandboxShare(cores: number, active: number): number {
  if (active <= 1) return Number.POSITIVE_INFINITY;
  return Math.max(1, Math.floor(cores / active));
}

export interface SandboxAdmissionOptions {
  /** The cores sandboxes share (`os.availableParallelism()`). */
  cores: number;
  /** How long a principal stays active after its last run. Default `ACTIVE_WINDOW_MS`. */
  activeWindowMs?: number;
  /** The clock, in milliseconds. Default `performance.now`. */
  now?: () => number;
}

/** A run's place in a full-Python sandbox, from admission until its program ended. */
export interface SandboxTicket {
  /** How it takes a warm sandbox from the pool (undefined: any, as a principal alone). */
  readonly claim: SandboxClaim | undefined;
  /** The program has ended: its place goes to the next waiting run (idempotent). */
  release(): void;
}

interface Waiter {
  principal: string;
  /** Order of arrival (ties between principals go to the longest waiting). */
  since: number;
  admit(): void;
}

export class SandboxAdmission {
  readonly #cores: number;
  readonly #activeWindowMs: number;
  readonly #now: () => number;
  /** Runs in flight of each principal, of any kind (they make it active). */
  readonly #inFlight = new Map<string, number>();
  /** When each principal's last run ended (it stays active `activeWindowMs` longer). */
  readonly #lastEnded = new Map<string, number>();
  /** Full-Python sandboxes admitted and not yet released, by principal. */
  readonly #running = new Map<string, number>();
  /** Runs waiting for admission, by principal, each queue in order of arrival. */
  readonly #waiting = new Map<string, Waiter[]>();
  #arrivals = 0;
  /** Admits again when a principal's activity lapses and the share grows (only while runs wait). */
  #lapse: NodeJS.Timeout | undefined;

  constructor(options: SandboxAdmissionOptions) {
    this.#cores = Math.max(1, options.cores);
    this.#activeWindowMs = options.activeWindowMs ?? ACTIVE_WINDOW_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * A run of `principal` is in flight (whatever runs it): it counts as active from now until
   * `activeWindowMs` after the returned call (idempotent).
   */
  enterRun(principal: string): () => void {
    this.#inFlight.set(principal, (this.#inFlight.get(principal) ?? 0) + 1);
    this.#lastEnded.delete(principal);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      const inFlight = (this.#inFlight.get(principal) ?? 1) - 1;
      if (inFlight > 0) this.#inFlight.set(principal, inFlight);
      else {
        this.#inFlight.delete(principal);
        this.#lastEnded.set(principal, this.#now());
      }
      this.#admitWaiting();
    };
  }

  /** The most sandboxes each principal may run at once now (Infinity while one is active). */
  share(): number {
    return sandboxShare(this.#cores, this.#activePrincipals().size);
  }

  /** Sandboxes running, in all or of one principal. */
  running(principal?: string): number {
    if (principal !== undefined) return this.#running.get(principal) ?? 0;
    let count = 0;
    for (const running of this.#running.values()) count += running;
    return count;
  }

  /** Runs waiting for admission, in all or of one principal. */
  waiting(principal?: string): number {
    if (principal !== undefined) return this.#waiting.get(principal)?.length ?? 0;
    let count = 0;
    for (const queue of this.#waiting.values()) count += queue.length;
    return count;
  }

  /**
   * Waits until `principal` may run one more full-Python sandbox (at once when it is within its
   * share and none of its runs waits before this one); rejects with the signal's reason if it
   * aborts first, leaving nothing behind.
   */
  async admit(principal: string, signal?: AbortSignal): Promise<SandboxTicket> {
    if (signal?.aborted) throw signal.reason;
    if (!this.#waiting.has(principal) && this.running(principal) < this.share()) {
      this.#take(principal);
    } else {
      await abortableWait<void>(signal, (resolve) => {
        const waiter: Waiter = { principal, since: ++this.#arrivals, admit: () => resolve() };
        const own = this.#waiting.get(principal) ?? [];
        own.push(waiter);
        this.#waiting.set(principal, own);
        this.#watchLapse();
        return () => {
          const index = own.indexOf(waiter);
          if (index >= 0) own.splice(index, 1);
          if (own.length === 0 && this.#waiting.get(principal) === own) this.#waiting.delete(principal);
        };
      });
    }
    const claim = this.#claimFor(principal);
    let released = false;
    return {
      claim,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#running.get(principal) ?? 1) - 1;
        if (left > 0) this.#running.set(principal, left);
        else this.#running.delete(principal);
        this.#admitWaiting();
      },
    };
  }

  /** Leave a warm sandbox to each other active principal running none: its next run takes it. */
  #claimFor(principal: string): SandboxClaim | undefined {
    let spare = 0;
    for (const other of this.#activePrincipals()) {
      if (other !== principal && this.running(other) === 0) spare++;
    }
    return spare > 0 ? { spare } : undefined;
  }

  #take(principal: string): void {
    this.#running.set(principal, this.running(principal) + 1);
  }

  /** Principals with a run in flight or waiting, or whose last run ended within the window. */
  #activePrincipals(): Set<string> {
    const active = new Set<string>(this.#inFlight.keys());
    for (const principal of this.#waiting.keys()) active.add(principal);
    const now = this.#now();
    for (const [principal, ended] of this.#lastEnded) {
      if (now - ended < this.#activeWindowMs) active.add(principal);
      else this.#lastEnded.delete(principal);
    }
    return active;
  }

  /** Admits waiting runs while places are free: fewest running first, then the longest waiting. */
  #admitWaiting(): void {
    const share = this.share();
    for (;;) {
      let chosen: Waiter[] | undefined;
      let chosenRunning = Number.POSITIVE_INFINITY;
      for (const [principal, queue] of this.#waiting) {
        const head = queue[0];
        const running = this.running(principal);
        if (!head || running >= share) continue;
        if (
          running < chosenRunning ||
          (running === chosenRunning && head.since < (chosen?.[0]?.since ?? 0))
        ) {
          chosen = queue;
          chosenRunning = running;
        }
      }
      const waiter = chosen?.shift();
      if (!waiter) break;
      if (chosen?.length === 0) this.#waiting.delete(waiter.principal);
      this.#take(waiter.principal);
      waiter.admit();
    }
    this.#watchLapse();
  }

  /**
   * While runs wait, admits again when the next principal active only by its window lapses: the
   * share grows then, and nothing else would wake the waiters (their own runs may last minutes).
   */
  #watchLapse(): void {
    clearTimeout(this.#lapse);
    this.#lapse = undefined;
    if (this.#waiting.size === 0) return;
    let next = Number.POSITIVE_INFINITY;
    for (const ended of this.#lastEnded.values()) next = Math.min(next, ended + this.#activeWindowMs);
    if (next === Number.POSITIVE_INFINITY) return;
    this.#lapse = setTimeout(
      () => {
        this.#lapse = undefined;
        this.#admitWaiting();
      },
      Math.max(0, next - this.#now()) + 1,
    );
    this.#lapse.unref();
  }
}
