import { describe, expect, it } from 'vitest';
import { MultiPattern, PatternError } from '../../../../src/engine/policy/linear-regex.js';
import {
  BUILTIN_PATTERNS,
  MAX_SCAN_CHARS,
  PlaceholderError,
  TokenizeLimitError,
  Tokenizer,
} from '../../../../src/engine/policy/tokenizer.js';

/**
 * `text` as the engine reads it (`length`, `charCodeAt`), counting the characters read: the scan's
 * work, deterministic where a wall-clock time is not (each read advances at most the automaton's
 * states, a bound fixed by the pattern).
 */
function counted(text: string): { text: string; reads: () => number } {
  let reads = 0;
  const standIn = {
    length: text.length,
    charCodeAt: (index: number) => {
      reads++;
      return text.charCodeAt(index);
    },
  };
  return { text: standIn as unknown as string, reads: () => reads };
}

/** Characters read to scan `text` with `patterns`, one automaton per kind as the tokenizer builds them. */
function readsToScan(patterns: MultiPattern[], text: string): number {
  const { text: standIn, reads } = counted(text);
  for (const pattern of patterns) pattern.scan(standIn);
  return reads();
}

const builtins = (...names: string[]) =>
  new Tokenizer({
    patterns: names.flatMap((name) => {
      const builtin = BUILTIN_PATTERNS[name];
      if (!builtin) throw new Error(name);
      return builtin.patterns.map((pattern) => ({ kind: builtin.kind, ...pattern }));
    }),
  });

describe('MultiPattern (linear-time matching)', () => {
  const find = (source: string, text: string, ignoreCase = false) =>
    new MultiPattern([{ source, ignoreCase }]).scan(text).map((m) => text.slice(m.start, m.end));

  it.each([
    ['abc', 'xxabcxxabc', ['abc', 'abc']],
    ['a+', 'baaab a', ['aaa', 'a']],
    ['\\d{3}-\\d{4}', 'call 555-1234 now', ['555-1234']],
    ['colou?r', 'color colour', ['color', 'colour']],
    ['(?:ab|a)c', 'abc ac', ['abc', 'ac']],
    ['[^ ]+@x\\.org', 'mail bob@x.org!', ['bob@x.org']],
    ['\\bcat\\b', 'cat concat cat.', ['cat', 'cat']],
    ['^ab', 'abab', ['ab']],
    ['ab$', 'abab', ['ab']],
    ['E-\\d{2,}', 'E-1 E-12 E-12345', ['E-12', 'E-12345']],
    ['[a-c]+', 'xxABCabc', ['abc']],
  ])('/%s/ in %j finds %j', (source, text, expected) => {
    expect(find(source, text)).toEqual(expected);
  });

  it('is leftmost, then longest', () => {
    expect(find('a|ab|abc', 'abcd')).toEqual(['abc']);
    expect(find('b|abc', 'abc')).toEqual(['abc']);
  });

  it('honours ignoreCase', () => {
    expect(find('secret-[a-z]+', 'SECRET-ABC secret-def', true)).toEqual(['SECRET-ABC', 'secret-def']);
  });

  it.each([
    ['(a)\\1', /backreferences/],
    ['(?=a)', /lookaround/],
    ['(?<name>a)', /lookaround/],
    ['a*?', /lazy/],
    ['a*', /empty string/],
    ['(a|)', /empty string/],
    ['a{5,2}', /wrong way/],
    ['a{2000}', /limited to 1000/],
    ['(ab', /missing '\)'/],
    ['[ab', /missing '\]'/],
    ['\\q', /unknown escape/],
    ['*a', /nothing to repeat/],
  ])('refuses /%s/', (source, message) => {
    expect(() => new MultiPattern([{ source }])).toThrow(PatternError);
    expect(() => new MultiPattern([{ source }])).toThrow(message);
  });

  it('reads each character a bounded number of times on inputs that make backtracking engines explode', () => {
    // (a+)+b is exponential for backtracking engines; \d+x is quadratic for a global search.
    for (const [source, unit, end] of [
      ['(?:a+)+b', 'a', 'c'],
      ['\\d+x', '1', ''],
      ['(?:a|aa)*c', 'a', ''],
      ['\\b\\w+@\\w+\\.com', 'ab', ' '],
    ] as const) {
      const pattern = [new MultiPattern([{ source }])];
      const text = (length: number) => unit.repeat(length / unit.length) + end;
      const short = readsToScan(pattern, text(5_000));
      const long = readsToScan(pattern, text(20_000));
      expect(pattern[0]?.scan(text(20_000))).toEqual([]);
      // Linear: four times the text, four times the reads (a quadratic scan would read 16 times as much).
      expect(long / short, source).toBeLessThan(4.2);
      // A few reads a character: its step, the skip to where a match can start, `\b` looking around.
      expect(long, source).toBeLessThanOrEqual(4 * (20_000 + end.length));
    }
  });
});

describe('Tokenizer', () => {
  it('replaces emails, phones and keys by placeholders, the same value by the same placeholder', () => {
    const vault = builtins('email', 'phone', 'key').vault('abcdef');
    const result = vault.tokenize({
      rows: [
        { name: 'Ada', email: 'ada@example.com', phone: '+44 20 7946 0958' },
        { name: 'Bob', email: 'bob@example.org', note: 'cc ada@example.com, call (555) 123-4567' },
      ],
      token: 'sk-proj-abcdefghijklmnopqrstuvwxyz123456',
      date: '2024-01-15',
      count: 3,
    });
    expect(result).toEqual({
      rows: [
        { name: 'Ada', email: '[EMAIL_1:abcdef]', phone: '[PHONE_1:abcdef]' },
        { name: 'Bob', email: '[EMAIL_2:abcdef]', note: 'cc [EMAIL_1:abcdef], call [PHONE_2:abcdef]' },
      ],
      token: '[KEY_1:abcdef]',
      date: '2024-01-15',
      count: 3,
    });
    expect(vault.size).toBe(5);
  });

  it('restores its placeholders, counts them, and leaves other brackets alone', () => {
    const vault = builtins('email').vault('abcdef');
    vault.tokenize('ada@example.com');
    expect(
      vault.restore({ to: '[EMAIL_1:abcdef]', cc: ['[y]', 'x [EMAIL_1:abcdef] [EMAIL_1] [a:b]'] }),
    ).toEqual({
      value: { to: 'ada@example.com', cc: ['[y]', 'x ada@example.com [EMAIL_1] [a:b]'] },
      restored: 2,
    });
  });

  it('refuses a placeholder of another vault, and one it never issued, instead of restoring it', () => {
    const first = builtins('email').vault('aaaaaa');
    const second = builtins('email').vault('bbbbbb');
    expect(first.tokenizeText('ada@example.com')).toBe('[EMAIL_1:aaaaaa]');
    expect(second.tokenizeText('bob@example.org')).toBe('[EMAIL_1:bbbbbb]');
    // The same number in the next run's vault is a different person: never restored to it.
    const stale = (() => {
      try {
        second.restore({ to: 'mail [EMAIL_1:aaaaaa]' });
      } catch (error) {
        return error;
      }
    })();
    expect(stale).toBeInstanceOf(PlaceholderError);
    expect(stale).toMatchObject({ placeholder: '[EMAIL_1:aaaaaa]', stale: true });
    expect((stale as Error).message).toMatch(/from another run or session/);
    expect(() => second.restore('[EMAIL_2:bbbbbb]')).toThrow(/is not a placeholder this run received/);
    // Two vaults made without a tag get different random ones.
    const tags = new Set(
      Array.from({ length: 20 }, () => builtins('email').vault().tokenizeText('a@b.io').slice(-8)),
    );
    expect(tags.size).toBe(20);
  });

  it('restores in a text of two million brackets (one scan for the closing bracket, not one per opening)', () => {
    const vault = builtins('email').vault('abcdef');
    vault.tokenize('ada@example.com');
    expect(vault.restoreText(`${'['.repeat(2_000_000)}]`).restored).toBe(0);
    expect(vault.restoreText(`${'['.repeat(1000)}[EMAIL_1:abcdef]`).text).toBe(
      `${'['.repeat(1000)}ada@example.com`,
    );
  });

  it('tokenizes object keys, and keeps a __proto__ key a plain key', () => {
    const vault = builtins('email').vault('abcdef');
    const result = vault.tokenize(JSON.parse('{"ada@example.com": 1, "__proto__": {"x": 1}}')) as object;
    expect(Object.keys(result)).toEqual(['[EMAIL_1:abcdef]', '__proto__']);
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype);
  });

  it('custom patterns name their placeholders', () => {
    const vault = new Tokenizer({ patterns: [{ kind: 'EMPLOYEE_ID', source: 'E-\\d{6}' }] }).vault('abcdef');
    expect(vault.tokenizeText('E-123456 and E-654321 and E-123456')).toBe(
      '[EMPLOYEE_ID_1:abcdef] and [EMPLOYEE_ID_2:abcdef] and [EMPLOYEE_ID_1:abcdef]',
    );
  });

  it('merges overlapping matches of different kinds, so no matched character is left out', () => {
    const tokenizer = new Tokenizer({
      patterns: [
        ...(BUILTIN_PATTERNS.email?.patterns ?? []).map((pattern) => ({ kind: 'EMAIL', ...pattern })),
        { kind: 'SUFFIX', source: 'com-[0-9]+' },
      ],
    });
    expect(tokenizer.vault('abcdef').tokenizeText('to a@b.com-99 now')).toBe('to [EMAIL_1:abcdef] now');
  });

  it('withholds results with more text than it scans, before scanning any', () => {
    const vault = builtins('email').vault();
    expect(() =>
      vault.tokenize({ a: 'x'.repeat(MAX_SCAN_CHARS / 2), b: ['y'.repeat(MAX_SCAN_CHARS / 2 + 1)] }),
    ).toThrow(TokenizeLimitError);
  });

  it('scans text with matches in it in time linear in the text', () => {
    const line = 'lorem ipsum dolor 12345 sit amet, x@y.io +44 20 7946 0958 ';
    const vault = builtins('email', 'phone', 'key').vault('abcdef');
    expect(vault.tokenizeText(line.repeat(3))).toBe(
      'lorem ipsum dolor 12345 sit amet, [EMAIL_1:abcdef] [PHONE_1:abcdef] '.repeat(3),
    );
    const automata = Object.values(BUILTIN_PATTERNS).map(({ patterns }) => new MultiPattern(patterns));
    const text = line.repeat(4096);
    const quarter = readsToScan(automata, text.slice(0, text.length / 4));
    const whole = readsToScan(automata, text);
    expect(whole / quarter).toBeLessThan(4.2);
    // A few reads a character per automaton, matches included (a match's end is read again to
    // learn it is the longest).
    expect(whole).toBeLessThanOrEqual(4 * automata.length * text.length);
  });
});
