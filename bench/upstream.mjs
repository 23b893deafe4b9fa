// Issue 4: tool calls from inside a run vs direct SDK calls to the same upstream, and the first-grant cost.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { EVERYTHING, engine, fmt, runPython, sleep, startBridge } from './lib.mjs';

const CALLS = Number(process.env.BENCH_TOOL_CALLS ?? 200);

export async function benchUpstream() {
  if (!engine() && !process.env.MCP_BRIDGE_RUNTIME) {
    console.log('upstream bench skipped: no sandbox runtime');
    return;
  }
  // Baseline: the same server, called directly through the SDK.
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [EVERYTHING],
    stderr: 'ignore',
  });
  const direct = new Client({ name: 'codemode-bench', version: '0' });
  let started = performance.now();
  await direct.connect(transport);
  await direct.listTools();
  const directConnectMs = performance.now() - started;
  for (let i = 0; i < 20; i++) await direct.callTool({ name: 'echo', arguments: { message: 'warm' } });
  started = performance.now();
  for (let i = 0; i < CALLS; i++) await direct.callTool({ name: 'echo', arguments: { message: String(i) } });
  const directMs = performance.now() - started;
  await direct.close();

  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-'));
  mkdirSync(join(root, 'home'));
  writeFileSync(
    join(root, 'home', '.claude.json'),
    JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING] } } }),
  );
  const bridge = await startBridge({ HOME: join(root, 'home') });
  await sleep(1500);
  await runPython(bridge.client, 'print(1)');
  await sleep(500);
  const firstGrant = await runPython(bridge.client, 'await mcp_everything.echo(message="x")', {
    servers: ['everything'],
  });
  await sleep(500);
  const warmGrant = await runPython(bridge.client, 'await mcp_everything.echo(message="x")', {
    servers: ['everything'],
  });
  await sleep(500);
  const code = [
    'import time',
    'for i in range(20):',
    '    await mcp_everything.echo(message="warm")',
    'started = time.perf_counter()',
    `for i in range(${CALLS}):`,
    '    await mcp_everything.echo(message=str(i))',
    'print((time.perf_counter() - started) * 1000)',
  ].join('\n');
  const { result } = await runPython(bridge.client, code, { servers: ['everything'] });
  const inSandboxMs = Number(result.structuredContent.stdout.trim());
  await bridge.close();
  rmSync(root, { recursive: true, force: true });

  const perDirect = directMs / CALLS;
  const perSandbox = inSandboxMs / CALLS;
  console.log(`\n## Upstream tool calls (server-everything echo over stdio, ${CALLS} sequential calls)`);
  console.log(`direct SDK client        ${fmt(perDirect)} per call`);
  console.log(
    `from inside run_python   ${fmt(perSandbox)} per call   ratio ${(perSandbox / perDirect).toFixed(2)}× the direct call`,
  );
  console.log(`direct connect + tools/list: ${fmt(directConnectMs)}`);
  console.log(
    `run_python with a first grant (connect + tools/list + 1 call): ${fmt(firstGrant.ms)}; same run once connected: ${fmt(warmGrant.ms)}; first-grant cost ≈ ${fmt(firstGrant.ms - warmGrant.ms)}`,
  );
}
