/**
 * The engine's logic against a scripted sandbox: each test's sandbox plays a program (output, tool
 * calls, host operations, an end) through the same `SandboxHost` a real one uses, so grants, caps,
 * deadlines, cancellation and outcomes are covered in milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../../../src/engine/engine.js';
import type { UpstreamPort } from '../../../src/engine/types.js';
import {
  HostCallError,
  type Sandbox,
  type SandboxExit,
  type SandboxHost,
  type SandboxProgram,
  type ServerGrant,
} from '../../../src/sandbox/types.js';
import { BridgeError, unknownServerError } from '../../../src/shared/errors.js';
import { createLogger } from '../../../src/shared/logger.js';

type Script = (host: SandboxHost, program: SandboxProgram, signal: AbortSignal) => Promise<SandboxExit>;

class ScriptedSandbox implements Sandbox {
  readonly kind = 'podman' as const;
  readonly id = 'scripted';
  alive = true;
  destroyed = false;
  program: SandboxProgram | undefined;
  constructor(readonly script: Script) {}
  execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit> {
    this.program = program;
    return this.script(host, program, signal);
  }
  async destroy(): Promise<void> {
    this.alive = false;
    this.destroyed = true;
  }
}

const EVERYTHING: ServerGrant = {
  name: 'everything',
  alias: 'everything',
  tools: [{ name: 'echo', alias: 'echo', inputSchema: { type: 'object' } }],
};

function upstreams(calls: string[] = []): UpstreamPort {
  const known = ['everything'];
  return {
    serverNames: () => known,
    catalog: () => known.map((name) => ({ name, alias: name })),
    async describe(names) {
      const unknown = names.filter((name) => !known.includes(name));
      if (unknown.length > 0) throw unknownServerError(unknown, known);
      return [EVERYTHING];
    },
    async callTool(request) {
      calls.push(`${request.server}.${request.tool}`);
      return { echoed: request.args };
    },
    async search() {
      return { hits: [], described: [EVERYTHING], unavailable: [] };
    },
  };
}

/** Resolves when `signal` aborts: how a scripted program "runs until killed". */
const untilAborted = (signal: AbortSignal) =>
  new Promise<SandboxExit>((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'aborted' })));

function engine(script: Script, options: Partial<EngineOptions> = {}) {
  const sandboxes: ScriptedSandbox[] = [];
  let released = 0;
  const instance = new Engine({
    sandboxes: {
      acquire: async () => {
        const sandbox = new ScriptedSandbox(script);
        sandboxes.push(sandbox);
        return sandbox;
      },
      released: () => {
        released++;
      },
    },
    upstreams: upstreams(),
    defaultTimeoutMs: 5000,
    maxTimeoutMs: 10_000,
    maxOutputChars: 1000,
    memoryLimit: '512m',
    logger: createLogger('error', () => {}),
    ...options,
  });
  return { engine: instance, sandboxes, released: () => released };
}

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

  it('routes host operations by their own names only', async () => {
    const seen: unknown[] = [];
    const { engine: e } = engine(
      async (host, _program, signal) => {
        seen.push(await host.callHost('ping', { x: 1 }, signal));
        for (const op of ['constructor', '__proto__', 'toString', 'nope']) {
          seen.push(await host.callHost(op, {}, signal).catch((error: HostCallError) => error.code));
        }
        return { kind: 'done', ok: true };
      },
      { hostOperations: { ping: async (args) => ({ pong: args.x }) } },
    );
    await e.run({ code: '…' });
    expect(seen).toEqual([
      { pong: 1 },
      'UNKNOWN_OPERATION',
      'UNKNOWN_OPERATION',
      'UNKNOWN_OPERATION',
      'UNKNOWN_OPERATION',
    ]);
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
