/**
 * Fair CPU between principals (docs/team.md, "Fair shares"). Run slots share programs, not cores: on
 * two cores a principal's four CPU-bound programs left another's one short program a fifth of the CPU.
 * So each principal's running full-Python sandboxes share one sandbox's default CPU weight: with n
 * running, each weighs 1/n of it. The kernel then splits contended CPU equally between principals
 * (and gives a lone principal every idle core: weights only matter when CPU is short). How a weight
 * is applied is the sandbox's business (sandbox/cpu-weight.ts: a cgroup's weight, else niceness).
 */
import { DEFAULT_CPU_WEIGHT } from '../sandbox/cpu-weight.js';
import type { Sandbox } from '../sandbox/types.js';

/** The weight of each of a principal's sandboxes when it has `running` of them (cgroup v2 units). */
export function sandboxCpuWeight(running: number, base = DEFAULT_CPU_WEIGHT): number {
  return Math.max(1, Math.floor(base / Math.max(1, running)));
}

type Weighted = Pick<Sandbox, 'setCpuWeight'>;

/**
 * The full-Python sandboxes running programs now, by principal, with their weights kept in force.
 * A weight is written only when it changes: every sandbox starts at the default, so a principal
 * running one program at a time (anyone alone on the bridge, and most users of a team's) costs no
 * write at all, nor does its sandbox's cgroup have to be found (with a write and a lookup on every
 * run, a solo podman `print(1)` read 61 ms at p50 against 7.8 ms without weights, in the same run).
 */
export class CpuShares {
  readonly #running = new Map<string, Set<Weighted>>();
  /** The weight each sandbox was last given; absent: the default it started with. */
  readonly #weights = new WeakMap<Weighted, number>();

  /**
   * `sandbox` runs a program of `principal` from now: its weight, and its principal's other
   * sandboxes', follow. Returns the call that says it stopped (idempotent).
   */
  enter(principal: string, sandbox: Weighted): () => void {
    const own = this.#running.get(principal) ?? new Set<Weighted>();
    this.#running.set(principal, own);
    own.add(sandbox);
    this.#apply(own);
    let left = false;
    return () => {
      if (left) return;
      left = true;
      own.delete(sandbox);
      // A kept sandbox (a session's) waits for its next program at the default weight.
      this.#set(sandbox, DEFAULT_CPU_WEIGHT);
      if (own.size === 0) {
        if (this.#running.get(principal) === own) this.#running.delete(principal);
      } else this.#apply(own);
    };
  }

  /** How many sandboxes `principal` runs programs in now. */
  running(principal: string): number {
    return this.#running.get(principal)?.size ?? 0;
  }

  #apply(own: Set<Weighted>): void {
    const weight = sandboxCpuWeight(own.size);
    for (const sandbox of own) this.#set(sandbox, weight);
  }

  #set(sandbox: Weighted, weight: number): void {
    if ((this.#weights.get(sandbox) ?? DEFAULT_CPU_WEIGHT) === weight) return;
    this.#weights.set(sandbox, weight);
    sandbox.setCpuWeight?.(weight);
  }
}
