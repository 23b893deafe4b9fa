import { describe, expect, it } from 'vitest';
import { OutputBuffer } from '../../../src/engine/output-buffer.js';

describe('OutputBuffer', () => {
  it('keeps everything under the limit', () => {
    const buffer = new OutputBuffer(10);
    buffer.append('abc');
    buffer.append('def');
    expect(buffer.text()).toBe('abcdef');
    expect(buffer.elidedChars).toBe(0);
  });

  it('keeps head and tail and counts the middle', () => {
    const buffer = new OutputBuffer(10);
    for (const chunk of ['01234', '56789', 'abcde', 'fghij']) buffer.append(chunk);
    expect(buffer.text()).toBe('01234\n… [10 characters elided] …\nfghij');
    expect(buffer.elidedChars).toBe(10);
    expect(buffer.totalChars).toBe(20);
  });

  it('bounds memory for a flood in one chunk', () => {
    const buffer = new OutputBuffer(6);
    buffer.append('x'.repeat(1_000_000));
    buffer.append('END');
    expect(buffer.text()).toBe('xxx\n… [999,997 characters elided] …\nEND');
  });

  it('rolls the tail over small chunks', () => {
    const buffer = new OutputBuffer(4);
    for (const char of 'abcdefgh') buffer.append(char);
    expect(buffer.text()).toBe('ab\n… [4 characters elided] …\ngh');
  });
});
