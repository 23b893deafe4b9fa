/**
 * Output a run printed beyond the cap, kept on the host so the program's caller can page through it
 * (`mcp.runtime.read_output(handle, offset, length)`) instead of losing the middle. Bounded: each
 * run keeps at most `maxChars` of a stream, all handles together `maxTotalChars` (the oldest go
 * first), and a handle expires `ttlMs` after its run. Handles belong to a client connection.
 */
import { HostCallError } from '../sandbox/types.js';

export interface OutputStoreOptions {
  maxChars: number;
  maxTotalChars: number;
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
    this.#total += text.length;
    for (const [oldest, kept] of this.#kept) {
      if (this.#total <= this.#options.maxTotalChars || oldest === handle) break;
      this.#kept.delete(oldest);
      this.#total -= kept.text.length;
    }
    return handle;
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
      this.#kept.delete(handle);
      this.#total -= kept.text.length;
    }
  }
}

/** A handle's lifetime as the error says it: whole minutes, or seconds below two minutes. */
export function describeTtl(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}
