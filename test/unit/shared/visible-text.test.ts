import { describe, expect, it } from 'vitest';
import { hasHiddenCharacters, visibleJson, visibleText } from '../../../src/shared/visible-text.js';

describe('visibleText', () => {
  it.each([
    ['plain_tool-name.v2', 'plain_tool-name.v2'],
    ['clear\x1b[2J\x1b[Hscreen', 'clear\\x1b[2J\\x1b[Hscreen'],
    ['forged\r\nline', 'forged\\r\\nline'],
    ['tab\there', 'tab\\there'],
    ['bell\x07 nul\x00 del\x7f', 'bell\\x07 nul\\x00 del\\x7f'],
    ['c1 csi\u009b2J', 'c1 csi\\x9b2J'],
    ['line\u2028separator\u2029paragraph', 'line\\u2028separator\\u2029paragraph'],
    ['rlo\u202eevil\u202c', 'rlo\\u202eevil\\u202c'],
    ['isolates\u2066\u2067\u2068\u2069', 'isolates\\u2066\\u2067\\u2068\\u2069'],
    ['marks\u200e\u200f\u061c', 'marks\\u200e\\u200f\\u061c'],
    ['zero\u200bwidth\ufeffbom', 'zero\\u200bwidth\\ufeffbom'],
    ['nbsp\u00a0ideographic\u3000', 'nbsp\\xa0ideographic\\u3000'],
    ['tag\u{e0041}chars', 'tag\\u{e0041}chars'],
    ['hangul\u3164filler', 'hangul\\u3164filler'],
    ['back\\slash', 'back\\\\slash'],
    ['lone \ud800 surrogate', 'lone \\ud800 surrogate'],
    // Visible characters stay, however exotic: a lookalike hyphen is shown, not hidden.
    ['delete\u2010file é 日本', 'delete\u2010file é 日本'],
  ])('%j is shown as %j', (text, shown) => {
    expect(visibleText(text)).toBe(shown);
  });

  it('leaves no character that a terminal acts on or hides', () => {
    let all = '';
    for (let code = 0; code < 0x3000 + 1; code++) all += String.fromCodePoint(code);
    const shown = visibleText(all);
    const acted = [...shown].filter((char) => {
      const code = char.codePointAt(0) as number;
      return (
        code < 0x20 ||
        (code >= 0x7f && code <= 0x9f) ||
        (code >= 0x200b && code <= 0x200f) ||
        (code >= 0x2028 && code <= 0x202e) ||
        (code >= 0x2066 && code <= 0x2069)
      );
    });
    expect(acted).toEqual([]);
    expect(hasHiddenCharacters(shown)).toBe(false);
  });
});

describe('visibleJson', () => {
  it('escapes what JSON.stringify leaves, and parses back to the same value', () => {
    const value = { 'key\u2028': 'a\u2029b\u202ec\x7fd\u0085e\x1bf', n: 1, list: ['\u200f'] };
    const json = visibleJson(JSON.stringify(value));
    expect(json).toBe('{"key\\u2028":"a\\u2029b\\u202ec\\u007fd\\u0085e\\u001bf","n":1,"list":["\\u200f"]}');
    expect(JSON.parse(json)).toEqual(value);
    expect(hasHiddenCharacters(json)).toBe(false);
  });

  it('writes an astral character as a surrogate pair of escapes', () => {
    const json = visibleJson(JSON.stringify('x\u{e0041}'));
    expect(json).toBe('"x\\udb40\\udc41"');
    expect(JSON.parse(json)).toBe('x\u{e0041}');
  });
});
