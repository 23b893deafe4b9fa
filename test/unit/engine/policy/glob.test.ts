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

  it('reads a name at most once per pattern token on a pathological pattern, and linearly in the name', () => {
    // Backtracking over each `*` would be exponential here: 50 stars, no `b` in the name.
    const pattern = `${'*a'.repeat(50)}b`;
    const glob = compileGlob(pattern);
    const reads = (length: number) => {
      const name = 'a'.repeat(length);
      let count = 0;
      // The name as the matcher reads it (`length`, indexing), counting the characters read.
      const standIn = new Proxy(
        {},
        {
          get: (_target, key) => {
            if (key === 'length') return name.length;
            count++;
            return name[Number(key)];
          },
        },
      );
      expect(glob.matches(standIn as string)).toBe(false);
      return count;
    };
    const short = reads(2_000);
    const long = reads(8_000);
    expect(long / short).toBeLessThan(4.2);
    expect(long).toBeLessThanOrEqual(8_000 * pattern.length);
  });

  it('tells patterns from names', () => {
    expect(isPattern('filesystem')).toBe(false);
    expect(isPattern('file*')).toBe(true);
  });
});
