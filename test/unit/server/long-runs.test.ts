/**
 * The table of runs that outlast a call, against runs scripted by the test (a promise it settles and
 * output it pushes): pieces of output between returns, the result after pieces, a newer wait taking
 * over, the cap on handles, expiry of a finished run nobody waits for, cancellation, close.
 */
import { describe, expect, it } from 'vitest';
import type { RunOutcome } from '../../../src/engine/types.js';
import { type LongRunHooks, LongRuns, type RunStep } from '../../../src/server/long-runs.js';

interface Scripted {
  hooks: LongRunHooks;
  end(outcome?: Partial<RunOutcome>): void;
}

function table(options: Partial<ConstructorParameters<typeof LongRuns>[0]> = {}) {
  const runs = new LongRuns({ maxHandles: 4, keepFinishedMs: 60_000, maxOutputChars: 1000, ...options });
  const start = () => {
    let scripted!: Scripted;
    const run = runs.start(5000, (hooks) => {
      let resolve!: (outcome: RunOutcome) => void;
      const promise = new Promise<RunOutcome>((settle) => {
        resolve = settle;
      });
      hooks.signal.addEventListener('abort', () =>
        resolve({ status: 'cancelled', stdout: '', stderr: '', durationMs: 1 }),
      );
      scripted = {
        hooks,
        end: (outcome = {}) =>
          resolve({ status: 'ok', stdout: 'ALL', stderr: '', durationMs: 1, ...outcome }),
      };
      return promise;
    });
    return { run, scripted };
  };
  return { runs, start };
}

const handleOf = (step: RunStep) => (step.kind === 'running' ? step.handle : undefined);

describe('LongRuns', () => {
  it('returns a run that ends before the yield point as it is, with no handle', async () => {
    const { runs, start } = table();
    const { run, scripted } = start();
    scripted.hooks.onOutput('stdout', 'x\n');
    scripted.end({ stdout: 'x\n' });
    const step = await runs.next(run, 10_000);
    expect(step).toEqual({ kind: 'done', outcome: expect.objectContaining({ stdout: 'x\n' }) });
  });

  it('returns output in pieces, each what was printed since the last, and the result with the rest', async () => {
    const { runs, start } = table();
    const { run, scripted } = start();
    scripted.hooks.onOutput('stdout', 'a\n');
    scripted.hooks.onOutput('stderr', 'warn\n');
    const first = await runs.next(run, 5);
    expect(first).toMatchObject({ kind: 'running', stdout: 'a\n', stderr: 'warn\n' });
    const handle = handleOf(first) as string;
    expect(runs.get(handle)).toBe(run);
    const empty = await runs.next(run, 5);
    expect(empty).toMatchObject({ kind: 'running', handle, stdout: '', stderr: '' });
    scripted.hooks.onOutput('stdout', 'b\n');
    scripted.end({ stdout: 'a\nb\n', truncated: { stdout: 3 } });
    const last = await runs.next(run, 5);
    expect(last).toEqual({ kind: 'done', outcome: expect.objectContaining({ status: 'ok', stdout: 'b\n' }) });
    expect(last.kind === 'done' && last.outcome.truncated).toBeFalsy();
    expect(runs.get(handle)).toBeUndefined();
  });

  it('caps each piece like a whole run, saying how much it elided', async () => {
    const { runs, start } = table({ maxOutputChars: 10 });
    const { run, scripted } = start();
    scripted.hooks.onOutput('stdout', 'x'.repeat(100));
    const piece = await runs.next(run, 5);
    expect(piece).toMatchObject({ kind: 'running', truncated: { stdout: 90 } });
    scripted.end();
  });

  it('lets a newer wait take over: the older returns at once', async () => {
    const { runs, start } = table();
    const { run, scripted } = start();
    await runs.next(run, 5);
    const older = runs.next(run, 0);
    const newer = runs.next(run, 0);
    expect(await older).toMatchObject({ kind: 'running' });
    scripted.end();
    expect(await newer).toMatchObject({ kind: 'done' });
  });

  it("ends the run when a wait's caller cancels", async () => {
    const { runs, start } = table();
    const { run, scripted } = start();
    await runs.next(run, 5);
    const caller = new AbortController();
    const waiting = runs.next(run, 0, caller.signal);
    caller.abort();
    expect(await waiting).toMatchObject({ kind: 'done', outcome: { status: 'cancelled' } });
    expect(scripted.hooks.signal.aborted).toBe(true);
  });

  it('holds at most maxHandles: the oldest finished one goes first; with none finished, a run does not yield', async () => {
    const { runs, start } = table({ maxHandles: 2 });
    const a = start();
    const b = start();
    const handleA = handleOf(await runs.next(a.run, 5)) as string;
    const handleB = handleOf(await runs.next(b.run, 5)) as string;
    a.scripted.end();
    await new Promise((resolve) => setImmediate(resolve));
    const c = start();
    const handleC = handleOf(await runs.next(c.run, 5));
    expect(handleC).toBeDefined();
    expect(runs.get(handleA)).toBeUndefined();
    expect(runs.get(handleB)).toBe(b.run);
    // b and c are both running: d waits for its end instead of taking a third handle.
    const d = start();
    const waiting = runs.next(d.run, 5);
    await new Promise((resolve) => setTimeout(resolve, 30));
    d.scripted.end({ stdout: 'd' });
    expect(await waiting).toEqual({ kind: 'done', outcome: expect.objectContaining({ stdout: 'd' }) });
    b.scripted.end();
    c.scripted.end();
  });

  it('drops a finished run nobody waits for after keepFinishedMs', async () => {
    const { runs, start } = table({ keepFinishedMs: 20 });
    const { run, scripted } = start();
    const handle = handleOf(await runs.next(run, 5)) as string;
    scripted.end();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(runs.get(handle)).toBe(run);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(runs.get(handle)).toBeUndefined();
  });

  it('rejects a wait with what the run rejected with', async () => {
    const runs = new LongRuns({ maxHandles: 4, keepFinishedMs: 1000, maxOutputChars: 100 });
    const run = runs.start(1000, async () => {
      throw new Error('no sandbox');
    });
    await expect(runs.next(run, 1000)).rejects.toThrow('no sandbox');
  });

  it('close ends every run and forgets every handle', async () => {
    const { runs, start } = table();
    const { run, scripted } = start();
    const handle = handleOf(await runs.next(run, 5)) as string;
    runs.close();
    expect(scripted.hooks.signal.aborted).toBe(true);
    expect(runs.get(handle)).toBeUndefined();
  });
});
