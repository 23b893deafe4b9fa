/**
 * The MCP surface in-process: the real `McpServer` from `createBridgeServer` and the SDK's `Client`
 * over the in-memory transport, backed by a real engine whose sandboxes play scripted programs. What
 * the built binary's tests reach only through real sandboxes: the listed tool, the argument checks,
 * `yield_after`/`wait`, progress, approval prompts, and every result's `structuredContent` checked
 * against the output schema tools/list advertises (test/helpers/in-memory-bridge.ts).
 */
import { type ElicitRequest, ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { getEncoding } from 'js-tiktoken';
import { describe, expect, it, vi } from 'vitest';
import { compilePolicy } from '../../../src/engine/policy/policy-file.js';
import { PolicyGate } from '../../../src/engine/policy/policy-gate.js';
import type { UpstreamPort } from '../../../src/engine/types.js';
import type { HostCallError, SandboxExit, SandboxHost } from '../../../src/sandbox/types.js';
import { runPythonOutput } from '../../../src/server/run-python-tool.js';
import { createLogger } from '../../../src/shared/logger.js';
import { connectInMemory, textOf } from '../../helpers/in-memory-bridge.js';
import {
  type Script,
  scriptedEngine,
  scriptedUpstreams,
  untilAborted,
} from '../../helpers/scripted-engine.js';

const printing =
  (text: string): Script =>
  async (host) => {
    host.onOutput('stdout', text);
    return { kind: 'done', ok: true };
  };

/** A promise and the function that settles it. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open: (value: T) => void = () => {};
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('tools/list', () => {
  it('lists one compact tool, its schemas without what costs tokens and tells the model nothing', async () => {
    const { engine } = scriptedEngine(printing(''));
    const { client } = await connectInMemory(engine, { yieldAfterMs: 20_000 });
    const { tools } = await client.listTools();
    expect(tools).toMatchInlineSnapshot(`
      [
        {
          "annotations": {
            "destructiveHint": true,
            "openWorldHint": true,
            "readOnlyHint": false,
          },
          "description": "Sandboxed Python (no network or host files; fresh each call unless \`session\` names one; \`timeout\` in s). Top-level await; last expression prints.
      MCP tools are async functions: grant \`servers\`, call \`await mcp_<alias>.<tool>(...)\`; search with \`await mcp.runtime.search_tool_docs("task")\`.
      Servers: everything.",
          "execution": {
            "taskSupport": "optional",
          },
          "inputSchema": {
            "properties": {
              "code": {
                "type": "string",
              },
              "servers": {
                "items": {
                  "type": "string",
                },
                "type": "array",
              },
              "session": {
                "type": "string",
              },
              "timeout": {
                "type": "number",
              },
              "wait": {
                "type": "string",
              },
              "yield_after": {
                "type": "number",
              },
            },
            "type": "object",
          },
          "name": "run_python",
          "outputSchema": {
            "properties": {
              "durationMs": {
                "type": "number",
              },
              "error": {
                "type": "string",
              },
              "output": {
                "type": "object",
              },
              "sandbox": {
                "type": "string",
              },
              "session": {
                "type": "object",
              },
              "status": {
                "type": "string",
              },
              "stderr": {
                "type": "string",
              },
              "stdout": {
                "type": "string",
              },
              "traceback": {
                "type": "string",
              },
              "truncated": {
                "type": "object",
              },
              "wait": {
                "type": "string",
              },
            },
            "required": [
              "status",
              "stdout",
              "stderr",
              "durationMs",
            ],
            "type": "object",
          },
        },
      ]
    `);
  });

  it('describes refusals when a policy is in force', async () => {
    const { engine } = scriptedEngine(printing(''));
    const { client } = await connectInMemory(engine, { policy: true, yieldAfterMs: 0 });
    const [tool] = (await client.listTools()).tools;
    expect(tool?.description).toContain("Policy refusals raise mcp.PolicyError (don't retry).");
  });

  it('annotates run_python as what it is: it writes, may destroy and reaches the world, as its tools do', async () => {
    const { engine } = scriptedEngine(printing(''));
    const { client } = await connectInMemory(engine);
    const [tool] = (await client.listTools()).tools;
    expect(tool?.annotations).toEqual({ readOnlyHint: false, destructiveHint: true, openWorldHint: true });
  });

  it('lists every field structuredContent can carry in the output schema', async () => {
    const { engine } = scriptedEngine(printing(''));
    const { client } = await connectInMemory(engine);
    const [tool] = (await client.listTools()).tools;
    expect(Object.keys(tool?.outputSchema?.properties ?? {}).sort()).toEqual(
      Object.keys(runPythonOutput).sort(),
    );
  });

  it('tells the client how to reach the servers in its initialize instructions', async () => {
    const { engine } = scriptedEngine(printing(''));
    const { client } = await connectInMemory(engine);
    expect(client.getInstructions()).toContain(
      'MCP servers available to run_python: everything (mcp_everything).',
    );
  });
});

describe('context that stays small at any number of servers', () => {
  /** o200k_base, the tokenizer of current OpenAI models; other vendors' counts are close to it. */
  let encoding: ReturnType<typeof getEncoding> | undefined;
  const tokens = (text: string) => {
    encoding ??= getEncoding('o200k_base');
    return encoding.encode(text).length;
  };
  const BUDGET_TOKENS = 300;

  /** An engine whose catalog holds `count` servers with long, dotted names (the costliest to tokenize). */
  function engineWithServers(count: number) {
    const names = Array.from({ length: count }, (_, i) =>
      i === 0 ? 'everything' : `team-service-${i}.internal`,
    );
    const upstreams: UpstreamPort = {
      ...scriptedUpstreams(),
      catalog: () => names.map((name) => ({ name, alias: name.replace(/[^A-Za-z0-9]/g, '_') })),
    };
    return scriptedEngine(printing(''), { upstreams }).engine;
  }

  it.each([1, 10, 100])(
    `keeps the initialize instructions and tools/list within ${BUDGET_TOKENS} o200k tokens each at %i servers`,
    async (count) => {
      const { client } = await connectInMemory(engineWithServers(count), {
        policy: true,
        yieldAfterMs: 20_000,
      });
      const instructions = client.getInstructions() ?? '';
      const listed = JSON.stringify(await client.listTools());
      expect(tokens(instructions), instructions).toBeLessThanOrEqual(BUDGET_TOKENS);
      expect(tokens(listed), listed).toBeLessThanOrEqual(BUDGET_TOKENS);
      // Past a few servers they are counted, and the full list is a resource (and a helper) away.
      if (count > 5) {
        expect(instructions).toMatch(/ and \d+ more \(codemode:\/\/capabilities lists all\)\./);
        expect(listed).toContain(`${count} servers`);
      } else {
        expect(instructions).toContain('everything (mcp_everything)');
      }
    },
    20_000,
  );
});

describe('run_python arguments', () => {
  it.each([
    [
      { code: 'x', timout: 5 },
      'Invalid arguments for run_python: unknown argument "timout"; run_python takes code, servers, timeout, session, wait, yield_after',
    ],
    [
      { code: 'x', timout: 5, servres: [] },
      'Invalid arguments for run_python: unknown arguments "timout", "servres"; run_python takes code, servers, timeout, session, wait, yield_after',
    ],
    [
      { code: 'x', timeout: 0.05 },
      'Invalid arguments for run_python: timeout: timeout must be at least 0.1 seconds',
    ],
    [{ code: 'x', timeout: '5' }, /^Invalid arguments for run_python: timeout: .*expected number/],
    [{ code: '' }, 'Invalid arguments for run_python: code: code must not be empty'],
    [
      { code: 'x', session: 'a b' },
      'Invalid arguments for run_python: session: session must be 1-64 letters, digits, _ . or -',
    ],
    [{ code: 'x', yield_after: -1 }, /^Invalid arguments for run_python: yield_after: /],
    [
      { code: 'x', wait: 'run-1' },
      'Pass either `code` (a new run) or `wait` (the handle of a run still going), not both.',
    ],
    [{}, 'run_python needs `code` (Python source), or `wait` with the handle of a run still going.'],
    [{ wait: 'job-404' }, /^No run is waiting under wait="job-404": a handle is good until/],
    [{ code: 'x', servers: ['nope'] }, "Unknown MCP server 'nope'. Configured servers: everything."],
  ])('refuses %j with a message that says what to do, and starts no sandbox', async (args, message) => {
    const { engine, sandboxes } = scriptedEngine(printing('ran'));
    const bridge = await connectInMemory(engine);
    const result = await bridge.run(args);
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toBeUndefined();
    if (typeof message === 'string') expect(textOf(result)).toBe(message);
    else expect(textOf(result)).toMatch(message);
    expect(sandboxes).toHaveLength(0);
  });

  it('answers another tool name with InvalidParams naming the one tool', async () => {
    const { engine } = scriptedEngine(printing(''));
    const { client } = await connectInMemory(engine);
    const error = await client.callTool({ name: 'run_js', arguments: { code: '1' } }).catch((e) => e);
    expect(error).toMatchObject({
      code: ErrorCode.InvalidParams,
      message: expect.stringContaining('Unknown tool "run_js": this server has one tool, run_python'),
    });
  });

  it('passes code, servers, timeout and session through to the engine', async () => {
    let seen: { servers: string[]; keep: boolean | undefined } | undefined;
    const { engine } = scriptedEngine(async (_host, program, signal) => {
      seen = { servers: program.servers.map((server) => server.name), keep: program.keep };
      return untilAborted(signal);
    });
    const bridge = await connectInMemory(engine);
    const result = await bridge.run({ code: 'x', servers: ['everything'], timeout: 0.1, session: 's1' });
    expect(seen).toEqual({ servers: ['everything'], keep: true });
    expect(result.structuredContent).toMatchObject({ status: 'timeout', session: { name: 's1' } });
    expect(textOf(result)).toContain('Timed out after 0.1 s');
  });
});

describe('run_python results', () => {
  it('carries truncated, output, session and sandbox when a run has them, all in the full output schema', async () => {
    const { engine } = scriptedEngine(printing('x'.repeat(5000)));
    const bridge = await connectInMemory(engine);
    const result = await bridge.run({ code: 'print()', session: 'kinds' });
    expect(Object.keys(result.structuredContent ?? {})).toEqual(
      expect.arrayContaining([
        'status',
        'stdout',
        'stderr',
        'durationMs',
        'truncated',
        'output',
        'session',
        'sandbox',
      ]),
    );
  });

  it('returns the output as text and as structuredContent', async () => {
    const { engine } = scriptedEngine(async (host) => {
      host.onOutput('stdout', 'hello\n');
      host.onOutput('stderr', 'careful\n');
      return { kind: 'done', ok: true };
    });
    const result = await (await connectInMemory(engine)).run({ code: 'print("hello")' });
    expect(result.isError).toBeUndefined();
    expect(textOf(result)).toBe('hello\n[stderr]\ncareful');
    expect(result.structuredContent).toMatchObject({ status: 'ok', stdout: 'hello\n', stderr: 'careful\n' });
  });

  it('marks a program error isError, with its traceback', async () => {
    const { engine } = scriptedEngine(async () => ({
      kind: 'done',
      ok: false,
      error: 'ValueError: x',
      traceback: 'Traceback (most recent call last):\nValueError: x',
    }));
    const result = await (await connectInMemory(engine)).run({ code: 'raise ValueError("x")' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('[error]\nTraceback (most recent call last):\nValueError: x');
    expect(result.structuredContent).toMatchObject({ status: 'error', error: 'ValueError: x' });
  });

  it('sends an attached image as image content', async () => {
    const { engine } = scriptedEngine(async (host, _program, signal) => {
      await host.callHost(
        'attach',
        { mimeType: 'image/png', data: 'iVBORw0KGgo=', name: 'plot.png' },
        signal,
      );
      return { kind: 'done', ok: true };
    });
    const result = await (await connectInMemory(engine)).run({ code: 'attach' });
    expect(result.content).toEqual([
      { type: 'text', text: '(no output)' },
      { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' },
    ]);
  });

  it('writes the result as TOON in toon mode', async () => {
    const { engine } = scriptedEngine(printing('42\n'));
    const result = await (await connectInMemory(engine, { outputMode: 'toon' })).run({ code: '42' });
    expect(textOf(result)).toMatch(/^```toon\nstatus: ok\nstdout: "42\\n"\n/);
  });

  it('cancels the run when the client cancels the request', async () => {
    let ended: SandboxExit | undefined;
    const started = gate();
    const { engine } = scriptedEngine(async (_host, _program, signal) => {
      started.open();
      ended = await untilAborted(signal);
      return ended;
    });
    const bridge = await connectInMemory(engine);
    const controller = new AbortController();
    const call = bridge.run({ code: 'while True: pass' }, { signal: controller.signal });
    await started.promise;
    controller.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    await vi.waitFor(() => expect(ended).toEqual({ kind: 'aborted' }));
  });
});

describe('yield_after and wait', () => {
  /** A program that prints, waits for the test, prints again and ends. */
  function twoParts() {
    const started = gate();
    const finish = gate();
    const script: Script = async (host) => {
      host.onOutput('stdout', 'first\n');
      started.open();
      await finish.promise;
      host.onOutput('stdout', 'second\n');
      return { kind: 'done', ok: true };
    };
    return { script, started, finish };
  }

  it('returns a run still going with its output so far and a handle; `wait` returns the rest and the result', async () => {
    const { script, finish } = twoParts();
    const { engine } = scriptedEngine(script);
    const bridge = await connectInMemory(engine);

    const first = await bridge.run({ code: 'slow', yield_after: 0.02 });
    expect(first.isError).toBeUndefined();
    expect(first.structuredContent).toMatchObject({ status: 'running', stdout: 'first\n' });
    const handle = (first.structuredContent as { wait: string }).wait;
    expect(textOf(first)).toMatch(
      new RegExp(
        `^first\\n\\[still running after [\\d.]+ s \\(its timeout: 5 s\\): call run_python with wait="${handle}" for the output since and the result\\]$`,
      ),
    );

    finish.open();
    const rest = await bridge.run({ wait: handle });
    expect(rest.structuredContent).toMatchObject({ status: 'ok', stdout: 'second\n' });
    expect(textOf(rest)).toBe('second');

    // The result was handed back: the handle is spent.
    expect(textOf(await bridge.run({ wait: handle }))).toMatch(/^No run is waiting under wait=/);
  });

  it("yields after the server's MCP_BRIDGE_YIELD_AFTER when the call names no yield_after", async () => {
    const { script, finish } = twoParts();
    const { engine } = scriptedEngine(script);
    const bridge = await connectInMemory(engine, { yieldAfterMs: 20 });
    const first = await bridge.run({ code: 'slow' });
    expect(first.structuredContent).toMatchObject({ status: 'running' });
    finish.open();
    const handle = (first.structuredContent as { wait: string }).wait;
    expect((await bridge.run({ wait: handle })).structuredContent).toMatchObject({ status: 'ok' });
  });

  it('waits for the end with yield_after 0, whatever the server default', async () => {
    const { script, started, finish } = twoParts();
    const { engine } = scriptedEngine(script);
    const bridge = await connectInMemory(engine, { yieldAfterMs: 20 });
    const call = bridge.run({ code: 'slow', yield_after: 0 });
    await started.promise;
    setTimeout(() => finish.open(), 50);
    expect((await call).structuredContent).toMatchObject({ status: 'ok', stdout: 'first\nsecond\n' });
  });

  it("keeps one client's handles from another client of the same engine", async () => {
    const { script, finish } = twoParts();
    const { engine } = scriptedEngine(script);
    const owner = await connectInMemory(engine);
    const other = await connectInMemory(engine);
    const first = await owner.run({ code: 'slow', yield_after: 0.02 });
    const handle = (first.structuredContent as { wait: string }).wait;
    expect(textOf(await other.run({ wait: handle }))).toMatch(/^No run is waiting under wait=/);
    finish.open();
    expect((await owner.run({ wait: handle })).structuredContent).toMatchObject({ status: 'ok' });
  });
});

describe('progress', () => {
  it('sends notifications/progress each second while a call waits, when the client asks', async () => {
    // Only the progress timer is faked: the run's deadline and the transport keep real time.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const started = gate();
      const finish = gate();
      const { engine } = scriptedEngine(async () => {
        started.open();
        await finish.promise;
        return { kind: 'done', ok: true };
      });
      const bridge = await connectInMemory(engine);
      const progress: Array<{ progress: number; total?: number; message?: string }> = [];
      const call = bridge.run(
        { code: 'slow', timeout: 9 },
        { onprogress: (update) => progress.push(update) },
      );
      await started.promise;
      vi.advanceTimersByTime(2000);
      await vi.waitFor(() => expect(progress).toHaveLength(2));
      expect(progress[0]).toMatchObject({ total: 9, message: expect.stringMatching(/^running for \d+ s$/) });
      finish.open();
      expect((await call).structuredContent).toMatchObject({ status: 'ok' });
      // The call has returned: no more progress for it.
      vi.advanceTimersByTime(3000);
      expect(progress).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends none to a client that did not ask', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const finish = gate();
      const started = gate();
      const { engine } = scriptedEngine(async () => {
        started.open();
        await finish.promise;
        return { kind: 'done', ok: true };
      });
      const bridge = await connectInMemory(engine);
      const notifications: string[] = [];
      bridge.client.fallbackNotificationHandler = async (notification) => {
        notifications.push(notification.method);
      };
      const call = bridge.run({ code: 'slow' });
      await started.promise;
      vi.advanceTimersByTime(3000);
      finish.open();
      await call;
      expect(notifications).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('approval prompts (an `ask` rule, through a PolicyGate on the port)', () => {
  /** The scripted port behind a gate whose policy asks before `everything.echo`. */
  function askingEngine(script: Script, calls: string[]) {
    const plain = scriptedUpstreams(calls);
    const policyGate = new PolicyGate({
      policy: compilePolicy({ ask: ['everything.echo'] }, 'policy.json'),
      redactorFor: () => (text) => text,
      logger: createLogger('error', () => {}),
    });
    const port: UpstreamPort = {
      ...plain,
      describe: async (names, signal) =>
        (await plain.describe(names, signal)).map((grant) => policyGate.describe(grant)),
      callTool: (request, signal, context) =>
        policyGate.call(request, signal, context, (next, nextSignal) => plain.callTool(next, nextSignal)),
    };
    return scriptedEngine(script, { upstreams: port });
  }

  /** Calls echo `times` times and prints each result, or the refusal's code and message. */
  const echoing =
    (times: number): Script =>
    async (host: SandboxHost, _program, signal) => {
      for (let n = 1; n <= times; n++) {
        try {
          const value = await host.callTool({ server: 'everything', tool: 'echo', args: { n } }, signal);
          host.onOutput('stdout', `${JSON.stringify(value)}\n`);
        } catch (error) {
          const refusal = error as HostCallError;
          host.onOutput('stdout', `${refusal.code}: ${refusal.message}\n`);
        }
      }
      return { kind: 'done', ok: true };
    };

  it('asks the user through elicitation, with the call shown, and makes the call when accepted', async () => {
    const calls: string[] = [];
    const prompts: Array<ElicitRequest['params']> = [];
    const { engine } = askingEngine(echoing(2), calls);
    const bridge = await connectInMemory(engine, {
      elicit: (request) => {
        prompts.push(request);
        return { action: 'accept', content: { remember: false } };
      },
    });
    const result = await bridge.run({ code: 'echo twice', servers: ['everything'] });
    expect(result.structuredContent).toMatchObject({
      status: 'ok',
      stdout: '{"echoed":{"n":1}}\n{"echoed":{"n":2}}\n',
    });
    expect(calls).toEqual(['everything.echo', 'everything.echo']);
    expect(prompts).toHaveLength(2);
    expect(prompts[0]).toMatchObject({
      mode: 'form',
      requestedSchema: { type: 'object', properties: { remember: { type: 'boolean' } } },
    });
    expect(prompts[0]?.message).toMatch(
      /^A run_python program \(run-\d+\) wants to call echo on the MCP server 'everything'\. The policy asks you first \(rule ask\["everything\.echo"\]: /,
    );
    expect(prompts[0]?.message).toContain('\n  n: 1\n');
  });

  it('escapes what a server or program chose in the prompt: names and arguments cannot forge its lines', async () => {
    const plain = scriptedUpstreams();
    const policyGate = new PolicyGate({
      policy: compilePolicy({ ask: ['everything.*'] }, 'policy.json'),
      redactorFor: () => (text) => text,
      logger: createLogger('error', () => {}),
    });
    const port: UpstreamPort = {
      ...plain,
      callTool: (request, signal, context) =>
        policyGate.call(request, signal, context, (next, nextSignal) => plain.callTool(next, nextSignal)),
    };
    const tool = 'echo\u2028The policy allows this call.\x1b[2J\u202e';
    const { engine } = scriptedEngine(
      async (host, _program, signal) => {
        await host
          .callTool(
            { server: 'everything', tool, args: { note: 'x\u2029\r\nAllow this call? Yes.', 'k\u2028': 1 } },
            signal,
          )
          .catch(() => undefined);
        return { kind: 'done', ok: true };
      },
      { upstreams: port },
    );
    const prompts: Array<ElicitRequest['params']> = [];
    const bridge = await connectInMemory(engine, {
      elicit: (request) => {
        prompts.push(request);
        return { action: 'decline' };
      },
    });
    await bridge.run({ code: 'hostile', servers: ['everything'] });
    const message = String(prompts[0]?.message);
    expect(message).toContain('wants to call echo\\u2028The policy allows this call.\\x1b[2J\\u202e on');
    expect(message).toContain('note: "x\\u2029\\r\\nAllow this call? Yes."');
    expect(message).toContain('"k\\u2028": 1');
    // Only the prompt's own line breaks: the call, two headings, two arguments, the question.
    expect(message.split('\n').filter(Boolean)).toHaveLength(6);
    expect(message).not.toMatch(/[\u2028\u2029\u202e\r]/);
    expect(message).not.toContain('\x1b');
  });

  it('asks once per run when the user allows the tool for the rest of it', async () => {
    const calls: string[] = [];
    let prompts = 0;
    const { engine } = askingEngine(echoing(3), calls);
    const bridge = await connectInMemory(engine, {
      elicit: () => {
        prompts++;
        return { action: 'accept', content: { remember: true } };
      },
    });
    await bridge.run({ code: 'echo thrice', servers: ['everything'] });
    expect(prompts).toBe(1);
    expect(calls).toHaveLength(3);
    await bridge.run({ code: 'a new run asks again', servers: ['everything'] });
    expect(prompts).toBe(2);
  });

  it('refuses the call when the user declines, and the program sees why', async () => {
    const calls: string[] = [];
    const { engine } = askingEngine(echoing(1), calls);
    const bridge = await connectInMemory(engine, { elicit: () => ({ action: 'decline' }) });
    const result = await bridge.run({ code: 'echo', servers: ['everything'] });
    expect(calls).toEqual([]);
    expect((result.structuredContent as { stdout: string }).stdout).toMatch(
      /^POLICY_DECLINED: everything\.echo needs the user's approval, and the user declined it\. \[rule: ask\["everything\.echo"\]\]\n$/,
    );
  });

  it('refuses the call when the client cannot be asked (no form elicitation)', async () => {
    const calls: string[] = [];
    const { engine } = askingEngine(echoing(1), calls);
    const result = await (await connectInMemory(engine)).run({ code: 'echo', servers: ['everything'] });
    expect(calls).toEqual([]);
    expect((result.structuredContent as { stdout: string }).stdout).toContain(
      "POLICY_DECLINED: everything.echo needs the user's approval, and this MCP client cannot be asked",
    );
  });
});

it('ends the sessions of a client when its connection closes', async () => {
  const { engine, sandboxes } = scriptedEngine(printing(''));
  const bridge = await connectInMemory(engine);
  await bridge.run({ code: 'x = 1', session: 'kept' });
  expect(sandboxes[0]?.destroyed).toBe(false);
  await bridge.server.close();
  await vi.waitFor(() => expect(sandboxes[0]?.destroyed).toBe(true));
});
