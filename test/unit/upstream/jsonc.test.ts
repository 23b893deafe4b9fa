import { describe, expect, it } from 'vitest';
import { parseJsonc, stripJsonComments } from '../../../src/upstream/config/jsonc.js';

describe('stripJsonComments', () => {
  it.each([
    ['{"a": 1} // c', { a: 1 }],
    ['{/* c */"a": 1}', { a: 1 }],
    ['{"a": [1, 2,],}', { a: [1, 2] }],
    ['{"a": 1, // c\n}', { a: 1 }],
    ['{"a": "// not a comment", "b": "/* nor this */"}', { a: '// not a comment', b: '/* nor this */' }],
    ['{"a": "quote \\" , }", "b": 2}', { a: 'quote " , }', b: 2 }],
    ['{"a": "x",\n /* block\n comment */ }', { a: 'x' }],
  ])('%j', (text, expected) => {
    expect(JSON.parse(stripJsonComments(text))).toEqual(expected);
  });

  it('keeps every position, so JSON errors still point into the original text', () => {
    const text = '{ /* c */ "a": 1,\n // x\n "b": }';
    const stripped = stripJsonComments(text);
    expect(stripped).toHaveLength(text.length);
    expect(stripped.split('\n')).toHaveLength(3);
  });
});

describe('parseJsonc', () => {
  it('parses plain JSON and JSONC, and throws SyntaxError on garbage', () => {
    expect(parseJsonc('{"a":1}')).toEqual({ a: 1 });
    expect(parseJsonc('// c\n{"a":1,}')).toEqual({ a: 1 });
    expect(() => parseJsonc('{"a":')).toThrow(SyntaxError);
  });
});
