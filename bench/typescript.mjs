// `npm run bench -- typescript`: run_typescript through the real MCP surface, against baselines
// measured in the same run: a warm `console.log(1)` at agent pace against Python's `print(1)` on the
// embedded sandbox (the target: ≤ it), a burst of 30 (next p50 ≤ 10 ms), and a tool call from
// a program against the same call from an MCP client directly (≤ 1.5×). Type check on, as served.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  EVERYTHING,
  fmt,
  ratio,
  runPython,
  runTypeScript,
  sleep,
  startBridge,
  summary,
  untilQuiet,
} from './lib.mjs';

const AGENT_PACE_MS = 300;
const PACED_RUNS = 20;
const BURST_RUNS = 30;
const CALLS = 200;
const WARM_CALLS = 500;
const ROUNDS = 3;

async function bursts(client) {
  for (let round = 0; round < 2; round++) {
    await untilQuiet();
    const times = [];
    for (let i = 0; i < BURST_RUNS; i++) times.push((await runTypeScript(client, 'console.log(1);')).ms);
    const burst = summary(times);
    console.log(
      `  burst of ${BURST_RUNS}, ${round === 0 ? 'first' : 'next'}: p50 ${fmt(burst.p50)}, p95 ${fmt(burst.p95)} (target next p50 ≤ 10 ms)`,
    );
  }
}

export async function benchTypeScript() {
  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-ts-'));
  const config = join(root, 'servers.json');
  writeFileSync(
    config,
    JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING] } } }),
  );
  const bridge = await startBridge({
    MCP_BRIDGE_CONFIG: config,
    MCP_BRIDGE_RUNTIME: 'embedded',
    MCP_BRIDGE_LANGUAGES: 'python,typescript',
    MCP_BRIDGE_STATE_DIR: join(root, 'state'),
  });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [EVERYTHING],
    stderr: 'ignore',
  });
  const direct = new Client({ name: 'codemode-bench', version: '0' });
  await direct.connect(transport);
  try {
    // Warm both languages (Python's first embedded start builds its snapshot) and the checker.
    for (let i = 0; i < 3; i++) {
      await runPython(bridge.client, 'print(1)', { timeout: 120 });
      await runTypeScript(bridge.client, 'console.log(1);', { timeout: 120 });
    }
    await untilQuiet();

    console.log('\nrun_typescript through the MCP surface (embedded Python as the baseline)');
    const ts = [];
    const py = [];
    for (let i = 0; i < PACED_RUNS; i++) {
      await sleep(AGENT_PACE_MS);
      ts.push((await runTypeScript(bridge.client, 'console.log(1);')).ms);
      await sleep(AGENT_PACE_MS);
      py.push((await runPython(bridge.client, 'print(1)')).ms);
    }
    const tsPaced = summary(ts);
    const pyPaced = summary(py);
    console.log(
      `  warm console.log(1) at agent pace: p50 ${fmt(tsPaced.p50)} (p95 ${fmt(tsPaced.p95)}); ` +
        `Python print(1), embedded: p50 ${fmt(pyPaced.p50)} → ${ratio(tsPaced.p50, pyPaced.p50)} (target ≤ 1×)`,
    );

    // Each program new to the checker: what a check costs when its verdict is not cached.
    const fresh = [];
    for (let i = 0; i < PACED_RUNS; i++) {
      await sleep(AGENT_PACE_MS);
      fresh.push((await runTypeScript(bridge.client, `console.log(${i + 2});`)).ms);
    }
    const freshPaced = summary(fresh);
    console.log(
      `  a new program each time (its check not cached), at agent pace: p50 ${fmt(freshPaced.p50)} (p95 ${fmt(freshPaced.p95)}) → ${ratio(freshPaced.p50, pyPaced.p50)} Python`,
    );

    await bursts(bridge.client);
    const echo = (i) => direct.callTool({ name: 'echo', arguments: { message: String(i) } });
    for (let i = 0; i < WARM_CALLS; i++) await echo(i);
    await runTypeScript(
      bridge.client,
      `for (let i = 0; i < ${WARM_CALLS}; i++) await mcp.everything.echo({ message: "warm" });`,
      { servers: ['everything'] },
    );
    const ratios = [];
    for (let round = 0; round < ROUNDS; round++) {
      await untilQuiet();
      const started = performance.now();
      for (let i = 0; i < CALLS; i++) await echo(i);
      const directMs = (performance.now() - started) / CALLS;
      const { result } = await runTypeScript(
        bridge.client,
        [
          'for (let i = 0; i < 50; i++) await mcp.everything.echo({ message: "warm" });',
          'const started = Date.now();',
          `for (let i = 0; i < ${CALLS}; i++) await mcp.everything.echo({ message: String(i) });`,
          'console.log(Date.now() - started);',
        ].join('\n'),
        { servers: ['everything'] },
      );
      const bridgedMs = Number(result.structuredContent.stdout.trim()) / CALLS;
      ratios.push(bridgedMs / directMs);
      console.log(
        `  tool call (echo), round ${round + 1}: from a program ${fmt(bridgedMs)}, direct ${fmt(directMs)} → ${ratio(bridgedMs, directMs)} (target ≤ 1.5×)`,
      );
    }
    console.log(`  tool call ratio, median of ${ROUNDS}: ${summary(ratios).p50.toFixed(2)}×`);
  } finally {
    await direct.close();
    await bridge.close();
  }
  // The same runs with the check off: what the sandbox costs, and what the check adds beside it.
  const unchecked = await startBridge({
    MCP_BRIDGE_CONFIG: config,
    MCP_BRIDGE_LANGUAGES: 'typescript',
    MCP_BRIDGE_TYPECHECK: 'off',
    MCP_BRIDGE_STATE_DIR: join(root, 'state'),
  });
  try {
    console.log('  MCP_BRIDGE_TYPECHECK=off:');
    for (let i = 0; i < 3; i++) await runTypeScript(unchecked.client, 'console.log(1);', { timeout: 120 });
    await untilQuiet();
    const times = [];
    for (let i = 0; i < PACED_RUNS; i++) {
      await sleep(AGENT_PACE_MS);
      times.push((await runTypeScript(unchecked.client, 'console.log(1);')).ms);
    }
    const paced = summary(times);
    console.log(
      `  warm console.log(1) at agent pace, unchecked: p50 ${fmt(paced.p50)} (p95 ${fmt(paced.p95)})`,
    );
    await bursts(unchecked.client);
  } finally {
    await unchecked.close();
    rmSync(root, { recursive: true, force: true });
  }
}
