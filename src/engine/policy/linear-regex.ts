/**
 * A small regular-expression engine whose running time is linear in the text, for the patterns the
 * tokenizer scans tool results with (policy file, `[tokenize]`). JavaScript's own RegExp backtracks:
 * `(a+)+$` takes exponential time, and even `\d+x` is quadratic when searched for across a long run of
 * digits, so a user's pattern run over a tool's result could stall the bridge's only thread.
 *
 * Patterns compile to a Thompson NFA that is simulated breadth-first (every live state advances once
 * per character), which cannot backtrack. Several patterns compile into one automaton, so one pass
 * finds all of them. Matches are leftmost-longest, at most {@link MAX_MATCH_CHARS} characters long:
 * a scan costs O(text × states) plus, per match, at most that many characters looked at twice.
 *
 * Syntax: literals; `.`; classes `[a-z0-9._-]`, `[^…]`; escapes `\d \D \w \W \s \S \t \n \r` and
 * escaped punctuation; groups `(…)`, `(?:…)`; `|`; `* + ? {n} {n,} {n,m}` (m ≤ 1000); anchors
 * `^ $ \b \B`. Refused, with a message: backreferences, lookaround, lazy quantifiers, patterns that
 * can match the empty string, and automata over {@link MAX_STATES} states. What it accepts means what
 * it means to JavaScript's RegExp without the `u` flag (`.`, `\s`, `[]`, case-insensitive matching),
 * so a pattern tried in a browser console finds the same things here, leftmost-longest.
 */

export const MAX_MATCH_CHARS = 512;
const MAX_STATES = 20_000;
const MAX_REPEAT = 1000;

type CharTest = (code: number) => boolean;
type Assertion = (text: string, index: number) => boolean;

type Node =
  | { kind: 'char'; test: CharTest }
  | { kind: 'assert'; test: Assertion }
  | { kind: 'concat'; items: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'repeat'; node: Node; min: number; max: number };

type State =
  | { kind: 'char'; test: CharTest; next: number }
  | { kind: 'assert'; test: Assertion; next: number }
  | { kind: 'split'; a: number; b: number }
  | { kind: 'match'; pattern: number };

export class PatternError extends Error {
  override readonly name = 'PatternError';
}

const isDigit: CharTest = (c) => c >= 48 && c <= 57;
const isWord: CharTest = (c) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
/** JavaScript's `\s`: its WhiteSpace (Unicode's Zs, tab, VT, FF, NBSP, BOM) and LineTerminators. */
const isSpace: CharTest = (c) =>
  c === 32 ||
  (c >= 9 && c <= 13) ||
  (c >= 0x80 &&
    (c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff));
/** JavaScript's `.` without the `s` flag: anything but a LineTerminator. */
const isNotLineTerminator: CharTest = (c) => c !== 10 && c !== 13 && c !== 0x2028 && c !== 0x2029;
const not =
  (test: CharTest): CharTest =>
  (c) =>
    !test(c);
const wordAt = (text: string, index: number) =>
  index >= 0 && index < text.length && isWord(text.charCodeAt(index));
const wordBoundary: Assertion = (text, i) => wordAt(text, i - 1) !== wordAt(text, i);

/**
 * Case-insensitive matching as RegExp's `i` flag without `u` defines it (Canonicalize): a character
 * stands for its upper case when that is one UTF-16 unit, except that nothing beyond ASCII maps
 * into ASCII (so `ſ` is not `s`, nor the Kelvin sign `k`).
 */
function canonicalize(c: number): number {
  const upper = String.fromCharCode(c).toUpperCase();
  if (upper.length !== 1) return c;
  const code = upper.charCodeAt(0);
  return c >= 128 && code < 128 ? c : code;
}

/** The characters of each canonical form that more than one shares, beyond ASCII (built on first use). */
let caseFolds: Map<number, number[]> | undefined;

function caseFoldsOf(c: number): readonly number[] | undefined {
  // An ASCII letter's form is its upper case, which nothing beyond ASCII shares.
  if (c < 128) {
    const lower = c | 0x20;
    return lower >= 97 && lower <= 122 ? [lower, lower - 32] : undefined;
  }
  if (!caseFolds) {
    const folds = new Map<number, number[]>();
    for (let code = 0; code < 0x10000; code++) {
      const canonical = canonicalize(code);
      const members = folds.get(canonical);
      if (members) members.push(code);
      else folds.set(canonical, [code]);
    }
    for (const [canonical, members] of folds) if (members.length === 1) folds.delete(canonical);
    caseFolds = folds;
  }
  return caseFolds.get(canonicalize(c));
}

/**
 * A set under the `i` flag: `c` is in it when any character of `c`'s canonical form is (RegExp's
 * CharacterSetMatcher), so `[A-Z]` takes `k` but not the Kelvin sign, whose form is its own.
 */
const caseInsensitive =
  (test: CharTest): CharTest =>
  (c) =>
    test(c) || (caseFoldsOf(c)?.some(test) ?? false);

/** `test` answered from a table for ASCII (most of what results hold), by `test` itself beyond. */
function asciiTable(test: CharTest): CharTest {
  const table = new Uint8Array(128);
  for (let c = 0; c < 128; c++) table[c] = test(c) ? 1 : 0;
  return (c) => (c < 128 ? table[c] === 1 : test(c));
}

const CLASS_ESCAPES: Record<string, CharTest> = {
  d: isDigit,
  D: not(isDigit),
  w: isWord,
  W: not(isWord),
  s: isSpace,
  S: not(isSpace),
};
const CHAR_ESCAPES: Record<string, number> = { t: 9, n: 10, r: 13, f: 12, v: 11 };
const PUNCTUATION = new Set('\\^$.|?*+()[]{}-/,:;=!<>#&~\'"@%` _'.split(''));

class Parser {
  #i = 0;
  constructor(
    readonly source: string,
    readonly ignoreCase: boolean,
  ) {}

  parse(): Node {
    const node = this.#alternation();
    if (this.#i < this.source.length) this.#fail(`unexpected '${this.source[this.#i]}'`);
    return node;
  }

  #fail(message: string): never {
    throw new PatternError(`${message} at position ${this.#i} of /${this.source}/`);
  }

  #peek(): string | undefined {
    return this.source[this.#i];
  }

  #alternation(): Node {
    const options = [this.#sequence()];
    while (this.#peek() === '|') {
      this.#i++;
      options.push(this.#sequence());
    }
    return options.length === 1 ? (options[0] as Node) : { kind: 'alt', options };
  }

  #sequence(): Node {
    const items: Node[] = [];
    for (let char = this.#peek(); char !== undefined && char !== '|' && char !== ')'; char = this.#peek()) {
      items.push(this.#quantified());
    }
    return { kind: 'concat', items };
  }

  #quantified(): Node {
    const atom = this.#atom();
    const char = this.#peek();
    let min: number;
    let max: number;
    if (char === '*') [min, max] = [0, Infinity];
    else if (char === '+') [min, max] = [1, Infinity];
    else if (char === '?') [min, max] = [0, 1];
    else if (char === '{' && /^\{\d+(,\d*)?\}/.test(this.source.slice(this.#i, this.#i + 12))) {
      const [, low, comma, high] = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.#i)) ?? [];
      min = Number(low);
      max = comma === undefined ? min : high ? Number(high) : Infinity;
      if (max < min) this.#fail(`{${low},${high}} has its bounds the wrong way round`);
      if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) {
        this.#fail(`repetition counts are limited to ${MAX_REPEAT}`);
      }
      this.#i += (/^\{\d+(,\d*)?\}/.exec(this.source.slice(this.#i))?.[0].length ?? 1) - 1;
    } else return atom;
    this.#i++;
    if (this.#peek() === '?') this.#fail('lazy quantifiers are not supported (matches are leftmost-longest)');
    if (this.#peek() === '+') this.#fail('possessive quantifiers are not supported');
    if (atom.kind === 'assert') this.#fail('an anchor cannot be repeated');
    return { kind: 'repeat', node: atom, min, max };
  }

  #atom(): Node {
    const char = this.#peek() as string;
    this.#i++;
    switch (char) {
      case '(': {
        if (this.#peek() === '?') {
          if (this.source[this.#i + 1] !== ':') {
            this.#fail('lookaround and named groups are not supported; use (?:...) or (...)');
          }
          this.#i += 2;
        }
        const node = this.#alternation();
        if (this.#peek() !== ')') this.#fail("missing ')'");
        this.#i++;
        return node;
      }
      case '[':
        return this.#charClass();
      case '.':
        return { kind: 'char', test: isNotLineTerminator };
      case '^':
        return { kind: 'assert', test: (_text, i) => i === 0 };
      case '$':
        return { kind: 'assert', test: (text, i) => i === text.length };
      case '\\':
        return this.#escape();
      case '*':
      case '+':
      case '?':
        return this.#fail(`'${char}' has nothing to repeat`);
      case ')':
        return this.#fail("unmatched ')'");
      default:
        return { kind: 'char', test: this.#literal(char.charCodeAt(0)) };
    }
  }

  #escape(): Node {
    const char = this.#peek();
    if (char === undefined) this.#fail('the pattern ends with a backslash');
    this.#i++;
    if (char === 'b') return { kind: 'assert', test: wordBoundary };
    if (char === 'B') return { kind: 'assert', test: (text, i) => !wordBoundary(text, i) };
    return { kind: 'char', test: this.#escapedTest(char) };
  }

  #escapedTest(char: string): CharTest {
    const classTest = CLASS_ESCAPES[char];
    if (classTest) return this.ignoreCase ? asciiTable(caseInsensitive(classTest)) : classTest;
    const code = CHAR_ESCAPES[char];
    if (code !== undefined) return (c) => c === code;
    if (/[1-9]/.test(char)) this.#fail('backreferences are not supported');
    if (char === 'k') this.#fail('named backreferences are not supported');
    if (!PUNCTUATION.has(char)) this.#fail(`unknown escape \\${char}`);
    return this.#literal(char.charCodeAt(0));
  }

  #literal(code: number): CharTest {
    if (!this.ignoreCase) return (c) => c === code;
    const canonical = canonicalize(code);
    return asciiTable((c) => c === code || canonicalize(c) === canonical);
  }

  #charClass(): Node {
    const negate = this.#peek() === '^';
    if (negate) this.#i++;
    const tests: CharTest[] = [];
    // As in JavaScript, `[]` matches nothing and `[^]` any character.
    while (this.#peek() !== ']') {
      const start = this.#classChar();
      if (start === undefined) this.#fail("missing ']'");
      if (typeof start === 'function') {
        tests.push(start);
        continue;
      }
      if (
        this.#peek() === '-' &&
        this.source[this.#i + 1] !== ']' &&
        this.source[this.#i + 1] !== undefined
      ) {
        this.#i++;
        const end = this.#classChar();
        if (typeof end !== 'number') this.#fail('a range must end with a character');
        if (end < start) this.#fail('a range has its ends the wrong way round');
        tests.push((c) => c >= start && c <= end);
      } else tests.push((c) => c === start);
    }
    this.#i++;
    const listed: CharTest = (c) => tests.some((test) => test(c));
    const any = this.ignoreCase ? caseInsensitive(listed) : listed;
    return { kind: 'char', test: asciiTable(negate ? not(any) : any) };
  }

  /** One character of a class as its code, a class escape as a test, or undefined at the end. */
  #classChar(): number | CharTest | undefined {
    const char = this.#peek();
    if (char === undefined) return undefined;
    this.#i++;
    if (char !== '\\') return char.charCodeAt(0);
    const escaped = this.#peek();
    if (escaped === undefined) this.#fail('the pattern ends with a backslash');
    this.#i++;
    const classTest = CLASS_ESCAPES[escaped];
    if (classTest) return classTest;
    const code = CHAR_ESCAPES[escaped];
    if (code !== undefined) return code;
    if (escaped === 'b') return 8;
    if (!PUNCTUATION.has(escaped)) this.#fail(`unknown escape \\${escaped}`);
    return escaped.charCodeAt(0);
  }
}

class Builder {
  readonly states: State[] = [];

  add(state: State): number {
    if (this.states.length >= MAX_STATES) {
      throw new PatternError(`the patterns need more than ${MAX_STATES} automaton states; simplify them`);
    }
    this.states.push(state);
    return this.states.length - 1;
  }

  /** Compiles `node` so that it continues at `next`; returns its start state. */
  compile(node: Node, next: number): number {
    switch (node.kind) {
      case 'char':
        return this.add({ kind: 'char', test: node.test, next });
      case 'assert':
        return this.add({ kind: 'assert', test: node.test, next });
      case 'concat':
        return node.items.reduceRight((after, item) => this.compile(item, after), next);
      case 'alt': {
        let start = this.compile(node.options.at(-1) as Node, next);
        for (let i = node.options.length - 2; i >= 0; i--) {
          start = this.add({ kind: 'split', a: this.compile(node.options[i] as Node, next), b: start });
        }
        return start;
      }
      case 'repeat': {
        let start = next;
        if (node.max === Infinity) {
          const loop = this.add({ kind: 'split', a: -1, b: next });
          (this.states[loop] as { a: number }).a = this.compile(node.node, loop);
          start = loop;
        } else {
          for (let i = node.min; i < node.max; i++) {
            start = this.add({ kind: 'split', a: this.compile(node.node, start), b: next });
          }
        }
        for (let i = 0; i < node.min; i++) start = this.compile(node.node, start);
        return start;
      }
    }
  }
}

/** One pattern of a {@link MultiPattern}. */
export interface PatternSource {
  source: string;
  ignoreCase?: boolean;
}

export interface PatternMatch {
  start: number;
  end: number;
  /** Index of the pattern that matched; the lowest wins when two match the same span. */
  pattern: number;
}

/** Several patterns compiled into one automaton, scanned in one pass. Throws `PatternError`. */
export class MultiPattern {
  readonly #states: State[];
  readonly #start: number;
  /** Whether a character can begin a match: lets the scan skip text no match can start in. */
  readonly #canStart: CharTest;
  // Scratch space reused by every scan (the bridge runs one scan at a time: it has one thread).
  readonly #seen: Int32Array;
  readonly #pending: Int32Array;
  readonly #listA: Int32Array;
  readonly #listB: Int32Array;
  readonly #startsA: Int32Array;
  readonly #startsB: Int32Array;
  #generation = 0;

  constructor(patterns: readonly PatternSource[]) {
    const builder = new Builder();
    const starts = patterns.map((pattern, index) => {
      const node = new Parser(pattern.source, pattern.ignoreCase === true).parse();
      return builder.compile(node, builder.add({ kind: 'match', pattern: index }));
    });
    let start = starts.at(-1) ?? builder.add({ kind: 'char', test: () => false, next: 0 });
    for (let i = starts.length - 2; i >= 0; i--) {
      start = builder.add({ kind: 'split', a: starts[i] as number, b: start });
    }
    this.#states = builder.states;
    this.#start = start;
    const size = this.#states.length;
    this.#seen = new Int32Array(size);
    // Each state is expanded once per step and pushes at most two others.
    this.#pending = new Int32Array(2 * size + 2);
    this.#listA = new Int32Array(size);
    this.#listB = new Int32Array(size);
    this.#startsA = new Int32Array(size);
    this.#startsB = new Int32Array(size);
    const firsts: CharTest[] = [];
    const visited = new Set<number>();
    const pending = [start];
    while (pending.length > 0) {
      const index = pending.pop() as number;
      if (visited.has(index)) continue;
      visited.add(index);
      const state = this.#states[index] as State;
      if (state.kind === 'match') {
        const source = patterns[state.pattern]?.source ?? '';
        throw new PatternError(
          `/${source}/ can match the empty string; it must match at least one character`,
        );
      }
      if (state.kind === 'char') firsts.push(state.test);
      else if (state.kind === 'assert') pending.push(state.next);
      else pending.push(state.a, state.b);
    }
    this.#canStart = asciiTable((c) => firsts.some((test) => test(c)));
  }

  /** Every match in `text`, left to right, not overlapping; each leftmost, then longest. */
  scan(text: string): PatternMatch[] {
    const matches: PatternMatch[] = [];
    let position = 0;
    while (position < text.length) {
      const match = this.#find(text, position);
      if (!match) break;
      matches.push(match);
      position = match.end;
    }
    return matches;
  }

  #find(text: string, from: number): PatternMatch | undefined {
    // Two thread lists (state, start) swapped at each character; typed arrays reused across scans.
    let states = this.#listA;
    let starts = this.#startsA;
    let nextStates = this.#listB;
    let nextStarts = this.#startsB;
    let count = 0;
    let best: PatternMatch | undefined;
    for (let i = from; ; i++) {
      if (!best) {
        if (count === 0) {
          while (i < text.length && !this.#canStart(text.charCodeAt(i))) i++;
          if (i >= text.length) return undefined;
        }
        this.#generation++;
        // Threads already running started earlier, so they keep priority over this new start.
        for (let t = 0; t < count; t++) this.#seen[states[t] as number] = this.#generation;
        count = this.#addThread(states, starts, count, this.#start, i, text, i);
      }
      // Threads are ordered by start; the first at a match state gives the leftmost match.
      for (let t = 0; t < count; t++) {
        const state = this.#states[states[t] as number] as State;
        if (state.kind !== 'match') continue;
        const start = starts[t] as number;
        if (
          !best ||
          start < best.start ||
          (start === best.start && (i > best.end || (i === best.end && state.pattern < best.pattern)))
        ) {
          best = { start, end: i, pattern: state.pattern };
        }
      }
      if (best) {
        let kept = 0;
        for (let t = 0; t < count; t++) {
          if ((starts[t] as number) > best.start) continue;
          states[kept] = states[t] as number;
          starts[kept++] = starts[t] as number;
        }
        count = kept;
      }
      if (i >= text.length) return best;
      // No thread survived (an anchor failed here): a match may still start further on.
      if (count === 0) {
        if (best) return best;
        continue;
      }
      const code = text.charCodeAt(i);
      let nextCount = 0;
      this.#generation++;
      for (let t = 0; t < count; t++) {
        const state = this.#states[states[t] as number] as State;
        const start = starts[t] as number;
        if (state.kind === 'char' && i + 1 - start <= MAX_MATCH_CHARS && state.test(code)) {
          nextCount = this.#addThread(nextStates, nextStarts, nextCount, state.next, start, text, i + 1);
        }
      }
      [states, nextStates] = [nextStates, states];
      [starts, nextStarts] = [nextStarts, starts];
      count = nextCount;
      if (best && count === 0) return best;
    }
  }

  /**
   * Adds `index` and every state reachable from it without reading a character to the list (which
   * holds `count` threads); returns the new count. Iterative: each state is expanded once per step.
   */
  #addThread(
    states: Int32Array,
    starts: Int32Array,
    count: number,
    index: number,
    start: number,
    text: string,
    at: number,
  ): number {
    const pending = this.#pending;
    let top = 0;
    pending[top++] = index;
    while (top > 0) {
      const current = pending[--top] as number;
      if (this.#seen[current] === this.#generation) continue;
      this.#seen[current] = this.#generation;
      const state = this.#states[current] as State;
      if (state.kind === 'split') {
        pending[top++] = state.b;
        pending[top++] = state.a;
      } else if (state.kind === 'assert') {
        if (state.test(text, at)) pending[top++] = state.next;
      } else {
        states[count] = current;
        starts[count++] = start;
      }
    }
    return count;
  }
}
