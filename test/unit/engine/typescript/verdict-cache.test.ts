/**
 * The verdict cache's keys and bounds (pure logic; the cache in front of the real checker is in
 * test/integration/typescript-check-service.test.ts): a key changes with anything that can change a
 * check's answer, and the cache holds at most its entries and bytes, least recently used leaving first.
 */
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../../../src/engine/typescript/program-checker.js';
import { VerdictCache } from '../../../../src/engine/typescript/verdict-cache.js';

const pass: CheckResult = { diagnostics: [], omitted: 0 };
const fail = (message: string): CheckResult => ({
  diagnostics: [{ line: 1, column: 1, code: 2322, message }],
  omitted: 0,
});
const weather = { key: 'k1', text: 'declare interface McpServers { weather: {} }' };
const clock = { key: 'k2', text: 'declare interface McpServers { clock: {} }' };

describe('VerdictCache', () => {
  const cache = new VerdictCache({ checker: 'ts 5.9.3 / options / mcp.d.ts' });

  it('keys a check by its program, its declarations in order, and the checker', () => {
    const base = cache.key('console.log(1);', [weather, clock]);
    expect(cache.key('console.log(1);', [weather, clock])).toBe(base);
    expect(cache.key('console.log(2);', [weather, clock])).not.toBe(base);
    expect(cache.key('console.log(1);', [weather])).not.toBe(base);
    expect(cache.key('console.log(1);', [clock, weather])).not.toBe(base);
    // The same key with another text: the declarations changed, so the check is not the same.
    expect(cache.key('console.log(1);', [weather, { ...clock, text: `${clock.text} ` }])).not.toBe(base);
    const other = new VerdictCache({ checker: 'ts 5.9.4 / options / mcp.d.ts' });
    expect(other.key('console.log(1);', [weather, clock])).not.toBe(base);
  });

  it('cannot be fooled by moving text between a declaration and the program', () => {
    const a = cache.key('b', [{ key: 'x', text: 'a' }]);
    const b = cache.key('', [{ key: 'x', text: 'ab' }]);
    const c = cache.key('ab', []);
    expect(new Set([a, b, c]).size).toBe(3);
  });

  it('answers what was stored under a key, and nothing for another', () => {
    const key = cache.key('const n: number = "x";', [weather]);
    cache.set(key, fail("Type 'string' is not assignable to type 'number'."));
    expect(cache.get(key)).toEqual(fail("Type 'string' is not assignable to type 'number'."));
    expect(cache.get(cache.key('const n: number = "x";', [clock]))).toBeUndefined();
  });

  it('keeps at most its entries, the least recently used leaving first', () => {
    const small = new VerdictCache({ checker: 'c', maxEntries: 2 });
    small.set('a', pass);
    small.set('b', pass);
    small.get('a');
    small.set('c', pass);
    expect(small.get('a')).toBe(pass);
    expect(small.get('b')).toBeUndefined();
    expect(small.get('c')).toBe(pass);
    expect(small.stats.entries).toBe(2);
  });

  it('keeps at most its bytes, and never an entry larger than all of them', () => {
    const big = fail('x'.repeat(1000));
    const bytes = new VerdictCache({ checker: 'c', maxBytes: 4000 });
    bytes.set('a', big);
    bytes.set('b', big);
    expect(bytes.stats.entries).toBe(1);
    expect(bytes.get('b')).toBe(big);
    expect(bytes.stats.bytes).toBeLessThanOrEqual(4000);
    bytes.set('huge', fail('x'.repeat(10_000)));
    expect(bytes.get('huge')).toBeUndefined();
    expect(bytes.get('b')).toBe(big);
  });
});
