/**
 * Check results kept by what decides them, so a program already checked against the same grant is not
 * checked again. A check is a pure function of the program's text, the grant's declarations (each
 * by its text) and the checker itself (TypeScript's version, options
 * and the runtime's declaration: `checkerIdentity`); the key is a digest of all of them, so a cached
 * answer is the answer a fresh check gives. Least recently used entries leave first, bounded both in
 * entries and in bytes (a failing program's errors can be ~20 KB).
 */
import { createHash } from 'node:crypto';
import type { CheckResult, DeclarationFile } from './program-checker.js';

export const DEFAULT_MAX_VERDICTS = 1000;
export const DEFAULT_MAX_VERDICT_BYTES = 4 * 1024 * 1024;
/** What an entry costs beside its result's text: its key, the map's slot and the objects. */
const ENTRY_OVERHEAD_BYTES = 200;

export interface VerdictCacheOptions {
  /** `checkerIdentity(…)`: a checker that answers differently must not share entries. */
  checker: string;
  maxEntries?: number;
  maxBytes?: number;
}

/**
 * The digest of a declaration's text, kept per declaration object (the engine reuses one per server
 * description): a grant of large declarations is hashed once, not on every check. The text is compared
 * on use, so an object whose text changed is hashed again.
 */
const digests = new WeakMap<DeclarationFile, { text: string; digest: string }>();
function textDigest(declaration: DeclarationFile): string {
  const kept = digests.get(declaration);
  if (kept?.text === declaration.text) return kept.digest;
  const digest = createHash('sha256').update(declaration.text).digest('base64url');
  digests.set(declaration, { text: declaration.text, digest });
  return digest;
}

interface Entry {
  result: CheckResult;
  bytes: number;
}

export class VerdictCache {
  readonly #checker: string;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  /** In use order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  constructor(options: VerdictCacheOptions) {
    this.#checker = createHash('sha256').update(options.checker).digest('base64url');
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_VERDICTS;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_VERDICT_BYTES;
  }

  /** The key of a check of `code` against `grant`, in the grant's order (the checker's file order). */
  key(code: string, grant: readonly DeclarationFile[]): string {
    const hash = createHash('sha256').update(this.#checker);
    // Lengths before texts: no two different inputs concatenate to the same bytes.
    for (const declaration of grant) hash.update(`\0d${textDigest(declaration)}`);
    hash.update(`\0p${code.length}:`).update(code);
    return hash.digest('base64url');
  }

  get(key: string): CheckResult | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.result;
  }

  set(key: string, result: CheckResult): void {
    const bytes = ENTRY_OVERHEAD_BYTES + key.length + JSON.stringify(result).length * 2;
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#bytes -= old.bytes;
    }
    if (bytes > this.#maxBytes || this.#maxEntries === 0) return;
    this.#entries.set(key, { result, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }

  get stats(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes };
  }
}
