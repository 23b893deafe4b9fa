import { describe, expect, it } from 'vitest';
import { boundedDistance, closestNames, normalizeName } from '../../../src/engine/closest-names.js';

const LISTED = ['delete-file', 'delete_directory', 'read_file', 'write_file', 'list_files', 'move_file'];

describe('closestNames', () => {
  it.each([
    ['DELETE-FILE', ['delete-file']],
    ['delete\u2010file', ['delete-file']],
    ['delete-file ', ['delete-file']],
    ['delete\u200bfile', ['delete-file']],
    ['delete.file', ['delete-file']],
    ['ｄｅｌｅｔｅ－ｆｉｌｅ', ['delete-file']],
    ['reed_file', ['read_file']],
    ['list_file', ['list_files']],
    ['write', ['write_file']],
    ['completely_unrelated', []],
    ['', []],
  ])('%j → %j', (name, expected) => {
    expect(closestNames(name, LISTED)).toEqual(expected);
  });

  it('ranks by distance and keeps at most the limit', () => {
    expect(closestNames('file', ['file1', 'file22', 'afile', 'x'], 2)).toEqual(['afile', 'file1']);
  });

  it('compares long names by their start, within a bounded distance', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `tool_${i}_${'x'.repeat(200)}`);
    expect(closestNames('y'.repeat(256), many)).toEqual([]);
    expect(closestNames(`tool_42_${'x'.repeat(300)}`, many)[0]).toBe(many[42]);
  });
});

describe('normalizeName and boundedDistance', () => {
  it('normalises case, widths, dashes, spaces and hidden characters', () => {
    expect(normalizeName(' Delete\u2014File\u202e ')).toBe('delete_file');
  });

  it('computes the distance within its bound, and says when it is beyond', () => {
    expect(boundedDistance('kitten', 'sitting', 3)).toBe(3);
    expect(boundedDistance('kitten', 'sitting', 2)).toBe(3);
    expect(boundedDistance('abc', 'abc', 0)).toBe(0);
    expect(boundedDistance('a', 'abcdef', 2)).toBe(3);
  });
});
