/**
 * `run_typescript` through the real MCP surface: the built bridge as a child process, the SDK client,
 * real upstreams (server-everything, server-memory) and real Deno sandboxes. Typed tool calls, a type
 * error stopping a program before its first call, policy refusals as PolicyError, timeouts, output
 * caps and their handles, sessions, saved values across languages, cancellation; which tools
 * MCP_BRIDGE_LANGUAGES lists, MCP_BRIDGE_TYPECHECK=off, and a bad MCP_BRIDGE_LANGUAGES served as the
 * configuration error it is.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { BRIDGE_MAIN } from '../helpers/environment.js';
import { createTestHome, serverEntry, type TestHome } from '../helpers/upstreams.js';

const stateDir = mkdtempSync(join(tmpdir(), 'run-typescript-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

function configure(home: TestHome): void {
  home.write('.claude.json', {
    mcpServers: {
      everything: {
        command: process.execPath,
        args: [serverEntry('server-everything')],
        policy: { deny: ['get-env'] },
      },
      memory: {
        command: process.execPath,
        args: [serverEntry('server-memory')],
        env: { MEMORY_FILE_PATH: join(home.home, 'memory.jsonl') },
      },
    },
  });
}

describe('run_typescript beside run_python', () => {
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    configure(home);
    bridge = await startBridge(
      {
        HOME: home.home,
        MCP_BRIDGE_RUNTIME: 'embedded',
        MCP_BRIDGE_STATE_DIR: stateDir,
        MCP_BRIDGE_LANGUAGES: 'python,typescript',
        MCP_BRIDGE_MAX_OUTPUT_CHARS: '1000',
      },
      { cwd: home.project },
    );
  }, 120_000);
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it('lists both tools, within 600 o200k tokens together', async () => {
    const { tools } = await bridge.client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(['run_python', 'run_typescript']);
    expect(tools[1]?.inputSchema).toEqual(tools[0]?.inputSchema);
    expect(tools[1]?.outputSchema).toEqual(tools[0]?.outputSchema);
    const tokens = getEncoding('o200k_base').encode(JSON.stringify({ tools })).length;
    expect(tokens).toBeLessThanOrEqual(600);
  });

  it('runs a typed program: tool calls, console output, an awaited default export', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything', 'memory'],
      code: [
        'const echoed = await mcp.everything.echo({ message: "hi from ts" });',
        'console.log(echoed);',
        'await mcp.memory.create_entities({ entities: [{ name: "ts-ada", entityType: "person", observations: ["typed"] }] });',
        'const graph = await mcp.memory.read_graph();',
        'console.error("entities", graph.entities.map((e) => e.name).join(","));',
        'export default async () => ({ sum: 1 + 2 });',
      ].join('\n'),
    });
    expect(result.structured, result.text).toMatchObject({ status: 'ok', sandbox: 'embedded' });
    expect(result.structured.stdout).toBe('Echo: hi from ts\n{ sum: 3 }\n');
    expect(result.structured.stderr).toBe('entities ts-ada\n');
  });

  it("returns the value of a program that is one function expression (Cloudflare's shape)", async () => {
    const cloudflare = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        '// the shape Cloudflare code mode takes',
        'async () => {',
        '  const echoed = await mcp.everything.echo({ message: "cf" });',
        '  return { echoed, n: 1 + 2 };',
        '};',
      ].join('\n'),
    });
    expect(cloudflare.structured, cloudflare.text).toMatchObject({ status: 'ok' });
    expect(cloudflare.structured.stdout).toBe('{ echoed: "Echo: cf", n: 3 }\n');
    // An expression that calls once: its side effects happen once, its value is the result.
    const iife = await bridge.runTypeScript({ code: '(async () => { console.log("once"); return 5; })()' });
    expect(iife.structured.stdout).toBe('once\n5\n');
    // A program of statements runs as written: a last expression statement is not printed.
    const statements = await bridge.runTypeScript({
      code: 'console.log("first");\n(async () => 7)();\nconst x = 1;\nx + 1;',
    });
    expect(statements.structured, statements.text).toMatchObject({ status: 'ok', stdout: 'first\n' });
    // Errors keep the program's own lines, wrapped or not.
    const thrown = await bridge.runTypeScript({ code: 'async () => {\n  throw new Error("boom");\n}' });
    expect(thrown.structured).toMatchObject({ status: 'error' });
    expect(thrown.structured.traceback).toContain('program.ts:2:9');
  });

  it("runs the README's TypeScript example as written", async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /^```ts\n\/\/ run_typescript\(code=\.\.\., servers=(\[[^\]]*\])\)\n([\s\S]*?)^```$/m.exec(
      readme,
    );
    if (!example?.[1] || !example[2]) throw new Error('README.md has no run_typescript example');
    const result = await bridge.runTypeScript({ servers: JSON.parse(example[1]), code: example[2] });
    expect(result.structured, result.text).toMatchObject({ status: 'ok', stderr: '' });
    expect(result.structured.stdout).toContain('The sum of 1 and 2 is 3.');
  });

  it('returns a type error with its line and column before any tool call', async () => {
    const result = await bridge.runTypeScript({
      servers: ['memory'],
      code: [
        'console.log("printed before the verdict");',
        'await mcp.memory.create_entities({ entities: [{ name: "ts-never", entityType: "x", observations: [] }] });',
        'const n: number = "not a number";',
      ].join('\n'),
    });
    expect(result.isError).toBe(true);
    expect(result.structured.status).toBe('error');
    expect(result.structured.error).toMatch(/^Type error at program\.ts:3:7: TS2322: /);
    expect(result.structured.traceback).toContain('program.ts:3:7 - error TS2322');
    // Held, then dropped: nothing the program printed, no call made.
    expect(result.structured.stdout).toBe('');
    const graph = await bridge.runTypeScript({
      servers: ['memory'],
      code: 'const g = await mcp.memory.read_graph();\nconsole.log(g.entities.some((e) => e.name === "ts-never"));',
    });
    expect(graph.structured.stdout).toBe('false\n');
  });

  it('checks arguments against the tool schema: a misspelt one is a type error', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything'],
      code: 'await mcp.everything.echo({ mesage: "typo" });',
    });
    expect(result.structured.status).toBe('error');
    expect(result.structured.traceback).toMatch(/program\.ts:1:\d+ - error TS2\d+: .*mesage/);
  });

  it('throws a policy refusal as PolicyError with the rule', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'try {',
        '  await mcp.everything.get_env();',
        '} catch (e) {',
        '  if (e instanceof PolicyError) console.log("refused", e.code, e.rule !== null, e instanceof ToolError);',
        '  else throw e;',
        '}',
      ].join('\n'),
    });
    expect(result.structured, result.text).toMatchObject({ status: 'ok' });
    expect(result.structured.stdout).toBe('refused POLICY_DENIED true true\n');
  });

  it('ends a program past its timeout, and the next run is unaffected', async () => {
    const result = await bridge.runTypeScript({ code: 'console.log("start");\nwhile (true) {}', timeout: 1 });
    expect(result.structured.status).toBe('timeout');
    expect(result.structured.error).toMatch(/^Timed out after 1 s/);
    const next = await bridge.runTypeScript({ code: 'console.log("next")' });
    expect(next.structured.stdout).toBe('next\n');
  });

  it('caps output, keeps the rest under a handle, and pages it back with mcp.runtime.readOutput', async () => {
    const result = await bridge.runTypeScript({
      code: 'for (let i = 0; i < 500; i++) console.log("line " + i);',
    });
    expect(result.structured.status).toBe('ok');
    expect(result.structured.truncated?.stdout).toBeGreaterThan(0);
    const handle = result.structured.output?.handle;
    expect(handle).toMatch(/^out-/);
    const page = await bridge.runTypeScript({
      code: `const page = await mcp.runtime.readOutput(${JSON.stringify(handle)}, 0, 14);\nconsole.log(JSON.stringify(page.text));`,
    });
    expect(page.structured.stdout).toBe('"line 0\\nline 1\\n"\n');
  });

  it('keeps globalThis between the calls of a session; a Python session is not a TypeScript one', async () => {
    const first = await bridge.runTypeScript({ session: 'ts', code: 'globalThis.count = 41;' });
    expect(first.structured.session).toMatchObject({ name: 'ts', state: 'new' });
    const second = await bridge.runTypeScript({
      session: 'ts',
      code: 'console.log((globalThis as any).count + 1);',
    });
    expect(second.structured.stdout).toBe('42\n');
    expect(second.structured.session).toMatchObject({ state: 'resumed', runs: 2 });
    const python = await bridge.runPython({ session: 'ts', code: 'print(1)' });
    expect(python.structured.status).toBe('error');
    expect(python.structured.error).toContain('holds a TypeScript sandbox');
  });

  it('saves values that TypeScript and Python both load', async () => {
    const saved = await bridge.runTypeScript({
      code: 'console.log(JSON.stringify(await mcp.runtime.save("shared", { n: 1, list: ["a", "é"] })));',
    });
    expect(saved.structured.stdout).toMatch(/^\{"name":"shared","bytes":\d+\}\n$/);
    const loaded = await bridge.runTypeScript({
      code: 'const v = await mcp.runtime.load<{ n: number; list: string[] }>("shared");\nconsole.log(v.n, v.list.join(""));',
    });
    expect(loaded.structured.stdout).toBe('1 aé\n');
    // The first Python run here starts the embedded sandbox (Pyodide), which a loaded machine makes slow.
    const python = await bridge.runPython({
      code: 'import mcp.runtime as rt\nprint(await rt.load("shared"))',
      timeout: 120,
    });
    expect(python.structured.stdout, python.text).toBe("{'n': 1, 'list': ['a', 'é']}\n");
    const pickled = await bridge.runPython({
      code: 'import mcp.runtime as rt\nawait rt.save("pickled", {1, 2})',
      timeout: 120,
    });
    expect(pickled.structured, pickled.text).toMatchObject({ status: 'ok' });
    const refused = await bridge.runTypeScript({ code: 'await mcp.runtime.load("pickled");' });
    expect(refused.structured.error).toContain('saved by a Python program');
  }, 240_000);

  it('shows each tool’s TypeScript signature in mcp.runtime.docs, granted or not', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'const granted = await mcp.runtime.docs("everything", "echo");',
        'const other = await mcp.runtime.docs("memory", "read_graph");',
        'console.log(granted.signature);',
        'console.log(other.signature?.includes("read_graph("));',
      ].join('\n'),
    });
    expect(result.structured, result.text).toMatchObject({ status: 'ok' });
    expect(result.structured.stdout).toMatch(
      /echo\(args: \{[\s\S]*message: string;[\s\S]*\}\): Promise<unknown>;\ntrue\n$/,
    );
  });

  it('says skills are Python-only', async () => {
    const result = await bridge.runTypeScript({ code: 'await mcp.runtime.skills();' });
    expect(result.structured.error).toContain('Skills are Python functions');
  });

  it('kills the sandbox of a cancelled call and keeps serving', async () => {
    const controller = new AbortController();
    const pending = bridge.runTypeScript(
      { code: 'while (true) {}', timeout: 60 },
      { signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    controller.abort();
    await expect(pending).rejects.toThrow(/abort/i);
    const next = await bridge.runTypeScript({ code: 'console.log("after")' });
    expect(next.structured.stdout).toBe('after\n');
  });
});

describe('MCP_BRIDGE_LANGUAGES and MCP_BRIDGE_TYPECHECK', () => {
  let home: TestHome;
  beforeAll(() => {
    home = createTestHome();
    configure(home);
  });
  afterAll(() => home?.cleanup());

  it('typescript alone lists run_typescript only; with the check off a type error runs', async () => {
    const bridge = await startBridge(
      {
        HOME: home.home,
        MCP_BRIDGE_STATE_DIR: stateDir,
        MCP_BRIDGE_LANGUAGES: 'typescript',
        MCP_BRIDGE_TYPECHECK: 'off',
      },
      { cwd: home.project },
    );
    try {
      const { tools } = await bridge.client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(['run_typescript']);
      expect(bridge.client.getInstructions()).toMatch(
        /^codemode-bridge runs TypeScript for you in a sandbox[\s\S]*MCP servers available to run_typescript: everything \(mcp\.everything\), memory \(mcp\.memory\)\./,
      );
      const result = await bridge.runTypeScript({ code: 'const n: number = "unchecked";\nconsole.log(n);' });
      expect(result.structured.stdout).toBe('unchecked\n');
      await expect(bridge.runPython({ code: 'print(1)' })).rejects.toThrow(
        /Unknown tool "run_python": this server has one tool, run_typescript \(MCP_BRIDGE_LANGUAGES/,
      );
    } finally {
      await bridge.close();
    }
  }, 120_000);

  it('exports the declarations with `stubs --language typescript`', () => {
    const env = { ...process.env, HOME: home.home, MCP_BRIDGE_LOG_LEVEL: 'error' };
    const stubs = spawnSync(
      process.execPath,
      [BRIDGE_MAIN, 'stubs', '--language', 'typescript', 'memory', 'everything'],
      { env, cwd: home.project, encoding: 'utf8' },
    );
    expect(stubs.status, stubs.stderr).toBe(0);
    expect(stubs.stdout).toContain('declare const mcp: McpServers & {');
    expect(stubs.stdout).toContain('// MCP server "memory": mcp.memory\n');
    expect(stubs.stdout).toMatch(/readonly memory: \{[\s\S]*create_entities\(args: \{/);
    expect(stubs.stdout).toMatch(/get_sum\(args: \{[\s\S]*a: number;/);
    const bad = spawnSync(process.execPath, [BRIDGE_MAIN, 'stubs', '--language', 'rust'], {
      env,
      cwd: home.project,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--language takes python or typescript, not 'rust'");
  }, 60_000);

  it('serves a bad MCP_BRIDGE_LANGUAGES as the configuration error it is', async () => {
    const bridge = await startBridge(
      { HOME: home.home, MCP_BRIDGE_STATE_DIR: stateDir, MCP_BRIDGE_LANGUAGES: 'python,rust' },
      { cwd: home.project },
    );
    try {
      const result = await bridge.runPython({ code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(result.text).toContain('MCP_BRIDGE_LANGUAGES="python,rust" is invalid');
      expect(result.text).toContain('"rust" is not a language the bridge runs');
    } finally {
      await bridge.close();
    }
  }, 120_000);
});
