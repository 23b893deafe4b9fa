// Issue 28: the Monty tier against its six targets, each beside a floor measured in this same run
// (these machines are noisy). `npm run bench -- monty`.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  BRIDGE_MAIN,
  childPids,
  EVERYTHING,
  fmt,
  mainThreadCpuMs,
  runPython,
  sleep,
  startBridge,
  summary,
  untilQuiet,
} from './lib.mjs';

const MONTY = { MCP_BRIDGE_RUNTIME: 'monty' };
const AGENT_PACE_MS = 300;
const PACED_RUNS = 30;
const BURST_RUNS = 30;
const CALLS = 200;
const BATCH = 20;
const HTTP_CLIENTS = 16;
const HTTP_SECONDS = 5;
const SPAWNS = 7;
/** Runs (and as many pings) over which the bridge's main-thread CPU is read: ticks are 10 ms. */
const CPU_RUNS = 400;

const rows = [];
const row = (figure, value, floor, ratio, target) => rows.push({ figure, value, floor, ratio, target });
const x = (value, base) => `${(value / base).toFixed(2)}×`;

/** Proportional set size (MB) of a process: shared pages split among their sharers. */
function pssMb(pid) {
  try {
    return Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

function descendants(pid) {
  const seen = new Set();
  const pending = [...childPids(pid)];
  while (pending.length > 0) {
    const next = pending.pop();
    if (seen.has(next)) continue;
    seen.add(next);
    pending.push(...childPids(next));
  }
  return [...seen];
}

function serversConfig(root) {
  const config = join(root, 'servers.json');
  writeFileSync(
    config,
    JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING] } } }),
  );
  return config;
}

/** `print(1)` at agent pace against an MCP ping to the same bridge, alternated. */
async function pacedRow() {
  const bridge = await startBridge(MONTY);
  await runPython(bridge.client, 'print(1)');
  await untilQuiet({ maxMs: 5000 });
  const runs = [];
  const pings = [];
  for (let i = 0; i < PACED_RUNS; i++) {
    await sleep(AGENT_PACE_MS);
    let started = performance.now();
    await bridge.client.ping();
    pings.push(performance.now() - started);
    await sleep(AGENT_PACE_MS);
    started = performance.now();
    await runPython(bridge.client, 'print(1)');
    runs.push(performance.now() - started);
  }
  const run = summary(runs).p50;
  const ping = summary(pings).p50;
  row(
    'print(1) through MCP at agent pace (300 ms apart), p50',
    fmt(run),
    `MCP ping ${fmt(ping)}`,
    x(run, ping),
    '≤ 1.5×',
  );
  // 30 back to back, then again after a pause: the next burst.
  for (let i = 0; i < BURST_RUNS; i++) await runPython(bridge.client, 'print(1)');
  await sleep(2000);
  const burst = [];
  for (let i = 0; i < BURST_RUNS; i++) burst.push((await runPython(bridge.client, 'print(1)')).ms);
  const p50 = summary(burst).p50;
  row(
    `${BURST_RUNS} runs back to back, next burst p50`,
    fmt(p50),
    `MCP ping ${fmt(ping)}`,
    x(p50, ping),
    '≤ 2 ms',
  );
  await cpuRow(
    'stdio',
    bridge.pid,
    (i) => runPython(bridge.client, `x = ${i}\nprint(x * 2)`),
    () => bridge.client.ping(),
  );
  await bridge.close();
}

/**
 * The bridge's main-thread CPU per run back to back, beside per MCP ping over the same transport:
 * what the bridge itself spends on a run (parse, admission, the worker conversation, the run's
 * records, the response), which tells builds apart however loaded the machine is.
 */
async function cpuRow(transport, pid, run, ping) {
  let before = mainThreadCpuMs(pid);
  for (let i = 0; i < CPU_RUNS; i++) await run(i);
  const perRun = (mainThreadCpuMs(pid) - before) / CPU_RUNS;
  before = mainThreadCpuMs(pid);
  for (let i = 0; i < CPU_RUNS; i++) await ping();
  const perPing = (mainThreadCpuMs(pid) - before) / CPU_RUNS;
  row(
    `the bridge's main-thread CPU per print(1) run over ${transport} (${CPU_RUNS} back to back)`,
    fmt(perRun),
    `per MCP ping ${fmt(perPing)}`,
    x(perRun, perPing),
    'read, no target',
  );
}

/** One bridge over HTTP, 1 client then 16, each running short programs back to back. */
async function httpRow() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(process.execPath, [BRIDGE_MAIN, 'serve', '--http', String(port)], {
    env: { ...process.env, ...MONTY, MCP_BRIDGE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (/serving MCP over HTTP/.test(stderr)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`bridge exited ${code}: ${stderr}`)));
  });
  const connect = async () => {
    const client = new Client({ name: 'codemode-bench', version: '0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
    return client;
  };
  const drive = async (clients) => {
    const latencies = [];
    const until = performance.now() + HTTP_SECONDS * 1000;
    await Promise.all(
      clients.map(async (client, index) => {
        for (let i = 0; performance.now() < until; i++) {
          const started = performance.now();
          await client.callTool({
            name: 'run_python',
            arguments: { code: `x = ${index} + ${i}\nprint(x * 2)` },
          });
          latencies.push(performance.now() - started);
        }
      }),
    );
    return { perSecond: latencies.length / HTTP_SECONDS, p50: summary(latencies).p50 };
  };
  const clients = await Promise.all(Array.from({ length: HTTP_CLIENTS }, connect));
  for (const client of clients)
    await client.callTool({ name: 'run_python', arguments: { code: 'print(1)' } });
  await cpuRow(
    'HTTP',
    child.pid,
    (i) => clients[0].callTool({ name: 'run_python', arguments: { code: `x = ${i}\nprint(x * 2)` } }),
    () => clients[0].ping(),
  );
  await untilQuiet({ maxMs: 5000 });
  const one = await drive(clients.slice(0, 1));
  await untilQuiet({ maxMs: 5000 });
  const many = await drive(clients);
  row(
    `serve --http, ${HTTP_CLIENTS} clients running short programs: runs/s · p50 at ${HTTP_CLIENTS} vs at 1`,
    `${many.perSecond.toFixed(0)} runs/s · ${fmt(many.p50)}`,
    `1 client ${one.perSecond.toFixed(0)} runs/s · ${fmt(one.p50)}`,
    x(many.p50, one.p50),
    '≥ 200 runs/s; ≤ 3×',
  );
  await Promise.all(clients.map((client) => client.close()));
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
}

/** Tool calls from a Monty run against the SDK client calling the same server, alternated. */
async function toolCallRows() {
  const direct = new Client({ name: 'codemode-bench', version: '0' });
  await direct.connect(
    new StdioClientTransport({ command: process.execPath, args: [EVERYTHING], stderr: 'ignore' }),
  );
  const echo = (i) => direct.callTool({ name: 'echo', arguments: { message: String(i) } });
  for (let i = 0; i < 500; i++) await echo(i);
  const directPerCall = async (batch) => {
    const started = performance.now();
    for (let i = 0; i < CALLS; i += batch)
      await Promise.all(Array.from({ length: batch }, (_, j) => echo(i + j)));
    return (performance.now() - started) / CALLS;
  };
  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-'));
  const bridge = await startBridge({ ...MONTY, MCP_BRIDGE_CONFIG: serversConfig(root) });
  const grant = { servers: ['everything'] };
  await runPython(
    bridge.client,
    'for i in range(500):\n    await mcp_everything.echo(message="warm")',
    grant,
  );
  // Monty has no clock a program can read: a call's cost is the run with the calls less the same run without.
  const body = (batch) =>
    batch === 1
      ? `for i in range(${CALLS}):\n    await mcp_everything.echo(message=str(i))`
      : `import asyncio\nfor i in range(0, ${CALLS}, ${batch}):\n    await asyncio.gather(*[mcp_everything.echo(message=str(i + j)) for j in range(${batch})])`;
  const bridgePerCall = async (batch) => {
    const empty = (await runPython(bridge.client, 'import asyncio\nprint(1)', grant)).ms;
    const full = (await runPython(bridge.client, body(batch), grant)).ms;
    return Math.max(0, full - empty) / CALLS;
  };
  const pairs = { 1: [], [BATCH]: [] };
  for (let round = 0; round < 7; round++) {
    for (const batch of [1, BATCH]) {
      const viaDirect = await directPerCall(batch);
      pairs[batch].push({ direct: viaDirect, bridge: await bridgePerCall(batch) });
    }
  }
  const describe = (samples) => {
    const ratios = samples.map((pair) => pair.bridge / pair.direct).sort((a, b) => a - b);
    return {
      bridged: summary(samples.map((pair) => pair.bridge)).p50,
      directly: summary(samples.map((pair) => pair.direct)).p50,
      ratio: summary(ratios).p50,
      spread: `${ratios[0].toFixed(2)}–${ratios.at(-1).toFixed(2)}×`,
    };
  };
  const seq = describe(pairs[1]);
  const bat = describe(pairs[BATCH]);
  row(
    'a tool call from a Monty run vs the SDK client calling it directly',
    fmt(seq.bridged),
    `direct ${fmt(seq.directly)}`,
    `${seq.ratio.toFixed(2)}× (pairs ${seq.spread})`,
    '≤ 1.5×',
  );
  row(
    `${CALLS} calls gathered in batches of ${BATCH} vs direct batches`,
    `${fmt(bat.bridged)} per call`,
    `direct ${fmt(bat.directly)}`,
    `${bat.ratio.toFixed(2)}× (pairs ${bat.spread})`,
    '≤ 1.2×',
  );
  await bridge.close();
  await direct.close();
  rmSync(root, { recursive: true, force: true });
}

/** The tier idle: every process the bridge started (workers, bubblewrap), PSS, beside the bridge's own. */
async function memoryRow() {
  const bridge = await startBridge(MONTY);
  for (let i = 0; i < 20; i++) await runPython(bridge.client, 'print(1)');
  await untilQuiet({ maxMs: 5000 });
  await sleep(2000);
  const processes = descendants(bridge.pid);
  const tier = processes.reduce((sum, pid) => sum + pssMb(pid), 0);
  const own = pssMb(bridge.pid);
  row(
    'the Monty tier idle after 20 runs (PSS of every process the bridge started)',
    `${tier.toFixed(1)} MB in ${processes.length} processes`,
    `the bridge itself ${own.toFixed(1)} MB`,
    x(tier, own),
    '≤ 30 MB',
  );
  await bridge.close();
}

/** Spawn → first run result under MCP_BRIDGE_RUNTIME=monty, against spawn → first direct SDK call. */
async function spawnRow() {
  const firsts = [];
  const directs = [];
  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-'));
  const home = join(root, 'home');
  for (let i = 0; i < SPAWNS; i++) {
    await untilQuiet({ minMs: 500, maxMs: 3000 });
    let started = performance.now();
    const direct = new Client({ name: 'codemode-bench', version: '0' });
    await direct.connect(
      new StdioClientTransport({ command: process.execPath, args: [EVERYTHING], stderr: 'ignore' }),
    );
    await direct.callTool({ name: 'echo', arguments: { message: 'first' } });
    directs.push(performance.now() - started);
    await direct.close();
    await untilQuiet({ minMs: 500, maxMs: 3000 });
    started = performance.now();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BRIDGE_MAIN],
      env: { ...getDefaultEnvironment(), ...MONTY, HOME: home, MCP_BRIDGE_LOG_LEVEL: 'warn' },
      stderr: 'ignore',
    });
    const client = new Client({ name: 'codemode-bench', version: '0' });
    await client.connect(transport);
    await client.callTool({ name: 'run_python', arguments: { code: 'print(1)' } });
    firsts.push(performance.now() - started);
    await client.close();
  }
  rmSync(root, { recursive: true, force: true });
  const first = summary(firsts).p50;
  const directly = summary(directs).p50;
  row(
    'spawn → first run_python result (MCP_BRIDGE_RUNTIME=monty)',
    fmt(first),
    `spawn → first direct SDK call ${fmt(directly)}`,
    x(first, directly),
    '≤ 1.3×',
  );
}

export async function benchMonty() {
  console.log('\nMonty tier (issue 28): each figure beside a floor measured in this run\n');
  await pacedRow();
  await toolCallRows();
  await httpRow();
  await memoryRow();
  await spawnRow();
  for (const { figure, value, floor, ratio, target } of rows) {
    console.log(`${figure}\n  ${value}   floor: ${floor}   ratio ${ratio}   target ${target}`);
  }
}
