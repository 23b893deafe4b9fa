/**
 * The linear-time engine against JavaScript's RegExp, which it must agree with on everything it
 * accepts (linear-regex.ts): character sets checked over every UTF-16 code unit, and a seeded
 * differential run of random patterns over random texts (a failure names its seed and case, so it
 * replays). The engine is leftmost-longest and RegExp leftmost-first, so what is compared is what
 * both define the same way: where each match starts (the leftmost position any match can start at,
 * for both), and that the engine's end is the longest RegExp can reach from there (RegExp is asked,
 * per end, whether the pattern can match exactly that span, with a lookahead pinning the end).
 */
import { describe, expect, it } from 'vitest';
import { MultiPattern, PatternError } from '../../../../src/engine/policy/linear-regex.js';
import { seededRandom } from '../../../helpers/seeded-random.js';

const SEED = 0x7e9e;
const PATTERNS = 1500;
const TEXTS_PER_PATTERN = 8;
const MAX_TEXT_CHARS = 12;

const charOf = (code: number) => String.fromCharCode(code);
const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** One compiled pattern as a single-character test: does it match the whole of `char`? */
function engineMatchesChar(source: string, ignoreCase: boolean): (code: number) => boolean {
  const pattern = new MultiPattern([{ source: `^(?:${source})$`, ignoreCase }]);
  return (code) => pattern.scan(charOf(code)).length === 1;
}

describe('character sets, over every UTF-16 code unit', () => {
  it.each([
    ['\\s', false],
    ['\\S', false],
    ['.', false],
    ['[\\s]', false],
    ['[^\\s]', false],
    ['\\w', false],
    ['\\W', false],
    ['\\d', false],
    ['[^]', false],
    ['k', true],
    ['s', true],
    ['σ', true],
    ['µ', true],
    ['[a-z]', true],
    ['[A-Z]', true],
    ['[^a-z]', true],
    ['[α-ω]', true],
    ['[\\w]', true],
    ['\\W', true],
    ['[\\s\\d]', true],
  ])('/%s/ (ignoreCase %s) takes exactly the characters RegExp takes', (source, ignoreCase) => {
    const engine = engineMatchesChar(source, ignoreCase);
    const regexp = new RegExp(`^(?:${source})$`, ignoreCase ? 'i' : '');
    const differ: string[] = [];
    for (let code = 0; code < 0x10000; code++) {
      if (engine(code) !== regexp.test(charOf(code))) differ.push(hex(code));
    }
    expect(differ).toEqual([]);
  });

  it("takes JavaScript's whitespace for \\s, Unicode spaces and line separators included", () => {
    const spaces = [0x1680, 0x2000, 0x2005, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff, 0xa0];
    const pattern = new MultiPattern([{ source: 'a\\sb' }]);
    for (const space of spaces) expect(pattern.scan(`a${charOf(space)}b`), hex(space)).toHaveLength(1);
    // Not whitespace to JavaScript since Unicode 6.3, nor a zero-width space.
    for (const other of [0x180e, 0x200b]) expect(pattern.scan(`a${charOf(other)}b`), hex(other)).toEqual([]);
  });
});

/** Texts are drawn from these: ASCII, the Unicode whitespace, and letters whose case is special. */
const ALPHABET = [
  ...'aaabbcAABks019 -._@',
  '\n',
  '\t',
  '\u00a0',
  '\u1680',
  '\u2003',
  '\u2028',
  '\u2029',
  '\u202f',
  '\u3000',
  '\ufeff',
  '\u180e',
  '\u200b',
  'é',
  'É',
  'ſ',
  '\u212a',
  'µ',
  'Σ',
  'σ',
  'ς',
];
const LITERALS = [...'aabbcAks01 @', 'é', 'σ', 'Σ', 'µ'];
const ESCAPES = ['\\.', '\\-', '\\+', '\\*', '\\?', '\\(', '\\)', '\\[', '\\]', '\\{', '\\}', '\\|', '\\/'];
const CLASS_ESCAPES = ['.', '\\d', '\\D', '\\w', '\\W', '\\s', '\\S', '\\t', '\\n'];
const CLASS_ITEMS = [
  ...'abksAZ09_. @',
  'a-c',
  'A-Z',
  'a-z',
  '0-9',
  'α-ω',
  'é',
  '\\d',
  '\\w',
  '\\s',
  '\\S',
  '\\W',
  '\\-',
  '\\]',
  '\\t',
];
const ANCHORS = ['^', '$', '\\b', '\\B'];
const QUANTIFIERS = ['', '', '', '', '*', '+', '?', '{2}', '{1,3}', '{0,2}', '{2,}'];

/** A random pattern in the syntax both engines read the same way. */
function generatePattern(next: () => number, depth = 0): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const atom = (): string => {
    const roll = next();
    if (roll < 0.08) return pick(ANCHORS);
    let body: string;
    if (roll < 0.4) body = pick(LITERALS);
    else if (roll < 0.5) body = pick(ESCAPES);
    else if (roll < 0.65) body = pick(CLASS_ESCAPES);
    else if (roll < 0.85 || depth >= 2) {
      const items = Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(CLASS_ITEMS));
      body = next() < 0.05 ? pick(['[]', '[^]']) : `[${next() < 0.3 ? '^' : ''}${items.join('')}]`;
    } else body = `(${next() < 0.5 ? '?:' : ''}${generatePattern(next, depth + 1)})`;
    return body + pick(QUANTIFIERS);
  };
  const sequence = () => Array.from({ length: 1 + Math.floor(next() * 4) }, atom).join('');
  return Array.from({ length: next() < 0.7 ? 1 : 2 + Math.floor(next() * 2) }, sequence).join('|');
}

function generateText(next: () => number): string {
  const length = Math.floor(next() * (MAX_TEXT_CHARS + 1));
  return Array.from({ length }, () => ALPHABET[Math.floor(next() * ALPHABET.length)]).join('');
}

/**
 * Leftmost-longest matches, left to right and not overlapping, as RegExp finds them: each start is
 * where a global search from the previous end finds one; its end the last position RegExp can match
 * exactly up to from that start (a sticky search whose lookahead leaves exactly the rest of the text).
 */
function regexpScanner(source: string, flags: string) {
  const search = new RegExp(source, `g${flags}`);
  const endingBefore = new Map<number, RegExp>();
  const matchesUpTo = (text: string, start: number, end: number) => {
    const remaining = text.length - end;
    let pinned = endingBefore.get(remaining);
    if (!pinned) {
      pinned = new RegExp(`(?:${source})(?=[\\s\\S]{${remaining}}$)`, `y${flags}`);
      endingBefore.set(remaining, pinned);
    }
    pinned.lastIndex = start;
    return pinned.test(text);
  };
  return (text: string): Array<{ start: number; end: number }> => {
    const matches: Array<{ start: number; end: number }> = [];
    let from = 0;
    while (from < text.length) {
      search.lastIndex = from;
      const found = search.exec(text);
      if (!found) break;
      const start = found.index;
      let end = text.length;
      while (end > start && !matchesUpTo(text, start, end)) end--;
      if (end === start) throw new Error(`RegExp found /${source}/ at ${start} but no span from there`);
      matches.push({ start, end });
      from = end;
    }
    return matches;
  };
}

describe('differential against RegExp, seeded', () => {
  // CPU-bound, ~0.8 s on a quiet machine (mostly RegExp compiling): its own timeout, for loaded ones.
  it(`agrees on ${PATTERNS} random patterns over ${TEXTS_PER_PATTERN} random texts each`, {
    timeout: 20_000,
  }, () => {
    const next = seededRandom(SEED);
    let accepted = 0;
    let compared = 0;
    let matched = 0;
    for (let n = 0; n < PATTERNS; n++) {
      const source = generatePattern(next);
      const ignoreCase = next() < 0.25;
      const texts = Array.from({ length: TEXTS_PER_PATTERN }, () => generateText(next));
      let pattern: MultiPattern;
      try {
        pattern = new MultiPattern([{ source, ignoreCase }]);
      } catch (error) {
        // Refused (it can match the empty string): nothing to compare. Any other failure is a bug.
        expect(error, `case ${n} of seed ${SEED}: /${source}/`).toBeInstanceOf(PatternError);
        expect((error as Error).message).toMatch(/can match the empty string/);
        continue;
      }
      accepted++;
      const regexpScan = regexpScanner(source, ignoreCase ? 'i' : '');
      for (const text of texts) {
        const expected = regexpScan(text);
        const actual = pattern.scan(text).map(({ start, end }) => ({ start, end }));
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          expect(
            actual,
            `case ${n} of seed ${SEED}: /${source}/${ignoreCase ? 'i' : ''} over ${JSON.stringify(text)}`,
          ).toEqual(expected);
        }
        compared++;
        if (expected.length > 0) matched++;
      }
    }
    // The generator must exercise both sides: enough accepted patterns, texts with and without matches.
    expect(accepted).toBeGreaterThan(PATTERNS / 3);
    expect(matched).toBeGreaterThan(compared / 10);
    expect(compared - matched).toBeGreaterThan(compared / 10);
  });
});
