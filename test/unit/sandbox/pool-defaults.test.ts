/** The warm pool's default ceiling per runtime: containers a fixed 16, embedded workers by cores. */
import { describe, expect, it } from 'vitest';
import { defaultPoolMax } from '../../../src/sandbox/sandbox-service.js';

describe('defaultPoolMax', () => {
  it('is 16 for containers whatever the cores', () => {
    expect(defaultPoolMax('podman', 1)).toBe(16);
    expect(defaultPoolMax('docker', 64)).toBe(16);
  });

  it('gives the embedded sandbox 8 workers per core, at most 16', () => {
    expect(defaultPoolMax('embedded', 1)).toBe(8);
    expect(defaultPoolMax('embedded', 2)).toBe(16);
    expect(defaultPoolMax('embedded', 32)).toBe(16);
  });
});
