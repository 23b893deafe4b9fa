import { describe, expect, it } from 'vitest';
import { compileGlob, isPattern } from '../../../../src/engine/policy/glob.js';

describe('compileGlob', () => {
  it.each([
    ['write_file', 'write_file', true],
    ['write_file', 'write_files', false],
    ['write_*', 'write_file', true],
    ['write_*', 'write_', true],
    ['write_*', 'read_file', false],
    ['*', '', true],
    ['*_file', 'read_text_file', true],
    ['*.delete_*', 'memory.delete_entities', true],
    ['*.delete_*', 'my.server.delete_all', true],
    ['*.delete_*', 'memory.create_entities', false],
    ['read_?', 'read_x', true],
    ['read_?', 'read_xy', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXcYYb', false],
    ['\\*', '*', true],
    ['\\*', 'x', false],
  ])('%s against %s is %s', (pattern, name, expected) => {
    expect(compileGlob(pattern).matches(name)).toBe(expected);
  });

  it('stays fast on a pathological pattern and name', () => {
    const glob = compileGlob(`${'*a'.repeat(50)}b`);
    const started = performance.now();
    expect(glob.matches('a'.repeat(10_000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('tells patterns from names', () => {
    expect(isPattern('filesystem')).toBe(false);
    expect(isPattern('file*')).toBe(true);
  });
});
