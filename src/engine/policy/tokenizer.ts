/**
 * Keeps sensitive values out of the program (and so out of the model's context): strings in tool
 * results that match the configured patterns become placeholders such as `[EMAIL_1:k3fq7a]`, and the
 * placeholders a program passes back into a tool call allowed to receive them become the real values
 * again. One vault per run (or per named session): the same value gets the same placeholder in it.
 * Every placeholder carries its vault's random tag, so one kept from another run or session can never
 * be taken for this vault's placeholder of the same number: restoring it is refused instead
 * ({@link PlaceholderError}). Scanning is linear in the text (linear-regex.ts).
 */
import { randomBytes } from 'node:crypto';
import { MultiPattern, type PatternSource } from './linear-regex.js';

/** Built-in detectors, by the name the policy file uses; each kind's placeholders read `[KIND_n]`. */
export const BUILTIN_PATTERNS: Readonly<Record<string, { kind: string; patterns: PatternSource[] }>> = {
  email: {
    kind: 'EMAIL',
    patterns: [{ source: '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}' }],
  },
  phone: {
    kind: 'PHONE',
    patterns: [
      // International form; national forms with an area code in parentheses; US-style 3-3-4 digits.
      // Dates (2024-01-15) and plain numbers are not phone numbers here.
      { source: '\\+\\d{1,3}(?:[ .-]?\\d{2,4}){2,5}\\b' },
      { source: '\\(\\d{2,4}\\)[ .-]?\\d{3,4}[ .-]?\\d{4}\\b' },
      { source: '\\b\\d{3}[.-]\\d{3}[.-]\\d{4}\\b' },
    ],
  },
  key: {
    kind: 'KEY',
    patterns: [
      { source: '\\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}' },
      { source: '\\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}' },
      { source: '\\bgh[pousr]_[A-Za-z0-9]{30,}' },
      { source: '\\bgithub_pat_[A-Za-z0-9_]{22,}' },
      { source: '\\bxox[abprs]-[A-Za-z0-9-]{10,}' },
      { source: '\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b' },
      { source: '\\bAIza[0-9A-Za-z_-]{35}' },
      { source: '\\beyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}' },
    ],
  },
};

/** What the policy file's `[tokenize]` section compiles to. */
export interface TokenizerSpec {
  /** Kind (placeholder prefix, `[A-Z][A-Z0-9_]*`) and pattern, in priority order. */
  patterns: Array<{ kind: string } & PatternSource>;
}

/** Results nested deeper than this are refused rather than passed on unscanned (the reply cap is 256). */
const MAX_DEPTH = 300;
/** A placeholder is `[`, a kind of at most 32 characters, `_`, a number, `:`, the vault's tag, `]`. */
const MAX_PLACEHOLDER_CHARS = 56;
/** What looks like a placeholder of any vault: kind, number and tag (checked on at most 56 characters). */
const PLACEHOLDER = /^\[[A-Z][A-Z0-9_]{0,31}_\d{1,9}:([a-z2-7]{6})\]$/;
const TAG_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** A vault's tag: 6 random characters (30 bits), so two vaults' placeholders practically never meet. */
function randomTag(): string {
  let tag = '';
  for (const byte of randomBytes(6)) tag += TAG_ALPHABET[byte & 31];
  return tag;
}

/**
 * A placeholder that this vault cannot restore: issued by another vault (an earlier run, another
 * session, a session that has since ended), or never issued at all.
 */
export class PlaceholderError extends Error {
  override readonly name = 'PlaceholderError';
  constructor(
    readonly placeholder: string,
    readonly stale: boolean,
  ) {
    super(
      stale
        ? `${placeholder} is a placeholder from another run or session (placeholders mean their value only ` +
            'within the run that received them, or within its named session while that session lives)'
        : `${placeholder} is not a placeholder this run received`,
    );
  }
}

export class TokenizeDepthError extends Error {
  override readonly name = 'TokenizeDepthError';
}

/** Text a run's results may hold for scanning, per result; more is withheld rather than passed unscanned. */
export const MAX_SCAN_CHARS = 4 * 1024 * 1024;

export class TokenizeLimitError extends Error {
  override readonly name = 'TokenizeLimitError';
}

/**
 * One automaton per kind: scanned apart, kinds do not hold each other's threads alive (all kinds in
 * one automaton measured twice as slow on prose). Matches of different kinds that overlap are merged
 * into one placeholder, so no character any pattern matched reaches the program.
 */
class KindMatcher {
  readonly #matchers: MultiPattern[];
  readonly #kinds: string[];

  constructor(patterns: TokenizerSpec['patterns']) {
    const kinds = [...new Set(patterns.map((pattern) => pattern.kind))];
    this.#kinds = kinds;
    this.#matchers = kinds.map(
      (kind) => new MultiPattern(patterns.filter((pattern) => pattern.kind === kind)),
    );
  }

  scan(text: string): Array<{ start: number; end: number; kind: string }> {
    const found: Array<{ start: number; end: number; kind: string; order: number }> = [];
    this.#matchers.forEach((matcher, order) => {
      for (const match of matcher.scan(text)) {
        found.push({ start: match.start, end: match.end, kind: this.#kinds[order] as string, order });
      }
    });
    if (this.#matchers.length === 1) return found;
    found.sort((a, b) => a.start - b.start || b.end - a.end || a.order - b.order);
    const merged: Array<{ start: number; end: number; kind: string }> = [];
    for (const match of found) {
      const last = merged.at(-1);
      if (last && match.start < last.end) last.end = Math.max(last.end, match.end);
      else merged.push({ start: match.start, end: match.end, kind: match.kind });
    }
    return merged;
  }
}

/** The compiled patterns, shared by every run; throws `PatternError` for a pattern it refuses. */
export class Tokenizer {
  readonly #matcher: KindMatcher;

  constructor(spec: TokenizerSpec) {
    this.#matcher = new KindMatcher(spec.patterns);
  }

  /** A vault for one run or session; `tag` is random unless given (tests). */
  vault(tag: string = randomTag()): TokenVault {
    return new TokenVault(this.#matcher, tag);
  }
}

export class TokenVault {
  readonly #matcher: KindMatcher;
  readonly #tag: string;
  readonly #byValue = new Map<string, string>();
  readonly #byPlaceholder = new Map<string, string>();
  readonly #counts = new Map<string, number>();

  constructor(matcher: KindMatcher, tag: string) {
    this.#matcher = matcher;
    this.#tag = tag;
  }

  /** How many distinct values this run's results held. */
  get size(): number {
    return this.#byValue.size;
  }

  /** `text` with every match replaced by its placeholder. */
  tokenizeText(text: string): string {
    const matches = this.#matcher.scan(text);
    if (matches.length === 0) return text;
    let out = '';
    let last = 0;
    for (const match of matches) {
      out +=
        text.slice(last, match.start) + this.#placeholder(text.slice(match.start, match.end), match.kind);
      last = match.end;
    }
    return out + text.slice(last);
  }

  /**
   * A JSON value with every string (keys too) tokenized; throws `TokenizeDepthError` past 300 levels
   * and `TokenizeLimitError` past {@link MAX_SCAN_CHARS} characters of strings (checked before any
   * scanning, so a huge result costs a walk, not seconds of the bridge's only thread).
   */
  tokenize(value: unknown): unknown {
    let chars = 0;
    this.#walk(value, 0, (text) => {
      chars += text.length;
      return text;
    });
    if (chars > MAX_SCAN_CHARS) {
      throw new TokenizeLimitError(
        `the result holds ${chars} characters of text, more than the ${MAX_SCAN_CHARS} the bridge scans for sensitive values`,
      );
    }
    return this.#walk(value, 0, (text) => this.tokenizeText(text));
  }

  /**
   * A JSON value with this vault's placeholders replaced by their values, and how many were. Throws
   * {@link PlaceholderError} for a placeholder of another vault or one this vault never issued, so
   * nothing is sent with a placeholder that cannot mean what the program thinks.
   */
  restore(value: unknown): { value: unknown; restored: number } {
    let restored = 0;
    const restoredValue = this.#walk(value, 0, (text) => {
      const { text: out, restored: n } = this.restoreText(text);
      restored += n;
      return out;
    });
    return { value: restoredValue, restored };
  }

  restoreText(text: string): { text: string; restored: number } {
    // A hand-written scan, not a RegExp: `\[[A-Z0-9_]+_\d+\]` would backtrack across long capital
    // runs. `close` is found once per run of `[`s before it, so a text of many `[` stays linear.
    let out = '';
    let last = 0;
    let restored = 0;
    let close = -1;
    for (let open = text.indexOf('['); open !== -1; open = text.indexOf('[', open + 1)) {
      if (close < open) close = text.indexOf(']', open + 1);
      if (close === -1) break;
      if (close - open + 1 > MAX_PLACEHOLDER_CHARS) continue;
      const candidate = text.slice(open, close + 1);
      const shape = PLACEHOLDER.exec(candidate);
      if (!shape) continue;
      const value = shape[1] === this.#tag ? this.#byPlaceholder.get(candidate) : undefined;
      if (value === undefined) throw new PlaceholderError(candidate, shape[1] !== this.#tag);
      out += text.slice(last, open) + value;
      last = close + 1;
      open = close;
      restored++;
    }
    return { text: last === 0 ? text : out + text.slice(last), restored };
  }

  #placeholder(value: string, kind: string): string {
    const known = this.#byValue.get(value);
    if (known) return known;
    const n = (this.#counts.get(kind) ?? 0) + 1;
    this.#counts.set(kind, n);
    const placeholder = `[${kind}_${n}:${this.#tag}]`;
    this.#byValue.set(value, placeholder);
    this.#byPlaceholder.set(placeholder, value);
    return placeholder;
  }

  #walk(value: unknown, depth: number, map: (text: string) => string): unknown {
    if (typeof value === 'string') return map(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH)
      throw new TokenizeDepthError(`the result is nested deeper than ${MAX_DEPTH} levels`);
    if (Array.isArray(value)) return value.map((item) => this.#walk(item, depth + 1, map));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // defineProperty: a key spelled `__proto__` stays a plain key instead of setting the prototype.
      Object.defineProperty(out, map(key), {
        value: this.#walk(item, depth + 1, map),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
}
