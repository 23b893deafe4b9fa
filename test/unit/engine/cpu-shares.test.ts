import { describe, expect, it } from 'vitest';
import { CpuShares, sandboxCpuWeight } from '../../../src/engine/cpu-shares.js';

/** A sandbox as the shares see it: the weights it was given, in order. */
function sandbox(): { setCpuWeight(weight: number): void; weights: number[] } {
  const weights: number[] = [];
  return { setCpuWeight: (weight) => weights.push(weight), weights };
}

describe('sandboxCpuWeight', () => {
  it("splits one sandbox's default weight between a principal's running sandboxes", () => {
    expect(sandboxCpuWeight(1)).toBe(100);
    expect(sandboxCpuWeight(2)).toBe(50);
    expect(sandboxCpuWeight(4)).toBe(25);
    expect(sandboxCpuWeight(3)).toBe(33);
  });

  it('never goes below 1, and treats none running as one', () => {
    expect(sandboxCpuWeight(500)).toBe(1);
    expect(sandboxCpuWeight(0)).toBe(100);
  });
});

describe('CpuShares', () => {
  it("reweighs a principal's sandboxes as they come and go, and leaves the others' alone", () => {
    const shares = new CpuShares();
    const [a1, a2, a3, b1] = [sandbox(), sandbox(), sandbox(), sandbox()];
    const leaveA1 = shares.enter('alice', a1);
    shares.enter('alice', a2);
    shares.enter('bob', b1);
    shares.enter('alice', a3);
    // Only changes are written: every sandbox starts at the default (100).
    expect(a1.weights).toEqual([50, 33]);
    expect(a2.weights).toEqual([50, 33]);
    expect(a3.weights).toEqual([33]);
    expect(b1.weights).toEqual([]);
    expect(shares.running('alice')).toBe(3);

    leaveA1();
    leaveA1(); // leaving twice counts once
    expect(shares.running('alice')).toBe(2);
    // The one that left goes back to the default (a session's sandbox waits for its next program).
    expect(a1.weights.at(-1)).toBe(100);
    expect(a2.weights.at(-1)).toBe(50);
    expect(a3.weights.at(-1)).toBe(50);
    expect(b1.weights).toEqual([]);
  });

  it('writes nothing for a principal running one program at a time, and forgets it once it leaves', () => {
    const shares = new CpuShares();
    const only = sandbox();
    const leave = shares.enter('carol', only);
    leave();
    expect(shares.running('carol')).toBe(0);
    expect(only.weights).toEqual([]);
    const again = sandbox();
    shares.enter('carol', again);
    expect(again.weights).toEqual([]);
  });

  it('puts a kept sandbox back to the default when its program ends, once', () => {
    const shares = new CpuShares();
    const kept = sandbox();
    const other = sandbox();
    const leaveKept = shares.enter('dave', kept);
    shares.enter('dave', other);
    leaveKept();
    expect(kept.weights).toEqual([50, 100]);
    expect(other.weights).toEqual([50, 100]);
    shares.enter('dave', kept); // its next program: two running again
    expect(kept.weights).toEqual([50, 100, 50]);
  });

  it('takes sandboxes that cannot be weighed (no setCpuWeight) into the count all the same', () => {
    const shares = new CpuShares();
    const weighed = sandbox();
    shares.enter('alice', {});
    shares.enter('alice', weighed);
    expect(weighed.weights).toEqual([50]);
  });
});
