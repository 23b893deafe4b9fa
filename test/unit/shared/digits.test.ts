import { describe, expect, it } from 'vitest';
import { groupDigits } from '../../../src/shared/digits.js';

describe('groupDigits', () => {
  it('prints whole counts as en-US does', () => {
    for (const count of [0, 7, 999, 1000, 12_345, 999_999, 1_000_000, 20_000, 1234567890, -1234567]) {
      expect(groupDigits(count)).toBe(count.toLocaleString('en-US'));
    }
    expect(groupDigits(1_000_000)).toBe('1,000,000');
    expect(groupDigits(Number.MAX_SAFE_INTEGER)).toBe('9,007,199,254,740,991');
  });

  it('leaves what is not a whole count to the locale', () => {
    expect(groupDigits(1234.5)).toBe('1,234.5');
    expect(groupDigits(Number.POSITIVE_INFINITY)).toBe('∞');
  });
});
