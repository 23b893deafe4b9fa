import { describe, expect, it } from 'vitest';
import { cgroupWeightValue, DEFAULT_CPU_WEIGHT, niceForWeight } from '../../../src/sandbox/cpu-weight.js';

describe('cgroupWeightValue', () => {
  it("writes cgroup v2's cpu.weight as it is, within 1–10,000", () => {
    expect(cgroupWeightValue(2, DEFAULT_CPU_WEIGHT)).toEqual({ file: 'cpu.weight', value: '100' });
    expect(cgroupWeightValue(2, 25)).toEqual({ file: 'cpu.weight', value: '25' });
    expect(cgroupWeightValue(2, 0)).toEqual({ file: 'cpu.weight', value: '1' });
    expect(cgroupWeightValue(2, 50_000)).toEqual({ file: 'cpu.weight', value: '10000' });
  });

  it("scales to cgroup v1's cpu.shares, whose default is 1024 and floor 2", () => {
    expect(cgroupWeightValue(1, DEFAULT_CPU_WEIGHT)).toEqual({ file: 'cpu.shares', value: '1024' });
    expect(cgroupWeightValue(1, 25)).toEqual({ file: 'cpu.shares', value: '256' });
    expect(cgroupWeightValue(1, 1)).toEqual({ file: 'cpu.shares', value: '10' });
  });
});

describe('niceForWeight', () => {
  it('leaves a sandbox at or above the default weight at niceness 0', () => {
    expect(niceForWeight(100)).toBe(0);
    expect(niceForWeight(400)).toBe(0);
  });

  it('lowers priority by about 1.25× per step, up to 19', () => {
    expect(niceForWeight(50)).toBe(3); // 1.25^3 ≈ 1.95
    expect(niceForWeight(25)).toBe(6); // 1.25^6 ≈ 3.8
    expect(niceForWeight(1)).toBe(19);
  });
});
