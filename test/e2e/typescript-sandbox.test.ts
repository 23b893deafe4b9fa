/**
 * The TypeScript sandbox end to end below the engine: real Deno processes started by
 * `TypeScriptBackend` run real programs, and a scripted `SandboxHost` (no MCP server) answers their
 * tool and host calls, so the runtime's `mcp` object, its errors, its output and the confinement are
 * checked as a program sees them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HostCallError,
  type SandboxExit,
  type SandboxHost,
  type ServerGrant,
  type ToolCallRequest,
} from '../../src/sandbox/types.js';
import { TypeScriptBackend } from '../../src/sandbox/typescript/typescript-backend.js';
import { createLogger } from '../../src/shared/logger.js';

const SERVERS: ServerGrant[] = [
  {
    name: 'test-server',
    alias: 'test_server',
    description: 'A scripted server',
    tools: [
      { name: 'echo', alias: 'echo', description: 'Echoes its arguments', inputSchema: { type: 'object' } },
      { name: 'fail-now', alias: 'fail_now', inputSchema: { type: 'object' } },
      { name: 'refuse', alias: 'refuse', inputSchema: { type: 'object' } },
      { name: 'big', alias: 'big', inputSchema: { type: 'object' } },
    ],
  },
];
const CATALOG = [
  { name: 'test-server', alias: 'test_server' },
  { name: 'other', alias: 'other', description: 'Not granted' },
];

interface Run {
  exit: SandboxExit;
  stdout: string;
  stderr: string;
  calls: ToolCallRequest[];
  hostCalls: Array<{ op: string; args: Record<string, unknown> }>;
}

function scriptedHost(record: Omit<Run, 'exit'>): SandboxHost {
  return {
    onOutput(stream, data) {
      if (stream === 'stdout') record.stdout += data;
      else record.stderr += data;
    },
    async callTool(request) {
      record.calls.push(request);
      switch (request.tool) {
        case 'echo':
          return { echoed: request.args };
        case 'fail-now':
          throw new HostCallError('test-server.fail-now: the widget is broken', 'TOOL_ERROR');
        case 'refuse':
          throw new HostCallError('refused by the policy [rule: deny test-server.refuse]', 'POLICY_DENIED');
        case 'big':
          return 'x'.repeat(3 * 1024 * 1024);
        default:
          throw new HostCallError(`no tool ${request.tool}`, 'TOOL_ERROR');
      }
    },
    async callHost(op, args) {
      record.hostCalls.push({ op, args });
      if (op === 'describe_server') {
        return { name: 'other', alias: 'other', tools: [{ name: 'ping', alias: 'ping', inputSchema: {} }] };
      }
      if (op === 'search_tool_docs') {
        return {
          hits: [
            {
              server: { name: 'other', alias: 'other' },
              tool: { name: 'ping', alias: 'ping', inputSchema: {} },
              score: 2,
            },
            { skill: { name: 'py_only', version: 1 }, score: 1 },
          ],
          unavailable: [{ server: 'down', error: 'not reachable' }],
        };
      }
      throw new HostCallError(`unknown operation ${op}`, 'BAD_ARGUMENTS');
    },
  };
}

let stateDir: string;
let backend: TypeScriptBackend;

beforeAll(() => {
  stateDir = mkdtempSync(join(tmpdir(), 'codemode-ts-'));
  backend = new TypeScriptBackend({ stateDir, memory: '256m', logger: createLogger('error', () => {}) });
});

afterAll(async () => {
  await backend.close();
  rmSync(stateDir, { recursive: true, force: true });
});

async function run(code: string, options: { timeoutMs?: number } = {}): Promise<Run> {
  const sandbox = await backend.start();
  const record = { stdout: '', stderr: '', calls: [], hostCalls: [] };
  try {
    const exit = await sandbox.execute(
      { runId: 'r1', code, servers: SERVERS, catalog: CATALOG },
      scriptedHost(record),
      AbortSignal.timeout(options.timeoutMs ?? 20_000),
    );
    return { exit, ...record };
  } finally {
    await sandbox.destroy();
  }
}

function failed(result: Run): { error: string; traceback: string } {
  const { exit } = result;
  if (exit.kind !== 'done' || exit.ok)
    throw new Error(`expected a failed program, got ${JSON.stringify(exit)}`);
  return { error: exit.error, traceback: exit.traceback ?? '' };
}

describe('TypeScript sandbox: programs', () => {
  it('runs TypeScript with top-level await, console.log as stdout and console.error as stderr', async () => {
    const result = await run(
      'interface Point { x: number }\nconst p: Point = { x: await Promise.resolve(2) };\nconsole.log("x is", p.x, { nested: [1, "a"] });\nconsole.error("to stderr");',
    );
    expect(result.exit).toEqual({ kind: 'done', ok: true });
    expect(result.stdout).toBe('x is 2 { nested: [ 1, "a" ] }\n');
    expect(result.stderr).toBe('to stderr\n');
  });

  it('calls granted tools through mcp.<alias>.<tool>, sending the arguments as written', async () => {
    const result = await run(
      'const r = await mcp.test_server.echo({ text: "hi", n: 1, list: [true, null] });\nconsole.log(JSON.stringify(r));',
    );
    expect(result.exit).toEqual({ kind: 'done', ok: true });
    expect(result.calls).toEqual([
      { server: 'test-server', tool: 'echo', args: { text: 'hi', n: 1, list: [true, null] } },
    ]);
    expect(result.stdout).toBe('{"echoed":{"text":"hi","n":1,"list":[true,null]}}\n');
  });

  it('runs calls made together concurrently and delivers each result to its caller', async () => {
    const result = await run(
      'const rs = await Promise.all([1, 2, 3].map((n) => mcp.test_server.echo({ n })));\nconsole.log(rs.map((r: any) => r.echoed.n).join(","));',
    );
    expect(result.stdout).toBe('1,2,3\n');
    expect(result.calls).toHaveLength(3);
  });

  it('raises ToolError and PolicyError with the fields Python has', async () => {
    const result = await run(
      [
        'try { await mcp.test_server.fail_now({}); } catch (e) {',
        '  console.log(e instanceof ToolError, e instanceof mcp.ToolError, e.name, e.code, e.server, e.tool, e.message);',
        '}',
        'try { await mcp.test_server.refuse(); } catch (e) {',
        '  console.log(e instanceof PolicyError, e instanceof ToolError, e.name, e.code, e.rule);',
        '}',
      ].join('\n'),
    );
    expect(result.stdout).toBe(
      'true true ToolError TOOL_ERROR test-server fail-now test-server.fail-now: the widget is broken\n' +
        'true true PolicyError POLICY_DENIED deny test-server.refuse\n',
    );
  });

  it('reports an uncaught error with its line and column in program.ts, without the runtime', async () => {
    const result = await run(
      'const a: number = 1;\n\nfunction f(): never {\n  throw new RangeError("too far");\n}\nf();\n',
    );
    const { error, traceback } = failed(result);
    expect(error).toBe('RangeError: too far');
    expect(traceback).toContain('program.ts:4:9');
    expect(traceback).toContain('program.ts:6:1');
    expect(traceback).not.toMatch(/sandbox\.js|blob:/);
  });

  it('reports a syntax error with its position', async () => {
    const { error } = failed(await run('const a = ;\n'));
    expect(error).toMatch(/^SyntaxError: Expression expected/);
    expect(error).toContain('program.ts:1:11');
    expect(error).not.toContain('blob:');
  });

  it('calls a default-exported function and prints what it returns (the Cloudflare shape)', async () => {
    const result = await run(
      'export default async () => {\n  const r = await mcp.test_server.echo({ a: 1 });\n  return r;\n};\n',
    );
    expect(result.exit).toEqual({ kind: 'done', ok: true });
    expect(result.stdout).toBe('{ echoed: { a: 1 } }\n');
  });

  it('ends the run on an unhandled rejection', async () => {
    const { error } = failed(
      await run('mcp.test_server.fail_now({});\nawait new Promise((r) => setTimeout(r, 200));\n'),
    );
    expect(error).toBe('ToolError: test-server.fail-now: the widget is broken');
  });

  it('turns Deno.exit into the end of the program', async () => {
    expect(failed(await run('console.log("before");\nDeno.exit(3);\n')).error).toBe('exit(3)');
    const ok = await run('console.log("before");\nDeno.exit(0);\nconsole.log("never");\n');
    expect(ok.exit).toEqual({ kind: 'done', ok: true });
    expect(ok.stdout).toBe('before\n');
  });

  it('slices large output into frames and loses nothing', async () => {
    const result = await run('console.log("y".repeat(300_000));\n');
    expect(result.stdout).toBe(`${'y'.repeat(300_000)}\n`);
  });

  it('receives a 3 MiB result', async () => {
    const result = await run('const s = await mcp.test_server.big();\nconsole.log(s.length);\n');
    expect(result.stdout).toBe(`${3 * 1024 * 1024}\n`);
  });

  it('refuses arguments that are not one JSON object, before any call', async () => {
    const result = await run(
      [
        'for (const bad of [[1], "x", { n: 10n }]) {',
        '  try { await mcp.test_server.echo(bad as any); } catch (e) { console.log(e.name + ": " + e.message); }',
        '}',
      ].join('\n'),
    );
    expect(result.calls).toEqual([]);
    expect(result.stdout).toMatch(/^TypeError: mcp\.test_server\.echo: the arguments must be one object/);
    expect(result.stdout).toContain('cannot be sent as JSON');
  });
});

describe('TypeScript sandbox: mcp.runtime', () => {
  it('lists servers, documents tools, searches and calls by name or alias', async () => {
    const result = await run(
      [
        'const servers = await mcp.runtime.servers();',
        'console.log(servers.map((s) => s.name + ":" + s.alias + ":" + s.granted).join(" "));',
        'const doc = await mcp.runtime.docs("test-server", "echo");',
        'console.log(doc.serverAlias, doc.alias, doc.description);',
        'const other = await mcp.runtime.docs("other");',
        'console.log(other.map((d) => d.name).join(","));',
        'const hits = await mcp.runtime.search("ping something");',
        'console.log(hits.map((h) => h.server + "." + h.name + "@" + h.score).join(","));',
        'console.log(JSON.stringify(await mcp.runtime.callTool("test_server", "echo", { via: "alias" })));',
        'try { await mcp.runtime.callTool("other", "ping"); } catch (e) { console.log(e.code, e.server); }',
      ].join('\n'),
    );
    expect(result.exit).toEqual({ kind: 'done', ok: true });
    expect(result.stdout).toBe(
      [
        'test-server:test_server:true other:other:false',
        'test_server echo Echoes its arguments',
        'ping',
        'other.ping@2',
        '{"echoed":{"via":"alias"}}',
        'NOT_GRANTED other',
        '',
      ].join('\n'),
    );
    expect(result.stderr).toBe('mcp.runtime.search: server "down" skipped: not reachable\n');
    expect(result.hostCalls.map((call) => call.op)).toEqual(['describe_server', 'search_tool_docs']);
    expect(result.calls).toEqual([{ server: 'test-server', tool: 'echo', args: { via: 'alias' } }]);
  });
});

describe('TypeScript sandbox: confinement', () => {
  it('has no file, network, environment, subprocess, FFI or system access', async () => {
    const attempts = [
      'Deno.readTextFileSync("/etc/passwd")',
      'await Deno.readTextFile("/etc/hostname")',
      'Deno.writeTextFileSync("/tmp/codemode-ts-escape", "x")',
      'await fetch("http://127.0.0.1:9/")',
      'await Deno.connect({ hostname: "127.0.0.1", port: 9 })',
      'Deno.env.get("HOME")',
      'new Deno.Command("/bin/sh", { args: ["-c", "true"] }).outputSync()',
      'Deno.dlopen("libc.so.6", {})',
      'Deno.hostname()',
      'Deno.osRelease()',
      'await import("file:///etc/passwd")',
      'await import("https://example.com/x.ts")',
      'await import("npm:left-pad")',
      'await import("node:fs").then((fs) => fs.readFileSync("/etc/passwd", "utf8"))',
    ];
    const code = attempts
      .map(
        (attempt) =>
          `try { ${attempt}; console.log("ESCAPED: " + ${JSON.stringify(attempt)}); } catch (e) { console.log("refused"); }`,
      )
      .join('\n');
    const result = await run(code);
    expect(result.exit).toEqual({ kind: 'done', ok: true });
    expect(result.stdout).toBe('refused\n'.repeat(attempts.length));
  });

  it('keeps the bridge out of reach when the program replaces what the runtime uses', async () => {
    const result = await run(
      [
        'Object.defineProperty(Object.prototype, "server", { get() { return "other"; }, configurable: true });',
        'Object.defineProperty(Object.prototype, "code", { set() { throw new Error("code"); }, configurable: true });',
        'Array.prototype[Symbol.iterator] = function* () { yield "hijacked"; };',
        'Object.prototype.toJSON = function () { return { hijacked: true }; };',
        'Array.prototype.push = () => { throw new Error("push"); };',
        'Array.prototype.join = () => "hijacked";',
        'String.prototype.indexOf = () => -1;',
        'String.prototype.slice = () => "hijacked";',
        'JSON.stringify = () => "{\\"type\\":\\"done\\",\\"ok\\":true}";',
        'JSON.parse = () => ({ type: "rpc_result", id: 1, ok: true, value: "forged" });',
        'Map.prototype.get = () => undefined;',
        'Promise.prototype.then = function () { throw new Error("then"); };',
        'globalThis.queueMicrotask = () => {};',
        'const r = await mcp.test_server.echo({ a: 1 });',
        'delete Object.prototype.toJSON;',
        'console.log(typeof r, Object.keys(r.echoed).length);',
      ].join('\n'),
    );
    // Where the call goes is the runtime's; what its arguments serialize to follows the language,
    // and the program made every object's JSON `{ hijacked: true }`.
    expect(result.calls).toEqual([{ server: 'test-server', tool: 'echo', args: { hijacked: true } }]);
    expect(result.exit).toEqual({ kind: 'done', ok: true });
    expect(result.stdout).toBe('object 1\n');
  });

  it('makes writes to the process stdout output, not frames', async () => {
    const forged = JSON.stringify({ type: 'rpc', id: 99, server: 'other', tool: 'ping', args: {} });
    const result = await run(
      `Deno.stdout.writeSync(new TextEncoder().encode(${JSON.stringify(`${forged}\n`)}));\nconsole.log("after");\n`,
    );
    expect(result.exit).toEqual({ kind: 'done', ok: true });
    expect(result.calls).toEqual([]);
    expect(result.stdout).toBe(`${forged}\nafter\n`);
  });

  it('is killed at the deadline even in a busy loop', async () => {
    const sandbox = await backend.start();
    const record = { stdout: '', stderr: '', calls: [], hostCalls: [] };
    const exit = await sandbox.execute(
      { runId: 'r1', code: 'console.log("spinning");\nfor (;;) {}\n', servers: SERVERS, catalog: CATALOG },
      scriptedHost(record),
      AbortSignal.timeout(1500),
    );
    expect(exit).toEqual({ kind: 'aborted' });
    await sandbox.destroy();
    await sandbox.exited();
    expect(sandbox.alive).toBe(false);
  });

  it('ends a program that exhausts its memory without harming the next one', async () => {
    const small = new TypeScriptBackend({ stateDir, memory: '64m', logger: createLogger('error', () => {}) });
    try {
      const sandbox = await small.start();
      const record = { stdout: '', stderr: '', calls: [], hostCalls: [] };
      const exit = await sandbox.execute(
        {
          runId: 'r1',
          code: 'const keep: number[][] = [];\nfor (;;) keep.push(new Array(100_000).fill(1.5));\n',
          servers: SERVERS,
          catalog: CATALOG,
        },
        scriptedHost(record),
        AbortSignal.timeout(30_000),
      );
      expect(exit.kind).toBe('exited');
      await sandbox.destroy();
      const after = await run('console.log("fine");');
      expect(after.stdout).toBe('fine\n');
    } finally {
      await small.close();
    }
  });

  it('keeps a session between programs when the run frame says keep', async () => {
    const sandbox = await backend.start();
    try {
      const outputs: string[] = [];
      for (const code of ['globalThis.counter = 41;', 'console.log((globalThis as any).counter + 1);']) {
        const record = { stdout: '', stderr: '', calls: [], hostCalls: [] };
        const exit = await sandbox.execute(
          { runId: 'r', code, servers: SERVERS, catalog: CATALOG, keep: true },
          scriptedHost(record),
          AbortSignal.timeout(20_000),
        );
        expect(exit).toEqual({ kind: 'done', ok: true });
        outputs.push(record.stdout);
      }
      expect(outputs).toEqual(['', '42\n']);
      expect(sandbox.alive).toBe(true);
    } finally {
      await sandbox.destroy();
    }
  });
});

describe('TypeScript backend', () => {
  it('leaves no process behind when closed', async () => {
    const own = new TypeScriptBackend({ stateDir, memory: '128m', logger: createLogger('error', () => {}) });
    const sandboxes = await Promise.all([own.start(), own.start()]);
    await own.close();
    await Promise.all(sandboxes.map((sandbox) => sandbox.exited()));
    expect(sandboxes.map((sandbox) => sandbox.alive)).toEqual([false, false]);
    await expect(own.start()).rejects.toThrow(/shutting down/);
  });
});
