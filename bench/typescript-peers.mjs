// Child of bench/typescript-isolation.mjs (node --no-node-snapshot, which isolated-vm needs on Node
// 20+): measures V8 isolates, raw through `isolated-vm` and through `@utcp/code-mode`, on the same
// upstream (server-everything). Both come from the directory CODEMODE_BENCH_PEERS (not dependencies
// of the bridge: isolated-vm compiles a native addon). Prints one JSON line of figures.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { EVERYTHING } from './lib.mjs';

const [peersArg, everythingArg, paceArg, burstArg, callsArg] = process.argv.slice(2);
const peers = peersArg || process.env.CODEMODE_BENCH_PEERS;
if (!peers || !existsSync(join(peers, 'node_modules', 'isolated-vm'))) {
  // Run by hand without the peers: say what is missing, and measure nothing.
  console.log(
    `typescript-peers: skipped: ${peers ? `${peers} holds no node_modules/isolated-vm` : 'CODEMODE_BENCH_PEERS is not set'}. ` +
      'Set CODEMODE_BENCH_PEERS to a directory where `npm install isolated-vm@5.0.4 @utcp/code-mode@1.2.12 @utcp/mcp@1.1.3 @utcp/sdk@1.1.2 --legacy-peer-deps` ran and isolated-vm was built, ' +
      'then run `npm run bench -- typescript-isolation` (it starts this file with node --no-node-snapshot).',
  );
  process.exit(0);
}
const everything = everythingArg || EVERYTHING;
const AGENT_PACE_MS = Number(paceArg ?? 300);
const BURST_RUNS = Number(burstArg ?? 30);
const CALLS = Number(callsArg ?? 200);
const requirePeer = createRequire(join(peers, 'node_modules', 'noop.js'));
const ivm = requirePeer('isolated-vm');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const p50 = (values) => [...values].sort((a, b) => a - b)[Math.ceil(values.length / 2) - 1];

/** One run on a fresh isolate: context, a console bridged to the host, compile, run. */
async function isolateRun(code, memoryLimit = 128) {
  const started = performance.now();
  const isolate = new ivm.Isolate({ memoryLimit });
  try {
    const context = await isolate.createContext();
    const logs = [];
    await context.global.set('__log', new ivm.Reference((text) => logs.push(text)));
    await context.eval('globalThis.console = { log: (...a) => __log.applySync(undefined, [a.join(" ")]) };');
    const script = await isolate.compileScript(code);
    await script.run(context, { timeout: 5000 });
    return { ms: performance.now() - started, logs };
  } finally {
    isolate.dispose();
  }
}

const figures = {};
// isolated-vm, raw: a fresh isolate per run.
for (let i = 0; i < 5; i++) await isolateRun('console.log(1)');
const paced = [];
for (let i = 0; i < 15; i++) {
  await sleep(AGENT_PACE_MS);
  paced.push((await isolateRun('console.log(1)')).ms);
}
figures.ivmPaced = p50(paced);
const burst = [];
for (let i = 0; i < BURST_RUNS; i++) burst.push((await isolateRun('console.log(1)')).ms);
figures.ivmBurst = p50(burst);
{
  const before = process.memoryUsage().rss;
  const isolates = Array.from({ length: 10 }, () => new ivm.Isolate({ memoryLimit: 128 }));
  const contexts = await Promise.all(isolates.map((isolate) => isolate.createContext()));
  figures.ivmIdleMbEach = (process.memoryUsage().rss - before) / 10 / 1048576;
  figures.ivmHeapMbEach = isolates[0].getHeapStatisticsSync().total_heap_size / 1048576;
  for (const isolate of isolates) isolate.dispose();
  void contexts;
}
// A host call through an async Reference (the shape @utcp/code-mode uses), against a direct call.
{
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = await isolate.createContext();
  await context.global.set('__host', new ivm.Reference(async (n) => n + 1));
  const script = await isolate.compileScript(
    'let t = Date.now(); let n = 0; for (let i = 0; i < 2000; i++) n = __host.applySyncPromise(undefined, [n]); (Date.now() - t) / 2000',
  );
  figures.ivmHostCallMs = await script.run(context);
  isolate.dispose();
  const host = async (n) => n + 1;
  const started = performance.now();
  let n = 0;
  for (let i = 0; i < 2000; i++) n = await host(n);
  figures.directAsyncCallMs = (performance.now() - started) / 2000;
}
// A memory bomb: the isolate is disposed, this process goes on.
try {
  await isolateRun('const keep = []; for (;;) keep.push(new Array(100000).fill(1.5));', 16);
  figures.ivmBomb = 'no error';
} catch (error) {
  figures.ivmBomb = `${error.message.slice(0, 80)}; the process survived`;
}

// @utcp/code-mode on server-everything.
const { CodeModeUtcpClient } = requirePeer('@utcp/code-mode');
requirePeer('@utcp/mcp');
const utcp = await CodeModeUtcpClient.create(process.cwd(), {
  manual_call_templates: [
    {
      name: 'ref',
      call_template_type: 'mcp',
      config: {
        mcpServers: { everything: { transport: 'stdio', command: process.execPath, args: [everything] } },
      },
    },
  ],
});
const chain = async (code) => {
  const started = performance.now();
  const outcome = await utcp.callToolChain(code);
  if (outcome.logs.some((line) => line.startsWith('[ERROR]'))) throw new Error(outcome.logs.join('\n'));
  return { ms: performance.now() - started, result: outcome.result };
};
for (let i = 0; i < 5; i++) await chain('console.log(1)');
const utcpPaced = [];
for (let i = 0; i < 15; i++) {
  await sleep(AGENT_PACE_MS);
  utcpPaced.push((await chain('console.log(1)')).ms);
}
figures.utcpPaced = p50(utcpPaced);
const bursts = [];
for (let round = 0; round < 2; round++) {
  const times = [];
  for (let i = 0; i < BURST_RUNS; i++) times.push((await chain('console.log(1)')).ms);
  bursts.push(p50(times));
  await sleep(2000);
}
figures.utcpBurst = bursts;
const loop = `let n = 0; for (let i = 0; i < ${CALLS}; i++) { ref.everything_echo({ message: "x" }); n++; } return n;`;
await chain(loop);
const utcpCalls = [];
const directCalls = [];
const transport = new StdioClientTransport({
  command: process.execPath,
  args: [everything],
  stderr: 'ignore',
});
const direct = new Client({ name: 'codemode-bench', version: '0' });
await direct.connect(transport);
for (let i = 0; i < CALLS; i++) await direct.callTool({ name: 'echo', arguments: { message: 'x' } });
for (let round = 0; round < 5; round++) {
  utcpCalls.push((await chain(loop)).ms / CALLS);
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) await direct.callTool({ name: 'echo', arguments: { message: 'x' } });
  directCalls.push((performance.now() - started) / CALLS);
}
figures.utcpCallMs = p50(utcpCalls);
figures.utcpDirectCallMs = p50(directCalls);
await direct.close();
await utcp.close?.();
process.stdout.write(`${JSON.stringify(figures)}\n`);
process.exit(0);
