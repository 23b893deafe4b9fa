import { describe, expect, it } from 'vitest';
import { SandboxAdmission, sandboxShare } from '../../../src/engine/sandbox-admission.js';

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance(ms: number): void } {
  let time = 1_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** Lets promise callbacks run (admissions resolve in a microtask). */
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('sandboxShare', () => {
  it('gives a principal alone the whole bridge', () => {
    expect(sandboxShare(2, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(sandboxShare(2, 1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('splits the cores between active principals, never below one sandbox each', () => {
    expect(sandboxShare(2, 2)).toBe(1);
    expect(sandboxShare(8, 2)).toBe(4);
    expect(sandboxShare(8, 3)).toBe(2); // rounded down: a core stays free for whoever comes next
    expect(sandboxShare(2, 5)).toBe(1);
  });
});

describe('SandboxAdmission', () => {
  it('admits a principal alone without a cap and without sparing warm sandboxes', async () => {
    const admission = new SandboxAdmission({ cores: 2 });
    admission.enterRun('alice');
    const tickets = await Promise.all([1, 2, 3, 4].map(() => admission.admit('alice')));
    expect(admission.running('alice')).toBe(4);
    expect(tickets.map((ticket) => ticket.claim)).toEqual([undefined, undefined, undefined, undefined]);
  });

  it("queues a principal's runs past its share in order, and admits another's at once", async () => {
    const time = clock();
    const admission = new SandboxAdmission({ cores: 2, now: time.now });
    admission.enterRun('bob');
    for (let run = 0; run < 4; run++) admission.enterRun('alice');
    const order: string[] = [];
    const first = await admission.admit('alice');
    const queued = ['a2', 'a3', 'a4'].map((name) =>
      admission.admit('alice').then((ticket) => {
        order.push(name);
        return ticket;
      }),
    );
    await flush();
    expect(admission.waiting('alice')).toBe(3);
    // Bob is within his share: admitted at once, past alice's queue.
    const bob = await admission.admit('bob');
    order.push('bob');
    expect(order).toEqual(['bob']);
    first.release();
    first.release(); // releasing twice frees one place only
    const second = await queued[0];
    await flush();
    expect(order).toEqual(['bob', 'a2']);
    second?.release();
    (await queued[1])?.release();
    await queued[2];
    expect(order).toEqual(['bob', 'a2', 'a3', 'a4']);
    bob.release();
  });

  it('leaves a warm sandbox to each other active principal running none', async () => {
    const admission = new SandboxAdmission({ cores: 8 });
    for (const principal of ['alice', 'bob', 'carol']) admission.enterRun(principal);
    const alice = await admission.admit('alice');
    expect(alice.claim).toEqual({ spare: 2 }); // bob and carol run nothing
    const bob = await admission.admit('bob');
    expect(bob.claim).toEqual({ spare: 1 }); // carol runs nothing; alice runs one
    const carol = await admission.admit('carol');
    expect(carol.claim).toBeUndefined();
  });

  it('gives a freed place to the waiting principal running the fewest', async () => {
    const admission = new SandboxAdmission({ cores: 3 });
    for (const principal of ['alice', 'bob', 'carol']) admission.enterRun(principal);
    const alice = await admission.admit('alice'); // three cores, three active: one each
    const bob = await admission.admit('bob');
    const order: string[] = [];
    const aliceNext = admission.admit('alice').then((ticket) => order.push('alice') && ticket);
    const bobNext = admission.admit('bob').then((ticket) => order.push('bob') && ticket);
    await flush();
    expect(order).toEqual([]);
    alice.release(); // alice runs none now: her queue goes first
    await flush();
    expect(order).toEqual(['alice']);
    bob.release();
    await flush();
    expect(order).toEqual(['alice', 'bob']);
    await Promise.all([aliceNext, bobNext]);
  });

  it('keeps a principal active for the window after its last run, then gives the others the bridge back', async () => {
    const time = clock();
    const admission = new SandboxAdmission({ cores: 2, activeWindowMs: 30_000, now: time.now });
    const bobLeft = admission.enterRun('bob');
    admission.enterRun('alice');
    bobLeft();
    time.advance(29_000);
    expect(admission.share()).toBe(1); // bob paused, as an agent does between runs: still counted
    time.advance(1_000);
    expect(admission.share()).toBe(Number.POSITIVE_INFINITY);
  });

  it("admits the waiting runs when another principal's window lapses", async () => {
    const admission = new SandboxAdmission({ cores: 2, activeWindowMs: 30 });
    admission.enterRun('bob')();
    admission.enterRun('alice');
    const held = await admission.admit('alice');
    const next = admission.admit('alice');
    expect(admission.waiting('alice')).toBe(1);
    // Nothing is released: only bob's window lapsing (a timer) admits the waiting run.
    await next;
    expect(admission.running('alice')).toBe(2);
    held.release();
  });

  it('loses nothing when a waiting run is cancelled: the next in line still gets the place', async () => {
    const admission = new SandboxAdmission({ cores: 2 });
    admission.enterRun('bob');
    admission.enterRun('alice');
    const held = await admission.admit('alice');
    const cancel = new AbortController();
    const cancelled = admission.admit('alice', cancel.signal);
    const after = admission.admit('alice');
    cancel.abort(new Error('cancelled by the client'));
    await expect(cancelled).rejects.toThrow('cancelled by the client');
    expect(admission.waiting('alice')).toBe(1);
    held.release();
    await after;
    expect(admission.running('alice')).toBe(1);
    expect(admission.waiting()).toBe(0);
  });

  it('refuses at once when the signal has already aborted', async () => {
    const admission = new SandboxAdmission({ cores: 2 });
    const controller = new AbortController();
    controller.abort(new Error('timed out'));
    await expect(admission.admit('alice', controller.signal)).rejects.toThrow('timed out');
    expect(admission.running()).toBe(0);
  });
});
