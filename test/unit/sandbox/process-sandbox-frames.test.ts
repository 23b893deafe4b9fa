/**
 * ProcessSandbox's frame handling and bounds against a scripted process: the test writes the frames
 * a sandbox would send and reads the host's replies, so every rule is checked without starting one.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ProcessSandbox } from '../../../src/sandbox/process-sandbox.js';
import type { SandboxHost } from '../../../src/sandbox/types.js';
import { createLogger } from '../../../src/shared/logger.js';

interface Scripted {
  sandbox: ProcessSandbox;
  /** What the sandbox sends the host. */
  send(frame: unknown): void;
  /** The host's frames to the sandbox, parsed, as they arrive (only when `reading`). */
  received: Array<Record<string, unknown>>;
  /** Ends the process as the kernel would. */
  exit(code: number | null, signal?: NodeJS.Signals): void;
  output: PassThrough;
}

function scripted(options: { reading?: boolean } = {}): Scripted {
  const input = new PassThrough();
  const output = new PassThrough();
  const received: Array<Record<string, unknown>> = [];
  if (options.reading !== false) {
    let buffered = '';
    output.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
        received.push(JSON.parse(buffered.slice(0, newline)));
        buffered = buffered.slice(newline + 1);
      }
    });
  }
  const child = Object.assign(new EventEmitter(), {
    stdin: null,
    stdout: null,
    stderr: null,
    kill: () => true,
  });
  let exited = false;
  const exit = (code: number | null, signal: NodeJS.Signals | null = null) => {
    if (exited) return;
    exited = true;
    input.destroy();
    setImmediate(() => child.emit('close', code, signal));
  };
  // Like the runtime: once the host closes the channel after `done`, the process exits.
  output.once('finish', () => exit(0));
  const sandbox = new ProcessSandbox({
    kind: 'embedded',
    id: 'scripted',
    child: child as unknown as ChildProcess,
    channel: { input, output },
    terminate: async () => exit(null, 'SIGKILL'),
    logger: createLogger('error', () => {}),
  });
  return { sandbox, send: (frame) => input.write(`${JSON.stringify(frame)}\n`), received, exit, output };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const program = { runId: 'run-1', code: 'x', servers: [], catalog: [], skills: [] };
const host = (overrides: Partial<SandboxHost> = {}): SandboxHost => ({
  onOutput: () => {},
  callTool: async () => 'tool result',
  callHost: async () => 'host result',
  ...overrides,
});

async function ready(options?: { reading?: boolean }): Promise<Scripted> {
  const s = scripted(options);
  s.send({ type: 'ready' });
  await s.sandbox.waitReady();
  return s;
}

describe('ProcessSandbox', () => {
  it('runs a program: sends the run frame, collects output, ends at done', async () => {
    const s = await ready();
    const output: string[] = [];
    const running = s.sandbox.execute(
      program,
      host({ onOutput: (_stream, data) => output.push(data) }),
      new AbortController().signal,
    );
    await tick();
    expect(s.received[0]).toMatchObject({ type: 'run', id: 'run-1', code: 'x' });
    s.send({ type: 'out', stream: 'stdout', data: 'hi\n' });
    s.send({ type: 'done', ok: true });
    expect(await running).toEqual({ kind: 'done', ok: true });
    expect(output).toEqual(['hi\n']);
  });

  it('refuses to become ready on anything but ready, and when the process dies first', async () => {
    const early = scripted();
    early.send({ type: 'done', ok: true });
    await expect(early.sandbox.waitReady()).rejects.toThrow("sandbox sent 'done' before 'ready'");
    const dead = scripted();
    dead.exit(1);
    await expect(dead.sandbox.waitReady()).rejects.toThrow(/exited \(code 1\) before it was ready/);
  });

  it('answers calls with their results or errors, each under its own id', async () => {
    const s = await ready();
    const running = s.sandbox.execute(
      program,
      host({ callHost: async () => Promise.reject(new Error('no such thing')) }),
      new AbortController().signal,
    );
    s.send({ type: 'rpc', id: 1, server: 's', tool: 't', args: {} });
    s.send({ type: 'call', id: 2, op: 'x', args: {} });
    await tick();
    await tick();
    expect(s.received.slice(1)).toEqual([
      { type: 'rpc_result', id: 1, ok: true, value: 'tool result' },
      { type: 'rpc_result', id: 2, ok: false, code: 'HOST_ERROR', error: 'no such thing' },
    ]);
    s.send({ type: 'done', ok: true });
    await running;
  });

  it('queues calls beyond 32 in flight and starts them in order as others end', async () => {
    const s = await ready();
    const gates: Array<() => void> = [];
    const started: number[] = [];
    const running = s.sandbox.execute(
      program,
      host({
        callTool: (request) =>
          new Promise((resolve) => {
            started.push(request.args.n as number);
            gates.push(() => resolve(request.args.n));
          }),
      }),
      new AbortController().signal,
    );
    for (let n = 0; n < 40; n++) s.send({ type: 'rpc', id: n, server: 's', tool: 't', args: { n } });
    await tick();
    expect(started).toHaveLength(32);
    for (const open of gates.splice(0, 8)) open();
    await tick();
    await tick();
    expect(started).toEqual(Array.from({ length: 40 }, (_, n) => n));
    for (const open of gates) open();
    await tick();
    expect(s.received.filter((frame) => frame.type === 'rpc_result')).toHaveLength(40);
    s.send({ type: 'done', ok: true });
    await running;
  });

  it('fails one call whose result is nested too deeply, and answers the next', async () => {
    const s = await ready();
    let deep: unknown = 1;
    for (let i = 0; i < 300; i++) deep = [deep];
    let calls = 0;
    const running = s.sandbox.execute(
      program,
      host({ callTool: async () => (calls++ === 0 ? deep : 'fine') }),
      new AbortController().signal,
    );
    s.send({ type: 'rpc', id: 1, server: 's', tool: 't', args: {} });
    s.send({ type: 'rpc', id: 2, server: 's', tool: 't', args: {} });
    await tick();
    await tick();
    expect(s.received.slice(1)).toEqual([
      expect.objectContaining({
        id: 1,
        ok: false,
        code: 'RESULT_TOO_LARGE',
        error: expect.stringMatching(/nested deeper than 256/),
      }),
      { type: 'rpc_result', id: 2, ok: true, value: 'fine' },
    ]);
    s.send({ type: 'done', ok: true });
    await running;
  });

  it.each([
    // 32 calls in flight answer 1 MiB each: 32 MiB unread, under the 64 MiB cap; nothing more starts.
    [1, 'stalls, bounded, until its deadline'],
    // 32 calls answering 8 MiB each would leave 256 MiB unread: the run ends at 64 MiB.
    [8, 'ends with a protocol error'],
  ])('a program that does not read its %i MiB replies %s', async (mebibytes) => {
    const s = await ready({ reading: false });
    const big = 'x'.repeat(mebibytes * 1024 * 1024);
    let calls = 0;
    const controller = new AbortController();
    const running = s.sandbox.execute(
      program,
      host({
        callHost: async () => {
          calls++;
          return big;
        },
      }),
      controller.signal,
    );
    for (let id = 0; id < 200; id++) s.send({ type: 'call', id, op: 'x', args: {} });
    for (let i = 0; i < 20; i++) await tick();
    // Waiting requests start only while fewer than 4 MiB of replies are unread: 32 in flight at most.
    expect(calls).toBeLessThanOrEqual(36);
    expect(s.output.writableLength).toBeLessThanOrEqual(64 * 1024 * 1024);
    controller.abort();
    expect((await running).kind).toBe(mebibytes === 1 ? 'aborted' : 'protocol_error');
  });

  it('ends the run with a protocol error on a frame it refuses, and ignores frames after done', async () => {
    const bad = await ready();
    const refused = bad.sandbox.execute(program, host(), new AbortController().signal);
    bad.send({ type: 'rpc', id: -1, server: 's', tool: 't', args: {} });
    expect(await refused).toMatchObject({
      kind: 'protocol_error',
      message: expect.stringMatching(/invalid frame at id/),
    });

    const forged = await ready();
    const calls: string[] = [];
    const finished = forged.sandbox.execute(
      program,
      host({ callTool: async () => calls.push('called') }),
      new AbortController().signal,
    );
    await tick();
    forged.send({ type: 'done', ok: true });
    forged.send({ type: 'rpc', id: 1, server: 's', tool: 't', args: {} });
    expect(await finished).toEqual({ kind: 'done', ok: true });
    await tick();
    expect(calls).toEqual([]);
  });

  it('reports a process that ends without done, with what it said on stderr', async () => {
    const s = await ready();
    const running = s.sandbox.execute(program, host(), new AbortController().signal);
    s.exit(137);
    expect(await running).toEqual({ kind: 'exited', exitCode: 137, signal: null, diagnostics: '' });
  });

  it('ends at once when the run is aborted, and the calls in flight see the abort', async () => {
    const s = await ready();
    const controller = new AbortController();
    let callSignal: AbortSignal | undefined;
    const running = s.sandbox.execute(
      program,
      host({
        callTool: (_request, signal) => {
          callSignal = signal;
          return new Promise(() => {});
        },
      }),
      controller.signal,
    );
    s.send({ type: 'rpc', id: 1, server: 's', tool: 't', args: {} });
    await tick();
    controller.abort();
    expect(await running).toEqual({ kind: 'aborted' });
    expect(callSignal?.aborted).toBe(true);
  });
});
