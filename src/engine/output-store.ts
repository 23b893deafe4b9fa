/**
 * Output a run printed beyond the cap, kept on the host so the program's caller can page through it
 * (`mcp.runtime.read_output(handle, offset, length)`) instead of losing the middle. Bounded: each
 * run keeps at most `maxChars` of a stream, one owner's handles together `maxOwnerChars` and all
 * handles `maxTotalChars` (the owner's own oldest go first; past the total, the oldest of the owner
 * holding the most, so one principal's floods cannot push out everyone else's), and a handle expires
 * `ttlMs` after its run. Handles belong to an owner (a principal): another cannot read them.
 */
import { HostCallError } from '../sandbox/types.js';

export interface OutputStoreOptions {
  maxChars: number;
  maxTotalChars: number;
  /** All handles of one owner together. Default: `maxTotalChars`. */
  maxOwnerChars?: number;
  ttlMs: number;
}

interface Kept {
  owner: string;
  text: string;
  /** Characters the run printed; more than `text` holds when it printed past `maxChars`. */
  totalChars: number;
  expiresAt: number;
}

export class OutputStore {
  readonly #options: OutputStoreOptions;
  readonly #kept = new Map<string, Kept>();
  readonly #byOwner = new Map<string, number>();
  #total = 0;
  #next = 0;

  constructor(options: OutputStoreOptions) {
    this.#options = options;
  }

  get maxChars(): number {
    return this.#options.maxChars;
  }

  /** Keeps `text` (the first `maxChars` of what was printed) and returns its handle. */
  keep(owner: string, text: string, totalChars: number): string {
    this.#expire();
    const handle = `out-${++this.#next}`;
    this.#kept.set(handle, { owner, text, totalChars, expiresAt: Date.now() + this.#options.ttlMs });
    this.#count(owner, text.length);
    const ownerCap = this.#options.maxOwnerChars ?? this.#options.maxTotalChars;
    while ((this.#byOwner.get(owner) ?? 0) > ownerCap && this.#evictOldest(owner, handle)) {}
    while (
      this.#total > this.#options.maxTotalChars &&
      (this.#evictOldest(this.#biggestOwner(), handle) || this.#evictOldest(null, handle))
    ) {}
    return handle;
  }

  /** Forgets every handle of an owner that has gone. */
  dropOwner(owner: string): void {
    for (const [handle, kept] of this.#kept) if (kept.owner === owner) this.#forget(handle, kept);
  }

  #count(owner: string, chars: number): void {
    this.#total += chars;
    const left = (this.#byOwner.get(owner) ?? 0) + chars;
    if (left > 0) this.#byOwner.set(owner, left);
    else this.#byOwner.delete(owner);
  }

  #forget(handle: string, kept: Kept): void {
    this.#kept.delete(handle);
    this.#count(kept.owner, -kept.text.length);
  }

  /** Drops the oldest handle of `owner` (null: anyone's) other than `keep`; whether there was one. */
  #evictOldest(owner: string | null | undefined, keep: string): boolean {
    for (const [handle, kept] of this.#kept) {
      if ((owner !== null && kept.owner !== owner) || handle === keep) continue;
      this.#forget(handle, kept);
      return true;
    }
    return false;
  }

  #biggestOwner(): string | undefined {
    let biggest: string | undefined;
    let most = -1;
    for (const [owner, chars] of this.#byOwner) {
      if (chars > most) {
        biggest = owner;
        most = chars;
      }
    }
    return biggest;
  }

  /** `length` characters from `offset` of the output kept under `handle`, if `owner` kept it. */
  read(
    handle: string,
    offset: number,
    length: number,
    owner: string,
  ): { text: string; offset: number; keptChars: number; totalChars: number } {
    this.#expire();
    const kept = this.#kept.get(handle);
    if (!kept || kept.owner !== owner) {
      throw new HostCallError(
        `read_output(${JSON.stringify(handle)}): no such output; handles expire ${describeTtl(this.#options.ttlMs)} after their run`,
        'NOT_FOUND',
      );
    }
    return {
      text: kept.text.slice(offset, offset + length),
      offset,
      keptChars: kept.text.length,
      totalChars: kept.totalChars,
    };
  }

  #expire(): void {
    const now = Date.now();
    for (const [handle, kept] of this.#kept) {
      if (kept.expiresAt > now) continue;
      this.#forget(handle, kept);
    }
  }
}

/** A handle's lifetime as the error says it: whole minutes, or seconds below two minutes. */
export function describeTtl(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}
