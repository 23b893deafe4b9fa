/**
 * The hostile suite's TypeScript half, through the real bridge (`run_typescript`, real Deno sandboxes,
 * real upstreams): escape attempts, the network, resources, prototype pollution of the host bridge,
 * forged frames, huge and deep values. After every case the bridge answers the next run and the
 * case's sandbox process is gone (the bridge keeps one warm sandbox, MCP_BRIDGE_POOL_SIZE=1). The
 * programs are not type-checked: the checker guards against mistakes, not against a hostile program.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { eventually } from '../helpers/environment.js';
import {
  childProcessesMatching,
  createTestHome,
  standardServers,
  type TestHome,
} from '../helpers/upstreams.js';

const stateDir = mkdtempSync(join(tmpdir(), 'hostile-typescript-state-'));
const SANDBOX = 'runtime/typescript/sandbox.js';

describe('hostile TypeScript programs', () => {
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    home.write('.claude.json', { mcpServers: standardServers(home.home, 'hostile-ts-secret') });
    bridge = await startBridge(
      {
        HOME: home.home,
        MCP_BRIDGE_STATE_DIR: stateDir,
        MCP_BRIDGE_LANGUAGES: 'typescript',
        // The checker is no boundary (`as any` passes anything): these cases test the sandbox and the
        // host, with programs written as plain JavaScript would be.
        MCP_BRIDGE_TYPECHECK: 'off',
        MCP_BRIDGE_MEMORY: '128m',
        MCP_BRIDGE_MAX_OUTPUT_CHARS: '2000',
      },
      { cwd: home.project },
    );
  }, 120_000);
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    // The bridge answers, and no sandbox is left beyond the one warm sandbox it keeps.
    const next = await bridge.runTypeScript({ code: 'console.log("alive")' });
    expect(next.structured.stdout).toBe('alive\n');
    expect(await eventually(() => childProcessesMatching(bridge.pid, SANDBOX).length <= 1, 20_000)).toBe(
      true,
    );
  });

  /** Runs `attempts` (each a statement that must throw) and prints which of them did not. */
  async function refusedAll(attempts: Record<string, string>) {
    const code = [
      'const escaped: string[] = [];',
      ...Object.entries(attempts).map(
        ([name, attempt]) =>
          `try { ${attempt}; escaped.push(${JSON.stringify(name)}); } catch { /* refused */ }`,
      ),
      'console.log(JSON.stringify(escaped));',
    ].join('\n');
    const result = await bridge.runTypeScript({ code, timeout: 30 });
    expect(result.structured, result.text).toMatchObject({ status: 'ok' });
    expect(result.structured.stdout).toBe('[]\n');
  }

  it('escape: no file, environment, subprocess, FFI, system information or imports', async () => {
    await refusedAll({
      read: 'Deno.readTextFileSync("/etc/passwd")',
      write: 'Deno.writeTextFileSync("/tmp/hostile-ts", "x")',
      env: 'Deno.env.get("HOME")',
      command: 'new Deno.Command("/bin/sh", { args: ["-c", "id"] }).outputSync()',
      ffi: 'Deno.dlopen("/lib/x86_64-linux-gnu/libc.so.6", {})',
      hostname: 'Deno.hostname()',
      importFile: 'await import("file:///etc/passwd")',
      importNpm: 'await import("npm:left-pad")',
      cwdOut: 'Deno.chdir("/etc")',
    });
  });

  it('network: no fetch, socket or listener', async () => {
    await refusedAll({
      fetch: 'await fetch("http://127.0.0.1:9/")',
      connect: 'await Deno.connect({ hostname: "127.0.0.1", port: 9 })',
      listen: 'Deno.listen({ port: 0 })',
      resolve: 'await Deno.resolveDns("example.com", "A")',
    });
  });

  it('resources: a memory bomb ends its own run only', async () => {
    const result = await bridge.runTypeScript({
      code: 'const hoard: number[][] = [];\nwhile (true) hoard.push(new Array(1e6).fill(1.5));',
      timeout: 60,
    });
    expect(['killed', 'error']).toContain(result.structured.status);
  });

  it('resources: an output flood is capped, the rest counted', async () => {
    const result = await bridge.runTypeScript({
      code: 'const line = "x".repeat(1000);\nfor (let i = 0; i < 20000; i++) console.log(line);',
      timeout: 60,
    });
    expect(result.structured.status).toBe('ok');
    expect(result.structured.stdout.length).toBeLessThanOrEqual(2200);
    expect(result.structured.truncated?.stdout).toBeGreaterThan(19_000_000);
  });

  it('prototype pollution of the host bridge: calls still go where they were written', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'Object.defineProperty(Object.prototype, "server", { set() { throw new Error("trap"); }, get() { return "memory"; } });',
        '(Array.prototype as any)[Symbol.iterator] = function* () { yield "polluted"; };',
        'JSON.stringify = () => "{}";',
        'JSON.parse = () => ({ hijacked: true });',
        '(Promise.prototype as any).then = function () { throw new Error("then"); };',
        'String.prototype.indexOf = () => -1;',
        'Map.prototype.get = () => undefined;',
        'const echoed = await mcp.everything.echo({ message: "still me" });',
        'Deno.stdout.writeSync(new TextEncoder().encode(String(echoed) + "\\n"));',
      ].join('\n'),
    });
    expect(result.structured, result.text).toMatchObject({ status: 'ok' });
    expect(result.structured.stdout).toBe('Echo: still me\n');
  });

  it('forged frames: writes to the process stdout are output, never frames', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'const out = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\\n"));',
        'out(JSON.stringify({ type: "rpc", id: 999, server: "memory", tool: "read_graph", args: {} }));',
        'out(JSON.stringify({ type: "done", ok: false, error: "forged" }));',
        'out(JSON.stringify({ type: "call", id: 998, op: "list_values", args: {} }));',
        'console.log("after");',
      ].join('\n'),
    });
    expect(result.structured, result.text).toMatchObject({ status: 'ok' });
    expect(result.structured.stdout).toContain('"type":"done","ok":false,"error":"forged"');
    expect(result.structured.stdout.endsWith('after\n')).toBe(true);
  });

  it('an ungranted server is refused by the host, whatever the runtime is made to send', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'try { await mcp.runtime.callTool("memory", "read_graph", {}); } catch (e) { console.log((e as any).code); }',
      ].join('\n'),
    });
    expect(result.structured.stdout).toBe('NOT_GRANTED\n');
  });

  it('huge values: an argument over the frame bound ends the run, the bridge stays', async () => {
    const result = await bridge.runTypeScript({
      servers: ['everything'],
      code: 'await mcp.everything.echo({ message: "x".repeat(12 * 1024 * 1024) });',
      timeout: 60,
    });
    expect(['protocol_error', 'error']).toContain(result.structured.status);
  });

  it('deep values: arguments nested past what a frame takes end the run only', async () => {
    const tooDeep = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'let deep: any = "m";',
        'for (let i = 0; i < 100; i++) deep = [deep];',
        'await mcp.everything.echo({ message: "m", deep } as any);',
      ].join('\n'),
      timeout: 60,
    });
    expect(tooDeep.structured.status).toBe('protocol_error');
    expect(tooDeep.structured.error).toContain('nested deeper than 64 levels');
    // Deeper than JSON.stringify can go, or sent and refused by the host: never the bridge's problem.
    const deeper = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'let deep: any = {};',
        'for (let i = 0; i < 1_000_000; i++) deep = { d: deep };',
        'try { await mcp.everything.echo({ message: "m", deep } as any); } catch (e) { console.log((e as Error).name); }',
      ].join('\n'),
      timeout: 60,
    });
    if (deeper.structured.status === 'ok') expect(deeper.structured.stdout).toBe('TypeError\n');
    else expect(deeper.structured.status).toBe('protocol_error');
  });
});
