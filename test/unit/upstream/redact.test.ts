import { describe, expect, it } from 'vitest';
import { createRedactor, isSecretCandidate, REDACTED } from '../../../src/upstream/redact.js';

describe('isSecretCandidate', () => {
  it.each([
    ['s3cr3t-token', true],
    ['/home/u', true],
    ['abcd', true],
    ['123456', true],
    ['abc', false],
    ['  ab  ', false],
    ['', false],
    ['1', false],
    ['true', false],
    ['FALSE', false],
    ['null', false],
    ['None', false],
    ['undefined', false],
    ['8080', false],
    ['30000', false],
  ])('%j → %j', (value, expected) => {
    expect(isSecretCandidate(value)).toBe(expected);
  });
});

describe('createRedactor', () => {
  it.each<[string, string[], string, string]>([
    ['one secret', ['hunter22'], 'password is hunter22, ok', `password is ${REDACTED}, ok`],
    ['every occurrence', ['tok3n'], 'tok3n/tok3n tok3n', `${REDACTED}/${REDACTED} ${REDACTED}`],
    ['no secret in the text', ['tok3n'], 'nothing here', 'nothing here'],
    ['no secrets at all', [], 'tok3n', 'tok3n'],
    [
      'short and common values ignored',
      ['1', 'on', 'true', '8080'],
      'DEBUG=1 on true :8080',
      'DEBUG=1 on true :8080',
    ],
    ['the longest wins over its substrings', ['abcd', 'abcdefgh'], 'xabcdefghx', `x${REDACTED}x`],
    ['a substring found first is absorbed', ['cdef', 'abcdefgh'], 'abcdefgh', REDACTED],
    ['overlapping occurrences become one marker', ['abcdef', 'defghi'], '-abcdefghi-', `-${REDACTED}-`],
    ['adjacent occurrences become one marker', ['aaaa', 'bbbb'], 'aaaabbbb', REDACTED],
    ['overlaps of one secret with itself', ['abab'], 'ababab', REDACTED],
    ['failure links across partial matches', ['aabaac'], 'aabaabaac', `aab${REDACTED}`],
    ['JSON-escaped spelling', ['pa"ss\\word'], 'url "pa\\"ss\\\\word"', `url "${REDACTED}"`],
    ['percent-encoded spelling', ['a b/c+d'], 'https://h/?k=a%20b%2Fc%2Bd', `https://h/?k=${REDACTED}`],
    ['trimmed spelling', ['  spaced-out  '], 'value: spaced-out.', `value: ${REDACTED}.`],
    ['non-ASCII', ['clé-secrète'], '«clé-secrète»', `«${REDACTED}»`],
    ['secret at both ends', ['edge'], 'edge middle edge', `${REDACTED} middle ${REDACTED}`],
  ])('%s', (_name, secrets, text, expected) => {
    expect(createRedactor(secrets)(text)).toBe(expected);
  });

  it('handles a long text made of near-misses (one pass, no backtracking)', () => {
    const secret = `${'a'.repeat(999)}b`;
    const text = 'a'.repeat(1_000_000);
    const redact = createRedactor([secret, `${'a'.repeat(500)}c`]);
    expect(redact(text)).toBe(text);
    expect(redact(`${text}b`)).toBe(`${'a'.repeat(1_000_000 - 999)}${REDACTED}`);
  });

  it('leaves no secret in the output whatever the mix', () => {
    const secrets = ['abcabc', 'bcab', 'cabca', 'zzzz'];
    const redact = createRedactor(secrets);
    for (let seed = 0; seed < 300; seed++) {
      let text = '';
      let state = seed + 1;
      for (let i = 0; i < 60; i++) {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        text += 'abcz'[state % 4];
      }
      const output = redact(text);
      for (const secret of secrets) expect(output.replaceAll(REDACTED, '|')).not.toContain(secret);
    }
  });
});
