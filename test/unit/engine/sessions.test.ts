/**
 * Named sessions and saved values in the engine, against scripted sandboxes: which sandbox a run
 * gets, when a session keeps it, what the next run is told, per-owner isolation, the cap, reset,
 * idle expiry; kept output.
 */
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { Engine } from '../../../src/engine/engine.js';
import { outputOperations } from '../../../src/engine/host-operations/outputs.js';
import { describeTtl, OutputStore } from '../../../src/engine/output-store.js';
import { RunRecord } from '../../../src/engine/run-record.js';
import type { CallContext, UpstreamPort } from '../../../src/engine/types.js';
import type { Sandbox, SandboxExit, SandboxHost, SandboxProgram } from '../../../src/sandbox/types.js';
import { createLogger } from '../../../src/shared/logger.js';
import { hostCaller } from '../../helpers/host-operations.js';

type Script = (host: SandboxHost, program: SandboxProgram, signal: AbortSignal) => Promise<SandboxExit>;

let nextId = 0;
class ScriptedSandbox implements Sandbox {
  readonly kind = 'podman' as const;
  readonly id = `scripted-${++nextId}`;
  alive = true;
  programs: SandboxProgram[] = [];
  constructor(readonly script: Script) {}
  execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit> {
    this.programs.push(program);
    return this.script(host, program, signal);
  }
  async destroy(): Promise<void> {
    this.alive = false;
  }
}

const upstreams: UpstreamPort = {
  catalog: () => [],
  describe: async () => [],
  callTool: async () => null,
  search: async () => ({ hits: [], described: [], unavailable: [] }),
  runEnded: () => {},
};

const untilAborted = (signal: AbortSignal) =>
  new Promise<SandboxExit>((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'aborted' })));

function setup(script: Script, sessions = { idleMs: 60_000, maxSessions: 2 }) {
  const sandboxes: ScriptedSandbox[] = [];
  const engine = new Engine({
    sandboxes: {
      acquire: async () => {
        const sandbox = new ScriptedSandbox(script);
        sandboxes.push(sandbox);
        return sandbox;
      },
      released: () => {},
    },
    upstreams,
    defaultTimeoutMs: 5000,
    maxTimeoutMs: 10_000,
    maxOutputChars: 1000,
    sessions,
    logger: createLogger('error', () => {}),
  });
  return { engine, sandboxes };
}

const ok: Script = async (host, program) => {
  host.onOutput('stdout', `${program.code}\n`);
  return { kind: 'done', ok: true };
};

describe('sessions', () => {
  it('keeps one sandbox per session and tells each run whether it is new or resumed', async () => {
    const { engine, sandboxes } = setup(ok);
    const first = await engine.run({ code: 'a', session: 's' });
    const second = await engine.run({ code: 'b', session: 's' });
    expect(first.session).toMatchObject({ name: 's', state: 'new', runs: 1 });
    expect(second.session).toMatchObject({ name: 's', state: 'resumed', runs: 2 });
    expect(sandboxes).toHaveLength(1);
    expect(sandboxes[0]?.alive).toBe(true);
    expect(sandboxes[0]?.programs.map((p) => p.keep)).toEqual([true, true]);
    // Without a session nothing changes: a fresh sandbox, destroyed after its run, no `keep`.
    const plain = await engine.run({ code: 'c' });
    expect(plain.session).toBeUndefined();
    expect(sandboxes[1]?.alive).toBe(false);
    expect(sandboxes[1]?.programs[0]?.keep).toBeUndefined();
  });

  it('keeps the sandbox after a Python error but not after a timeout, and says the state was lost', async () => {
    const { engine, sandboxes } = setup(async (host, program, signal) => {
      if (program.code === 'hang') return untilAborted(signal);
      if (program.code === 'raise') return { kind: 'done', ok: false, error: 'ValueError: x' };
      return ok(host, program, signal);
    });
    expect((await engine.run({ code: 'raise', session: 's' })).session?.ended).toBeUndefined();
    const timedOut = await engine.run({ code: 'hang', session: 's', timeoutMs: 50 });
    expect(timedOut.status).toBe('timeout');
    expect(timedOut.session?.ended).toMatch(/timeout/);
    expect(sandboxes[0]?.alive).toBe(false);
    const next = await engine.run({ code: 'after', session: 's' });
    expect(next.session).toMatchObject({ state: 'restarted', runs: 1 });
    expect(next.session?.lost).toMatch(/timeout/);
    expect(sandboxes).toHaveLength(2);
  });

  it('notices a session sandbox that died between runs', async () => {
    const { engine, sandboxes } = setup(ok);
    await engine.run({ code: 'a', session: 's' });
    (sandboxes[0] as ScriptedSandbox).alive = false;
    const next = await engine.run({ code: 'b', session: 's' });
    expect(next.session?.state).toBe('restarted');
    expect(next.session?.lost).toMatch(/exited between calls/);
  });

  it('keeps owners apart, caps live sessions and resets them', async () => {
    const { engine } = setup(ok);
    await engine.run({ code: 'a', session: 's' }, { owner: 'one' });
    const other = await engine.run({ code: 'a', session: 's' }, { owner: 'two' });
    expect(other.session?.state).toBe('new');
    expect(engine.listSessions('one').map((s) => s.name)).toEqual(['s']);
    await expect(engine.run({ code: 'a', session: 't' }, { owner: 'one' })).rejects.toThrow(
      /Too many sessions \(MCP_BRIDGE_MAX_SESSIONS=2\); yours: s\./,
    );
    expect(engine.resetSession('s', 'two')).toBe(true);
    expect(engine.resetSession('s', 'two')).toBe(false);
    const again = await engine.run({ code: 'a', session: 's' }, { owner: 'two' });
    expect(again.session?.lost).toMatch(/reset/);
    engine.closeOwner('one');
    expect(engine.listSessions('one')).toEqual([]);
  });

  it('runs the calls of one session one at a time, in order', async () => {
    const order: string[] = [];
    const { engine, sandboxes } = setup(async (host, program) => {
      order.push(`start ${program.code}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
      order.push(`end ${program.code}`);
      return ok(host, program, new AbortController().signal);
    });
    await Promise.all(['1', '2', '3'].map((code) => engine.run({ code, session: 's' })));
    expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(sandboxes).toHaveLength(1);
  });

  it('ends a session idle for longer than the idle timeout', async () => {
    const { engine, sandboxes } = setup(ok, { idleMs: 30, maxSessions: 2 });
    await engine.run({ code: 'a', session: 's' });
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(sandboxes[0]?.alive).toBe(false);
    expect(engine.listSessions()).toEqual([]);
    const next = await engine.run({ code: 'b', session: 's' });
    expect(next.session?.lost).toMatch(/idle/);
  });

  it('ends every session when the engine closes', async () => {
    const { engine, sandboxes } = setup(ok);
    await engine.run({ code: 'a', session: 's' });
    engine.close();
    expect(sandboxes[0]?.alive).toBe(false);
    await expect(engine.run({ code: 'b', session: 's' })).rejects.toThrow(/shutting down/);
  });
});

describe('kept output', () => {
  const context = (owner: string): CallContext => ({ runId: 'r', owner });

  it('keeps the first keepChars of stdout only when the cap elided some', () => {
    const small = new RunRecord(100, 50);
    small.append('stdout', 'x'.repeat(80));
    expect(small.fullStdout()).toBeUndefined();
    const big = new RunRecord(10, 50);
    big.append('stdout', 'a'.repeat(30));
    big.append('stderr', 'e'.repeat(30));
    big.append('stdout', 'b'.repeat(30));
    expect(big.fullStdout()).toEqual({ text: 'a'.repeat(30) + 'b'.repeat(20), totalChars: 60 });
  });

  it('pages by owner, evicts the oldest past the total, and expires', async () => {
    // The store's clock is faked: a loaded machine's pause between `keep` and `read` must not expire a handle.
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const store = new OutputStore({ maxChars: 100, maxTotalChars: 10, ttlMs: 40 });
    const call = hostCaller(outputOperations(store));
    const read = (args: Record<string, unknown>, run: CallContext) => call('read_output', args, run);
    const first = store.keep('a', '0123456789', 20);
    expect(await read({ handle: first, offset: 2, length: 3 }, context('a'))).toEqual({
      text: '234',
      offset: 2,
      keptChars: 10,
      totalChars: 20,
    });
    await expect(read({ handle: first }, context('b'))).rejects.toThrow(/no such output/);
    const second = store.keep('a', 'abc', 3);
    await expect(read({ handle: first }, context('a'))).rejects.toThrow(/no such output/);
    vi.setSystemTime(Date.now() + 60);
    await expect(read({ handle: second }, context('a'))).rejects.toThrow(/no such output/);
  });

  it('keeps nothing with a per-run bound of 0, and says how long handles live', () => {
    const none = new RunRecord(10, 0);
    none.append('stdout', 'x'.repeat(80));
    expect(none.fullStdout()).toBeUndefined();
    expect(describeTtl(900_000)).toBe('15 min');
    expect(describeTtl(120_000)).toBe('2 min');
    expect(describeTtl(90_000)).toBe('90 s');
    expect(describeTtl(1000)).toBe('1 s');
  });
});
