/**
 * No run can hurt another run or the bridge (issue 9): runs end deterministically whatever they leave
 * in flight, every per-run queue is bounded, host operations refuse inputs they cannot afford, and
 * the bridge goes away with its client. Each backend gets the same programs.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { BRIDGE_MAIN, containerSupport, eventually, isAlive } from '../helpers/environment.js';
import { serverEntry } from '../helpers/upstreams.js';

const SHAPES = fileURLToPath(new URL('../fixtures/shapes-server.mjs', import.meta.url));
const { skipReason } = containerSupport();

/** The backends every case runs on; containers only where the engine and test image exist. */
const BACKENDS = [
  ...(skipReason ? [] : [{ runtime: 'podman', label: 'container' }]),
  { runtime: 'embedded', label: 'embedded' },
] as const;

/** Resident memory of a process, from /proc (Linux). */
function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/** Reaches the runtime's channel object, as hostile code can: it shares the interpreter. */
const GRAB_CHANNEL =
  'import gc\nchannel = next(o for o in gc.get_objects() if type(o).__name__ == "HostChannel")';

describe.each(BACKENDS)('$label sandbox: no run hurts another', ({ runtime }) => {
  let dir: string;
  let work: string;
  let bridge: RunningBridge;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-reliability-'));
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: {
          shapes: { command: process.execPath, args: [SHAPES] },
          everything: { command: process.execPath, args: [serverEntry('server-everything')] },
        },
      }),
    );
    // The working directory doubles as a witness: nothing may be written into it.
    work = join(dir, 'work');
    mkdirSync(work);
    bridge = await startBridge(
      {
        MCP_BRIDGE_RUNTIME: runtime,
        MCP_BRIDGE_CONFIG: config,
        MCP_BRIDGE_MEMORY: '256m',
        HOME: dir,
        MCP_BRIDGE_STATE_DIR: join(tmpdir(), 'codemode-test-state'),
      },
      { cwd: work },
    );
  });
  afterAll(async () => {
    await bridge?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the output and the real error of a program that raises during gather, every time', async () => {
    const code = [
      'import asyncio',
      'print("before")',
      'async def boom():',
      '    raise ValueError("boom")',
      'await asyncio.gather(*[mcp_everything.echo(message=str(i)) for i in range(10)], boom())',
    ].join('\n');
    for (let i = 0; i < 10; i++) {
      const { structured } = await bridge.runPython({ code, servers: ['everything'] });
      expect(structured).toMatchObject({ status: 'error', stdout: 'before\n', error: 'ValueError: boom' });
    }
  });

  it('reports the output of a program that leaves fire-and-forget calls behind, every time', async () => {
    const code = [
      'import asyncio',
      'for i in range(10):',
      '    asyncio.ensure_future(mcp_everything.echo(message=str(i)))',
      'await asyncio.sleep(0)',
      'print("after")',
    ].join('\n');
    for (let i = 0; i < 10; i++) {
      const { structured } = await bridge.runPython({ code, servers: ['everything'] });
      expect(structured).toMatchObject({ status: 'ok', stdout: 'after\n' });
    }
  });

  it('queues calls beyond the in-flight cap instead of failing them', async () => {
    const code = [
      'import asyncio',
      'results = await asyncio.gather(*[mcp_shapes.quick(n=i) for i in range(100)])',
      'print(results == list(range(100)))',
    ].join('\n');
    const { structured } = await bridge.runPython({ code, servers: ['shapes'] });
    expect(structured).toMatchObject({ status: 'ok', stdout: 'True\n' });
  });

  it('fails a result nested too deeply with a clear error, and the next call on the session works', async () => {
    const code = [
      'import mcp',
      'try:',
      '    await mcp_shapes.nested(depth=1000)',
      'except mcp.ToolError as error:',
      '    print("refused:", error)',
      'value = await mcp_shapes.nested(depth=100)',
      'depth = 0',
      'while isinstance(value, list):',
      '    value, depth = value[0], depth + 1',
      'print(depth)',
    ].join('\n');
    const { structured } = await bridge.runPython({ code, servers: ['shapes'] });
    expect(structured.status).toBe('ok');
    expect(structured.stdout).toMatch(
      /^refused: the result is nested deeper than 256 levels; ask the tool for less/,
    );
    expect(structured.stdout).toMatch(/\n100\n$/);
  });

  it('ends a run that sends requests and never reads the replies, without growing the bridge', async () => {
    const before = rssBytes(bridge.pid);
    const code = `${GRAB_CHANNEL}\nwhile True:\n    channel._send({"type": "call", "id": 1, "op": "list_sessions", "args": {}})`;
    const { structured } = await bridge.runPython({ code, timeout: 5 });
    expect(['timeout', 'protocol_error']).toContain(structured.status);
    // Unbounded, the replies grew the bridge by ~150 MB a second until it died.
    expect(rssBytes(bridge.pid) - before).toBeLessThan(100 * 1024 * 1024);
    const next = await bridge.runPython({ code: 'print("alive")' });
    expect(next.text).toBe('alive');
  });

  it('refuses a search query over the cap at once, naming it, while other runs go on', async () => {
    const hostile = bridge.runPython({
      code: 'import mcp.runtime as rt\nawait rt.search_tool_docs("read a file " * 30000)',
    });
    const other = bridge.runPython({ code: 'print(6 * 7)' });
    const [refused, answered] = await Promise.all([hostile, other]);
    expect(refused.structured.status).toBe('error');
    expect(refused.structured.error).toContain("'query' is 360,000 characters; the limit is 2,000");
    expect(answered.text).toBe('42');
  });

  it('reports a NUL byte in the source as a SyntaxError', async () => {
    const { structured } = await bridge.runPython({ code: 'print(1)\u0000\n' });
    expect(structured.status).toBe('error');
    expect(structured.error).toMatch(/^SyntaxError: .*null bytes/);
  });

  it('refuses a timeout too small to honour, naming the minimum', async () => {
    const result = await bridge.runPython({ code: 'print(1)', timeout: 0.001 });
    expect(result.isError).toBe(true);
    expect(result.text).toContain('timeout must be at least 0.1 seconds');
  });

  it('writes nothing into its working directory, even when a run is killed for memory', async () => {
    const { structured } = await bridge.runPython({
      code: 'x = []\nwhile True:\n    x.append(bytearray(10**7))',
      timeout: 30,
    });
    expect(['killed', 'error']).toContain(structured.status);
    expect(readdirSync(work)).toEqual([]);
  });
});

describe('the MCP surface refuses what it cannot take, and goes away with its client', () => {
  it('answers a request over the message cap with an error and keeps serving', async () => {
    const bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'embedded' });
    try {
      const huge = bridge.runPython({ code: `x = "${'a'.repeat(17 * 1024 * 1024)}"` });
      await expect(huge).rejects.toThrow(McpError);
      await expect(huge).rejects.toThrow(/accepts at most 16 MiB per message/);
      const tooLong = await bridge.runPython({ code: `x = "${'a'.repeat(1_100_000)}"` });
      expect(tooLong.isError).toBe(true);
      expect(tooLong.text).toContain('code is limited to 1,000,000 characters');
      const next = await bridge.runPython({ code: 'print("alive")' });
      expect(next.text).toBe('alive');
    } finally {
      await bridge.close();
    }
  });

  it('answers garbage on stdin with a parse error and a batch with an invalid request, and keeps serving', async () => {
    const home = mkdtempSync(join(tmpdir(), 'codemode-framing-'));
    const child = spawn(process.execPath, [BRIDGE_MAIN], {
      cwd: home,
      env: { ...process.env, HOME: home, MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    try {
      const replies: Array<Record<string, unknown>> = [];
      createInterface({ input: child.stdout }).on('line', (line) => replies.push(JSON.parse(line)));
      child.stdin.write('this is not JSON\n');
      child.stdin.write(
        '[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]\n',
      );
      child.stdin.write('[]\n');
      child.stdin.write('{"jsonrpc":"2.0","id":3,"method":"ping"}\n');
      await vi.waitFor(() => expect(replies).toHaveLength(5), { timeout: 30_000 });
      expect(replies).toEqual([
        {
          jsonrpc: '2.0',
          id: null,
          error: { code: -32700, message: expect.stringMatching(/^Parse error: /) },
        },
        {
          jsonrpc: '2.0',
          id: 1,
          error: { code: -32600, message: expect.stringContaining('JSON-RPC batch') },
        },
        {
          jsonrpc: '2.0',
          id: 2,
          error: { code: -32600, message: expect.stringContaining('JSON-RPC batch') },
        },
        {
          jsonrpc: '2.0',
          id: null,
          error: { code: -32600, message: expect.stringContaining('JSON-RPC batch') },
        },
        { jsonrpc: '2.0', id: 3, result: {} },
      ]);
    } finally {
      child.stdin.end();
      await once(child, 'exit');
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('exits when its client goes away, even after an oversize message', async () => {
    const bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'embedded' });
    await bridge.runPython({ code: `x = "${'a'.repeat(17 * 1024 * 1024)}"` }).catch(() => {});
    await bridge.close();
    expect(await eventually(() => !isAlive(bridge.pid), 20_000)).toBe(true);
  });
});
