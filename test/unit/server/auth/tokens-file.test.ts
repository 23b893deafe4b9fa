import { describe, expect, it } from 'vitest';
import { parseTokensFile, tokenDigest } from '../../../../src/server/http/auth/tokens-file.js';
import { jsonLineOf, tomlLineOf } from '../../../../src/shared/file-lines.js';

const TOKEN = 'a-token-of-at-least-16';
const DIGEST = tokenDigest('another-token-0123456789').toString('hex');

describe('tokens file', () => {
  it('reads TOML and JSON entries, a token or its digest, role user by default', () => {
    const toml = `[[tokens]]\nname = "alice"\ntoken = "${TOKEN}"\n\n[[tokens]]\nname = "ops@team"\nrole = "admin"\nsha256 = "${DIGEST.toUpperCase()}"\n`;
    const entries = parseTokensFile(toml, 'tokens.toml');
    expect(entries.map(({ name, role }) => [name, role])).toEqual([
      ['alice', 'user'],
      ['ops@team', 'admin'],
    ]);
    expect(entries[0]?.digest.equals(tokenDigest(TOKEN))).toBe(true);
    expect(entries[1]?.digest.toString('hex')).toBe(DIGEST);
    const json = JSON.stringify({ tokens: [{ name: 'alice', token: TOKEN }] });
    expect(parseTokensFile(json, 'tokens.json')).toHaveLength(1);
  });

  it.each([
    [
      '[[tokens]]\nname = "alice"\n',
      'tokens.toml:1: tokens[0]: give the token either as `token` or as its digest `sha256`',
    ],
    [
      `[[tokens]]\nname = "alice"\ntoken = "short"\n`,
      'tokens.toml:3: tokens[0].token: expected at least 16 characters',
    ],
    [
      `[[tokens]]\nname = "al ice"\ntoken = "${TOKEN}"\n`,
      'tokens.toml:2: tokens[0].name: expected 1-64 letters',
    ],
    [
      `[[tokens]]\nname = "a"\ntoken = "${TOKEN}"\nsha256 = "${DIGEST}"\n`,
      'tokens.toml:4: tokens[0].sha256: give the token either',
    ],
    [
      `[[tokens]]\nname = "a"\ntoken = "${TOKEN}"\nrol = "admin"\n`,
      'tokens.toml:4: tokens[0]: unknown key rol;',
    ],
    [
      `[[tokens]]\nname = "a"\ntoken = "${TOKEN}"\n[[tokens]]\nname = "a"\ntoken = "${TOKEN}x"\n`,
      'tokens.toml:5: tokens[1].name: "a" is also the name of tokens[0]',
    ],
    [
      `[[tokens]]\nname = "a"\ntoken = "${TOKEN}"\n[[tokens]]\nname = "b"\nsha256 = "${tokenDigest(TOKEN).toString('hex')}"\n`,
      'tokens.toml:4: tokens[1]: the same token as tokens[0] ("a")',
    ],
    [
      'name = "x"\n',
      'tokens.toml: tokens: expected a list of [[tokens]] entries; tokens.toml:1: (top level): unknown key name;',
    ],
    ['tokens = []\n', 'tokens.toml:1: tokens: expected at least one [[tokens]] entry'],
    ['[[tokens]\n', 'tokens.toml:1: not valid TOML'],
  ])('says what is wrong, where: %s', (text, message) => {
    expect(() => parseTokensFile(text, 'tokens.toml')).toThrow(message);
  });

  it('names JSON lines too', () => {
    const text =
      '{\n  "tokens": [\n    {"name": "a", "token": "' +
      TOKEN +
      '"},\n    {"name": "b",\n     "role": "root", "token": "' +
      TOKEN +
      'x"}\n  ]\n}\n';
    expect(() => parseTokensFile(text, 'tokens.json')).toThrow(
      'tokens.json:5: tokens[1].role: expected "user" or "admin"',
    );
    expect(() => parseTokensFile('{"tokens": [}', 'tokens.json')).toThrow(
      /^tokens\.json(:1)?: not valid JSON/,
    );
  });
});

describe('file lines', () => {
  it('finds values in JSON by path, or the nearest ancestor', () => {
    const text = '{\n "a": [\n  1,\n  {"b": "x",\n   "c": {"d": true}}\n ],\n "e": "q\\"]}"\n}';
    expect(jsonLineOf(text, ['a'])).toBe(2);
    expect(jsonLineOf(text, ['a', 0])).toBe(3);
    expect(jsonLineOf(text, ['a', 1, 'c', 'd'])).toBe(5);
    expect(jsonLineOf(text, ['a', 1, 'missing'])).toBe(4);
    expect(jsonLineOf(text, ['e'])).toBe(7);
  });

  it('finds TOML array-table entries and keys', () => {
    const text = 'top = 1\n[[t]]\nx = 1\n\n[[t]]\n"y" = 2\n[other]\nx = 3\n';
    expect(tomlLineOf(text, ['top'])).toBe(1);
    expect(tomlLineOf(text, ['t', 1, 'y'])).toBe(6);
    expect(tomlLineOf(text, ['t', 1, 'x'])).toBe(5);
    expect(tomlLineOf(text, ['t', 0])).toBe(2);
    expect(tomlLineOf(text, ['t', 2])).toBeUndefined();
  });
});
