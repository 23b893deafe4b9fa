/**
 * The engine's logic against a scripted sandbox: each test's sandbox plays a program (output, tool
 * calls, host operations, an end) through the same `SandboxHost` a real one uses, so grants, caps,
 * deadlines, cancellation and outcomes are covered in milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { hostOperation } from '../../../src/engine/host-operations/registry.js';
import { HostCallError, type SandboxExit } from '../../../src/sandbox/types.js';
import { BridgeError } from '../../../src/shared/errors.js';
import {
  EVERYTHING,
  scriptedEngine as engine,
  untilAborted,
  scriptedUpstreams as upstreams,
} from '../../helpers/scripted-engine.js';

const done = async (): Promise<SandboxExit> => ({ kind: 'done', ok: true });

describe('Engine', () => {
  it('returns what the program printed and destroys its sandbox', async () => {
    const {
      engine: e,
      sandboxes,
      released,
    } = engine(async (host) => {
      host.onOutput('stdout', 'hello\n');
      host.onOutput('stderr', 'warned\n');
      return { kind: 'done', ok: true };
    });
    const outcome = await e.run({ code: 'print("hello")' });
    expect(outcome).toMatchObject({ status: 'ok', stdout: 'hello\n', stderr: 'warned\n' });
    expect(sandboxes[0]?.destroyed).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(released()).toBe(1);
  });

  it('reports a program error with its traceback', async () => {
    const { engine: e } = engine(async () => ({
      kind: 'done',
      ok: false,
      error: 'ValueError: x',
      traceback: 'Traceback…',
    }));
    expect(await e.run({ code: 'raise ValueError("x")' })).toMatchObject({
      status: 'error',
      error: 'ValueError: x',
      traceback: 'Traceback…',
    });
  });

  it('caps each stream, keeping head and tail and counting what it elided', async () => {
    const { engine: e } = engine(async (host) => {
      host.onOutput('stdout', `${'a'.repeat(600)}${'b'.repeat(600)}`);
      return { kind: 'done', ok: true };
    });
    const outcome = await e.run({ code: '…' });
    expect(outcome.truncated).toEqual({ stdout: 200 });
    expect(outcome.stdout).toMatch(/^a{500}\n… \[200 characters elided\] …\nb{500}$/);
  });

  it('times out, saying how to ask for more time', async () => {
    const { engine: e } = engine((_host, _program, signal) => untilAborted(signal));
    const outcome = await e.run({ code: 'while True: pass', timeoutMs: 100 });
    expect(outcome.status).toBe('timeout');
    expect(outcome.error).toBe(
      'Timed out after 0.1 s; the sandbox was killed. Pass a larger `timeout` (at most 10 s) or do less per run.',
    );
  });

  it('a run that times out in its program names the sandbox that ran it', async () => {
    const { engine: e } = engine((_host, _program, signal) => untilAborted(signal));
    const outcome = await e.run({
      code: 'import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)',
      timeoutMs: 100,
    });
    expect(outcome).toMatchObject({ status: 'timeout', sandbox: 'podman' });
  });

  it('times out while no sandbox is ready: says the program did not start, and names no sandbox', async () => {
    const { engine: e } = engine(done, {
      sandboxes: {
        // A pool whose sandboxes are all still starting when the deadline comes.
        acquire: (signal) =>
          new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
        released: () => {},
      },
    });
    const outcome = await e.run({ code: 'print(1)', timeoutMs: 100 });
    expect(outcome.status).toBe('timeout');
    expect(outcome.error).toBe(
      'Timed out after 0.1 s waiting for a sandbox (every one was busy or still starting); the program did not start. ' +
        'Pass a larger `timeout` (at most 10 s) or try again.',
    );
    expect(outcome.sandbox).toBeUndefined();
  });

  it('clamps a requested timeout to the maximum', () => {
    const { engine: e } = engine(done);
    expect(e.effectiveTimeoutMs(60_000)).toBe(10_000);
    expect(e.effectiveTimeoutMs()).toBe(5000);
  });

  it('ends a run the client cancels as cancelled', async () => {
    const { engine: e } = engine((_host, _program, signal) => untilAborted(signal));
    const controller = new AbortController();
    const running = e.run({ code: 'x' }, { signal: controller.signal });
    setImmediate(() => controller.abort());
    expect(await running).toMatchObject({ status: 'cancelled' });
  });

  it('grants the servers asked for and routes their tool calls', async () => {
    const calls: string[] = [];
    const { engine: e, sandboxes } = engine(
      async (host, _program, signal) => {
        const value = await host.callTool({ server: 'everything', tool: 'echo', args: { m: 1 } }, signal);
        host.onOutput('stdout', JSON.stringify(value));
        return { kind: 'done', ok: true };
      },
      { upstreams: upstreams(calls) },
    );
    const outcome = await e.run({ code: '…', servers: ['everything'] });
    expect(outcome.stdout).toBe('{"echoed":{"m":1}}');
    expect(calls).toEqual(['everything.echo']);
    expect(sandboxes[0]?.program?.servers).toEqual([EVERYTHING]);
    expect(sandboxes[0]?.program?.catalog).toEqual([{ name: 'everything', alias: 'everything' }]);
  });

  it('refuses a tool call to a server the run was not granted', async () => {
    let refusal: unknown;
    const { engine: e } = engine(async (host, _program, signal) => {
      refusal = await host
        .callTool({ server: 'everything', tool: 'echo', args: {} }, signal)
        .catch((error) => error);
      return { kind: 'done', ok: true };
    });
    await e.run({ code: '…' });
    expect(refusal).toBeInstanceOf(HostCallError);
    expect((refusal as HostCallError).code).toBe('NOT_GRANTED');
  });

  it('rejects a run that names an unknown server, before any sandbox', async () => {
    const { engine: e, sandboxes } = engine(done);
    await expect(e.run({ code: 'x', servers: ['nope'] })).rejects.toThrow(BridgeError);
    expect(sandboxes).toHaveLength(0);
  });

  it('routes host operations through one table, by its own names only', async () => {
    const seen: unknown[] = [];
    const { engine: e } = engine(
      async (host, _program, signal) => {
        seen.push(await host.callHost('ping', { x: 1 }, signal));
        seen.push(await host.callHost('list_sessions', {}, signal));
        for (const op of ['constructor', '__proto__', 'toString', 'nope']) {
          seen.push(await host.callHost(op, {}, signal).catch((error: HostCallError) => error.code));
        }
        seen.push(
          await host.callHost('ping', { x: 'one' }, signal).catch((error: HostCallError) => error.message),
        );
        return { kind: 'done', ok: true };
      },
      {
        hostOperations: [
          hostOperation({
            name: 'ping',
            args: z.object({ x: z.number() }),
            handler: ({ x }, context) => ({ pong: x, run: context.run.runId }),
          }),
        ],
      },
    );
    await e.run({ code: '…' });
    expect(seen).toEqual([
      { pong: 1, run: 'run-1' },
      [],
      'UNKNOWN_OPERATION',
      'UNKNOWN_OPERATION',
      'UNKNOWN_OPERATION',
      'UNKNOWN_OPERATION',
      `ping: 'x' must be a number, not "one"`,
    ]);
  });

  it('returns the files a program attaches with its outcome, within their bounds', async () => {
    const png = Buffer.from('\x89PNG\r\n\x1a\n').toString('base64');
    const answers: unknown[] = [];
    const { engine: e } = engine(async (host, _program, signal) => {
      const attach = (args: Record<string, unknown>) =>
        host
          .callHost('attach', args, signal)
          .catch((error: HostCallError) => `${error.code}: ${error.message}`);
      answers.push(await attach({ mimeType: 'image/png', data: png, name: 'plot.png' }));
      answers.push(await attach({ mimeType: 'image png', data: png }));
      answers.push(await attach({ mimeType: 'text/plain', data: 'not base64!' }));
      answers.push(await attach({ mimeType: 'text/plain', data: 'QUJD'.repeat(2 * 1024 * 1024) }));
      return { kind: 'done', ok: true };
    });
    const outcome = await e.run({ code: '…' });
    expect(answers).toEqual([
      { attached: 1 },
      `BAD_ARGUMENTS: attach: 'mimeType' must be a MIME type such as image/png, not "image png"`,
      `BAD_ARGUMENTS: attach: 'data' must be base64`,
      'RESULT_TOO_LARGE: attach: a run returns at most 5 MiB of files together',
    ]);
    expect(outcome.attachments).toEqual([{ mimeType: 'image/png', data: png, name: 'plot.png' }]);
  });

  it.each([
    [
      { kind: 'exited', exitCode: 137, signal: null, diagnostics: '' },
      'killed',
      /memory limit \(MCP_BRIDGE_MEMORY=512m\)/,
    ],
    [
      { kind: 'exited', exitCode: 1, signal: null, diagnostics: 'boom' },
      'killed',
      /ended unexpectedly \(exit code 1\): boom/,
    ],
    [
      { kind: 'protocol_error', message: 'bad frame' },
      'protocol_error',
      /broke the protocol and was killed: bad frame/,
    ],
  ] as const)('describes %j as %s', async (exit, status, message) => {
    const { engine: e } = engine(async () => exit);
    const outcome = await e.run({ code: '…' });
    expect(outcome.status).toBe(status);
    expect(outcome.error).toMatch(message);
  });

  it('queues runs beyond the concurrency limit, the wait counting toward their timeout', async () => {
    const gates: Array<() => void> = [];
    const { engine: e } = engine(
      () =>
        new Promise<SandboxExit>((resolve) => {
          gates.push(() => resolve({ kind: 'done', ok: true }));
        }),
      { maxConcurrentRuns: 1 },
    );
    const first = e.run({ code: 'a' });
    const second = e.run({ code: 'b', timeoutMs: 100 });
    expect(await second).toMatchObject({ status: 'timeout' });
    await new Promise((resolve) => setImmediate(resolve));
    gates[0]?.();
    expect(await first).toMatchObject({ status: 'ok' });
    expect(gates).toHaveLength(1);
  });
});
