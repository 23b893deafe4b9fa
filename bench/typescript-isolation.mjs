// Issue 30: which sandbox runs TypeScript programs, on measurements (docs/typescript.md, "Why this
// sandbox"). `npm run bench -- typescript-isolation` prints one table; every row has a baseline
// measured in this same run (these machines are noisy: compare ratios, not milliseconds).
//
// Candidates: (1) a fresh permissionless Deno process per run, the chosen TypeScriptBackend, through
// the real WarmPool; (2) a fresh Worker per run inside one long-lived Deno; (3) V8 isolates through
// isolated-vm, and @utcp/code-mode on the same upstream (both from CODEMODE_BENCH_PEERS, a directory
// where they are installed: they are not the bridge's dependencies); (4) the same Deno runtime inside
// the hardened podman container. Then the type check's cost against the run's.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { TypeCheckService } from '../dist/engine/typescript/check-service.js';
import { serverDeclaration } from '../dist/engine/typescript/declarations.js';
import { ProgramChecker } from '../dist/engine/typescript/program-checker.js';
import { EmbeddedBackend } from '../dist/sandbox/embedded/embedded-backend.js';
import { WarmPool } from '../dist/sandbox/pool.js';
import { ProcessSandbox } from '../dist/sandbox/process-sandbox.js';
import { TypeScriptBackend } from '../dist/sandbox/typescript/typescript-backend.js';
import { createLogger } from '../dist/shared/logger.js';
import { resolveStateDir } from '../dist/shared/state-dir.js';
import { assignAliases } from '../dist/upstream/config/alias.js';
import { unwrapToolResult } from '../dist/upstream/unwrap.js';
import { childPids, EVERYTHING, fmt, IMAGE, rssMb, sleep, summary, untilQuiet } from './lib.mjs';

const AGENT_PACE_MS = 300;
const BURST_RUNS = 30;
const CALLS = 200;
const MEMORY = '256m';
const silent = createLogger('error', () => {});

const rows = [];
const row = (figure, value, baseline, target = '—') => {
  rows.push({ figure, value, baseline, target });
  console.error(`${figure}: ${value} | ${baseline}`);
};
const ms = (value) => (Number.isFinite(value) ? fmt(value) : 'n/a');
const x = (value, base) => `${(value / base).toFixed(2)}×`;
const us = (value) => `${(value * 1000).toFixed(0)} µs`;
const mb = (value) => `${value.toFixed(1)} MB`;
/** A short settle: on a loaded machine a full quiet may never come; the row says how it went. */
const settle = () => untilQuiet({ minMs: 1000, maxMs: 8000 });
const quiet = (waited) => (Number.isFinite(waited) ? 'quiet' : 'machine busy');

function pssMb(pid) {
  try {
    return Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

const GRANT = [
  {
    name: 'everything',
    alias: 'everything',
    tools: [{ name: 'echo', alias: 'echo', inputSchema: { type: 'object' } }],
  },
];

/** A SandboxHost whose tool calls go to a real MCP client (server-everything), or answer at once. */
function hostFor(client) {
  const output = { stdout: '', stderr: '' };
  return {
    output,
    onOutput(stream, data) {
      output[stream] += data;
    },
    async callTool(request) {
      if (!client) return { ok: true };
      return unwrapToolResult(await client.callTool({ name: request.tool, arguments: request.args }));
    },
    async callHost() {
      return null;
    },
  };
}

async function execute(sandbox, code, client, keep = false) {
  const host = hostFor(client);
  const started = performance.now();
  const exit = await sandbox.execute(
    { runId: 'bench', code, servers: GRANT, catalog: [], keep },
    host,
    AbortSignal.timeout(60_000),
  );
  const elapsed = performance.now() - started;
  if (exit.kind !== 'done' || !exit.ok)
    throw new Error(`run failed: ${JSON.stringify(exit)} ${host.output.stderr}`);
  return { ms: elapsed, stdout: host.output.stdout };
}

/** A warm sandbox per run, `AGENT_PACE_MS` after it became ready, as the pool hands them out. */
async function pacedRuns(backend, code, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const sandbox = await backend.start();
    await sleep(AGENT_PACE_MS);
    times.push((await execute(sandbox, code)).ms);
    await sandbox.destroy();
  }
  return summary(times);
}

async function burstThroughPool(pool, code) {
  const times = [];
  for (let i = 0; i < BURST_RUNS; i++) {
    const started = performance.now();
    const sandbox = await pool.acquire();
    await execute(sandbox, code);
    times.push(performance.now() - started);
    pool.released();
    void sandbox.destroy();
  }
  return summary(times);
}

async function connectEverything() {
  const client = new Client({ name: 'codemode-bench', version: '0' });
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: [EVERYTHING], stderr: 'ignore' }),
  );
  return client;
}

function bareDenoStart(deno, script) {
  const started = performance.now();
  const result = spawnSync(
    deno,
    ['run', '--no-prompt', '--no-config', '--no-lock', '--no-npm', '--no-remote', script],
    {
      env: { DENO_NO_UPDATE_CHECK: '1' },
      stdio: 'ignore',
    },
  );
  if (result.status !== 0) throw new Error(`deno exited ${result.status}`);
  return performance.now() - started;
}

// ---------------------------------------------------------------- (1) a Deno process per run
async function denoProcessRows(root) {
  const backend = new TypeScriptBackend({ stateDir: root, memory: MEMORY, logger: silent });
  const empty = join(root, 'empty.js');
  writeFileSync(empty, '');
  for (let i = 0; i < 2; i++) await (await backend.start()).destroy(); // Deno's code cache of the runtime
  await settle();
  const starts = [];
  const bare = [];
  for (let i = 0; i < 8; i++) {
    bare.push(bareDenoStart(backend.paths.deno, empty));
    const started = performance.now();
    const sandbox = await backend.start();
    starts.push(performance.now() - started);
    await sandbox.destroy();
  }
  row(
    'Deno process: cold start, spawn → ready (p50)',
    ms(summary(starts).p50),
    `bare deno run of an empty file ${ms(summary(bare).p50)} (${x(summary(starts).p50, summary(bare).p50)})`,
  );

  // The Python figure it must not exceed, measured the same way (a warm sandbox, print(1)).
  const python = new EmbeddedBackend({
    stateDir: resolveStateDir(process.env),
    memory: '512m',
    logger: silent,
  });
  await (await python.snapshots()).current();
  await settle();
  const pythonPaced = await pacedRuns(python, 'print(1)', 10);
  await python.close();
  await settle();
  const paced = await pacedRuns(backend, 'console.log(1)', 15);
  row(
    'Deno process: warm console.log(1) at agent pace, execute → done (p50 / p95)',
    `${ms(paced.p50)} / ${ms(paced.p95)}`,
    `Python embedded print(1), same path: ${ms(pythonPaced.p50)} (${x(paced.p50, pythonPaced.p50)})`,
    '≤ Python embedded',
  );

  // Bursts through the real pool (2 when quiet, up to 16), as the bridge would run them.
  const pool = new WarmPool(backend, { minSize: 2, maxSize: 16, logger: silent });
  pool.warm();
  await settle();
  const first = await burstThroughPool(pool, 'console.log(1)');
  const refill = await settle();
  const next = await burstThroughPool(pool, 'console.log(1)');
  row(
    `Deno process: ${BURST_RUNS} runs back to back through the pool, p50: first / next burst`,
    `${ms(first.p50)} / ${ms(next.p50)}`,
    `warm run at agent pace ${ms(paced.p50)} (${x(next.p50, paced.p50)}); ${quiet(refill)} between`,
    'next ≤ 10 ms',
  );
  await settle();
  const ready = childPids(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'deno';
    } catch {
      return false;
    }
  });
  const pss = ready.map(pssMb);
  const rss = ready.map(rssMb);
  await pool.close();

  // Memory a run adds: one sandbox kept after a program (a session's), before and after.
  const kept = await backend.start();
  const [keptPid] = childPids(process.pid).filter((pid) => !ready.includes(pid));
  const idle = rssMb(keptPid);
  await execute(kept, 'console.log(1)', undefined, true);
  const afterSmall = rssMb(keptPid);
  await execute(
    kept,
    'const a = Array.from({ length: 1_000_000 }, (_, i) => i); console.log(a.length)',
    undefined,
    true,
  );
  const afterArray = rssMb(keptPid);
  await kept.destroy();
  row(
    'Deno process: memory of a ready sandbox, PSS / RSS (p50 over the pool)',
    `${mb(summary(pss).p50)} / ${mb(summary(rss).p50)} (${ready.length} ready)`,
    `after console.log(1): RSS +${mb(afterSmall - idle)}; after a 1e6-number array: +${mb(afterArray - idle)}`,
  );

  // A tool call: sandbox → bridge → server-everything → bridge → sandbox, against the same client's call.
  const client = await connectEverything();
  for (let i = 0; i < 300; i++) await client.callTool({ name: 'echo', arguments: { message: 'x' } });
  const loop = `const t = performance.now();\nfor (let i = 0; i < ${CALLS}; i++) await mcp.everything.echo({ message: "x" });\nconsole.log((performance.now() - t) / ${CALLS});`;
  const sandbox = await backend.start();
  await execute(sandbox, loop, client, true);
  const ratios = [];
  const viaSandbox = [];
  const direct = [];
  for (let round = 0; round < 7; round++) {
    const inside = Number((await execute(sandbox, loop, client, true)).stdout);
    const started = performance.now();
    for (let i = 0; i < CALLS; i++) await client.callTool({ name: 'echo', arguments: { message: 'x' } });
    const outside = (performance.now() - started) / CALLS;
    viaSandbox.push(inside);
    direct.push(outside);
    ratios.push(inside / outside);
  }
  row(
    'Deno process: a tool call from the program (server-everything echo), per call, p50 of 7 rounds',
    ms(summary(viaSandbox).p50),
    `the same MCP client called directly ${ms(summary(direct).p50)} (median ratio ${summary(ratios).p50.toFixed(2)}×)`,
    '≤ 1.5× direct',
  );
  const hop = `const t = performance.now();\nfor (let i = 0; i < 2000; i++) await mcp.everything.echo({});\nconsole.log((performance.now() - t) / 2000);`;
  await execute(sandbox, hop, undefined, true);
  const hops = [];
  for (let round = 0; round < 5; round++)
    hops.push(Number((await execute(sandbox, hop, undefined, true)).stdout));
  await sandbox.destroy();
  // The same hop without our runtime (a minimal protocol loop in Deno, through the same ProcessSandbox),
  // and a bare pipe round trip: what the runtime adds, and what the host's frame path adds.
  const minimal = [];
  const pipe = [];
  for (let round = 0; round < 5; round++) {
    minimal.push(await minimalRuntimeHop(backend.paths.deno, root));
    pipe.push(await pipeRoundTrip(backend.paths.deno, root));
  }
  row(
    'Deno process: the host-call hop alone (a host that answers at once), per call',
    us(summary(hops).p50),
    `a minimal protocol loop in Deno, same host path ${us(summary(minimal).p50)}; a bare pipe round trip to Deno ${us(summary(pipe).p50)}`,
  );
  await backend.close();
  return {
    client,
    paced: paced.p50,
    next: next.p50,
    perCall: summary(viaSandbox).p50,
    direct: summary(direct).p50,
  };
}

const MINIMAL_RUNTIME = `
const enc = new TextEncoder(), dec = new TextDecoder(), buf = new Uint8Array(65536);
const send = (frame) => Deno.stdout.writeSync(enc.encode(JSON.stringify(frame) + '\\n'));
let pending = '';
async function line() {
  for (;;) {
    const nl = pending.indexOf('\\n');
    if (nl >= 0) { const text = pending.slice(0, nl); pending = pending.slice(nl + 1); return text; }
    const n = await Deno.stdin.read(buf);
    if (n === null) Deno.exit(0);
    pending += dec.decode(buf.subarray(0, n));
  }
}
send({ type: 'ready' });
await line();
const t = performance.now();
for (let i = 1; i <= 2000; i++) { send({ type: 'rpc', id: i, server: 'everything', tool: 'echo', args: {} }); await line(); }
send({ type: 'out', stream: 'stdout', data: String((performance.now() - t) / 2000) });
send({ type: 'done', ok: true, final: true });
await line();
`;
const PIPE_ECHO = `const b = new Uint8Array(65536);
for (;;) { const n = await Deno.stdin.read(b); if (n === null) break; Deno.stdout.writeSync(b.subarray(0, n)); }`;

async function minimalRuntimeHop(deno, root) {
  const script = join(root, 'minimal-runtime.js');
  writeFileSync(script, MINIMAL_RUNTIME);
  const child = spawn(deno, ['run', '--no-prompt', '--no-config', script], { stdio: 'pipe', detached: true });
  const sandbox = new ProcessSandbox({
    id: 'minimal',
    child,
    logger: silent,
    terminate: async () => {
      child.kill('SIGKILL');
      await sandbox.exited();
    },
  });
  await sandbox.waitReady();
  const host = hostFor(undefined);
  await sandbox.execute(
    { runId: 'bench', code: '', servers: GRANT, catalog: [] },
    host,
    AbortSignal.timeout(60_000),
  );
  await sandbox.destroy();
  return Number(host.output.stdout);
}

async function pipeRoundTrip(deno, root) {
  const script = join(root, 'pipe-echo.js');
  writeFileSync(script, PIPE_ECHO);
  const child = spawn(deno, ['run', '--no-prompt', '--no-config', script], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const times = [];
  await new Promise((resolve) => {
    let started = 0;
    child.stdout.on('data', () => {
      if (started) times.push(performance.now() - started);
      if (times.length === 2000) return resolve();
      started = performance.now();
      child.stdin.write('{"type":"rpc_result","id":1,"ok":true,"value":{}}\n');
    });
    child.stdin.write('start\n');
  });
  child.kill('SIGKILL');
  return summary(times).p50;
}

// ---------------------------------------------------------------- (2) a Worker per run in one Deno
const WORKER_HOST = `
const source = 'const out = (...a) => postMessage(a.join(" "));\\n' +
  'self.onmessage = async (e) => { const f = new Function("console", "return (async () => {" + e.data + "})()"); await f({ log: out }); postMessage(null); };\\n' +
  'postMessage("ready");';
const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
const median = (v) => [...v].sort((a, b) => a - b)[Math.ceil(v.length / 2) - 1];
const next = (w) => new Promise((r) => (w.onmessage = (e) => r(e.data)));
const spawnTimes = [], runTimes = [];
for (let i = 0; i < 20; i++) {
  let t = performance.now();
  const w = new Worker(url, { type: 'module' });
  await next(w);
  spawnTimes.push(performance.now() - t);
  await new Promise((r) => setTimeout(r, 50));
  t = performance.now();
  w.postMessage('console.log(1)');
  await next(w); await next(w);
  runTimes.push(performance.now() - t);
  w.terminate();
}
const rss = () => Deno.memoryUsage().rss / 1048576;
const before = rss();
const live = [];
for (let i = 0; i < 10; i++) { const w = new Worker(url, { type: 'module' }); await next(w); live.push(w); }
const perWorker = (rss() - before) / 10;
for (const w of live) w.terminate();
console.log(JSON.stringify({ spawn: median(spawnTimes), run: median(runTimes), perWorker }));
`;

function denoWorkerRows(root, deno) {
  const script = join(root, 'worker-host.js');
  writeFileSync(script, WORKER_HOST);
  const run = spawnSync(deno, ['run', '--no-prompt', '--no-config', script], {
    encoding: 'utf8',
    env: { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
  });
  const figures = JSON.parse(run.stdout.trim().split('\n').at(-1));
  const bomb = join(root, 'worker-bomb.js');
  writeFileSync(
    bomb,
    `const w = new Worker(URL.createObjectURL(new Blob(['const k = []; for (;;) k.push(new Array(1e5).fill(1.5));'], { type: 'text/javascript' })), { type: 'module' });\n` +
      'const other = new Worker(URL.createObjectURL(new Blob(["setInterval(() => {}, 1000)"], { type: "text/javascript" })), { type: "module" });\n' +
      'await new Promise((r) => setTimeout(r, 15000)); console.log("survived");',
  );
  const bombed = spawnSync(
    deno,
    ['run', '--no-prompt', '--no-config', '--v8-flags=--max-old-space-size=64', bomb],
    {
      encoding: 'utf8',
      env: { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    },
  );
  row(
    'Deno Worker per run in one long-lived Deno: spawn → ready / console.log(1) round trip (p50)',
    `${ms(figures.spawn)} / ${ms(figures.run)}`,
    `RSS per live worker ${mb(figures.perWorker)}; one worker's memory bomb: ${
      bombed.stdout.includes('survived')
        ? 'the process survived'
        : `the whole process died (${bombed.signal ?? bombed.status}), every run in it with it`
    }`,
  );
}

// ---------------------------------------------------------------- (3) V8 isolates, and @utcp/code-mode
function peerRows() {
  const peers = process.env.CODEMODE_BENCH_PEERS;
  if (!peers || !existsSync(join(peers, 'node_modules', 'isolated-vm'))) {
    row(
      'isolated-vm / @utcp/code-mode',
      'skipped',
      'set CODEMODE_BENCH_PEERS to a directory where `npm install isolated-vm@5.0.4 @utcp/code-mode@1.2.12 @utcp/mcp@1.1.3 @utcp/sdk@1.1.2 --legacy-peer-deps` ran and isolated-vm was built (node-gyp rebuild)',
    );
    return undefined;
  }
  const child = spawnSync(
    process.execPath,
    [
      '--no-node-snapshot',
      fileURLToPath(new URL('./typescript-peers.mjs', import.meta.url)),
      peers,
      EVERYTHING,
      String(AGENT_PACE_MS),
      String(BURST_RUNS),
      String(CALLS),
    ],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
  );
  const line = child.stdout.trim().split('\n').at(-1);
  if (child.status !== 0 || !line)
    throw new Error(`the peers' benchmark failed: ${child.stderr.slice(-2000)}`);
  return JSON.parse(line);
}

// ---------------------------------------------------------------- (4) Deno inside the hardened container
function containerBackend(deno, runtimeDir) {
  let counter = 0;
  const live = new Set();
  return {
    kind: 'podman',
    description: 'podman + deno',
    async start() {
      const name = `codemode-ts-bench-${process.pid}-${++counter}`;
      const child = spawn(
        'podman',
        [
          'run',
          '--rm',
          '-i',
          '--name',
          name,
          '--pull',
          'never',
          '--network',
          'none',
          '--read-only',
          '--cap-drop',
          'ALL',
          '--security-opt',
          'no-new-privileges',
          '--user',
          '65534:65534',
          '--memory',
          MEMORY,
          '--pids-limit',
          '64',
          '--tmpfs',
          '/tmp:rw,noexec,size=64m',
          '-e',
          'DENO_DIR=/tmp/deno',
          '-e',
          'HOME=/tmp',
          '-e',
          'DENO_NO_UPDATE_CHECK=1',
          '-e',
          'NO_COLOR=1',
          '-v',
          `${deno}:/opt/deno:ro`,
          '-v',
          `${runtimeDir}:/opt/rt:ro`,
          IMAGE,
          '/opt/deno',
          'run',
          '--no-prompt',
          '--no-config',
          '--no-lock',
          '--no-npm',
          '--no-remote',
          `--v8-flags=--max-old-space-size=256`,
          '/opt/rt/sandbox.js',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      const sandbox = new ProcessSandbox({
        id: name,
        child,
        logger: silent,
        terminate: async () => {
          spawnSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
          await sandbox.exited();
        },
      });
      live.add(sandbox);
      void sandbox.exited().then(() => live.delete(sandbox));
      await sandbox.waitReady();
      return sandbox;
    },
    async close() {
      await Promise.all([...live].map((sandbox) => sandbox.destroy()));
    },
  };
}

async function containerRows(deno) {
  try {
    execFileSync('podman', ['image', 'exists', IMAGE], { stdio: 'ignore' });
  } catch {
    row('Deno in the hardened podman container', 'skipped', `no podman or no image ${IMAGE}`);
    return;
  }
  const backend = containerBackend(deno, fileURLToPath(new URL('../runtime/typescript', import.meta.url)));
  await (await backend.start()).destroy();
  await settle();
  const starts = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const sandbox = await backend.start();
    starts.push(performance.now() - started);
    await sandbox.destroy();
  }
  const paced = await pacedRuns(backend, 'console.log(1)', 8);
  const pool = new WarmPool(backend, { minSize: 2, maxSize: 16, logger: silent });
  pool.warm();
  await settle();
  await burstThroughPool(pool, 'console.log(1)');
  await untilQuiet({ minMs: 3000, maxMs: 20_000 });
  const next = await burstThroughPool(pool, 'console.log(1)');
  await pool.close();
  await backend.close();
  row(
    'Deno in the hardened podman container: start → ready / warm console.log(1) at agent pace / next burst (p50)',
    `${ms(summary(starts).p50)} / ${ms(paced.p50)} / ${ms(next.p50)}`,
    'same runtime and frames as the Deno process, stdio channel',
  );
}

// ---------------------------------------------------------------- the type check against the run
function referenceGrant() {
  return ['everything', 'memory', 'filesystem'].map((name) => {
    const fixture = JSON.parse(
      readFileSync(new URL(`../test/fixtures/tool-schemas/${name}.json`, import.meta.url), 'utf8'),
    );
    const aliases = assignAliases(fixture.tools.map((tool) => tool.name));
    const server = {
      name,
      alias: name,
      tools: fixture.tools.map((tool) => ({ ...tool, alias: aliases.get(tool.name) })),
    };
    return { key: name, text: serverDeclaration(server).text };
  });
}

async function typeCheckRows(root, deno, warmRunMs) {
  const runtimeDeclaration = readFileSync(new URL('../runtime/typescript/mcp.d.ts', import.meta.url), 'utf8');
  const [everything, memory, filesystem] = referenceGrant();
  const program = (i) =>
    `const r = await mcp.memory.read_graph();\nfor (const e of r.entities) console.log(e.name, ${i});\nconst x: number = ${i};\n`;
  let started = performance.now();
  const checker = new ProgramChecker(runtimeDeclaration);
  const load = performance.now() - started;
  started = performance.now();
  checker.check(program(0), [everything, memory]);
  const first = performance.now() - started;
  const warm = [];
  for (let i = 1; i <= 20; i++) {
    started = performance.now();
    checker.check(program(i), [everything, memory]);
    warm.push(performance.now() - started);
  }
  const changed = [];
  for (let i = 0; i < 10; i++) {
    const grant = i % 2 ? [everything, memory] : [memory, filesystem];
    started = performance.now();
    checker.check(program(100 + i), grant);
    changed.push(performance.now() - started);
  }
  const fresh = [];
  for (let i = 0; i < 3; i++) {
    const edited = { key: `memory-${i}`, text: `${memory.text}\n// edit ${i}\n` };
    started = performance.now();
    checker.check(program(200 + i), [everything, edited]);
    fresh.push(performance.now() - started);
  }
  row(
    'type check in process: load TypeScript / first check / warm check (p50)',
    `${ms(load)} / ${ms(first)} / ${ms(summary(warm).p50)}`,
    `the warm run it precedes ${ms(warmRunMs)} (warm check ${x(summary(warm).p50, warmRunMs)} of it)`,
    'warm check ≤ the run',
  );
  row(
    'type check: the grant switched between two cached ones / a server declaration never seen (p50)',
    `${ms(summary(changed).p50)} / ${ms(summary(fresh).p50)}`,
    `warm check with the same grant ${ms(summary(warm).p50)}`,
  );
  const service = new TypeCheckService({ runtimeDeclaration });
  started = performance.now();
  await service.check(program(0), [everything, memory]);
  const serviceFirst = performance.now() - started;
  const serviceWarm = [];
  for (let i = 1; i <= 20; i++) {
    started = performance.now();
    await service.check(program(i), [everything, memory]);
    serviceWarm.push(performance.now() - started);
  }
  await service.close();
  row(
    'type check in its worker thread (as the bridge would): first / warm (p50)',
    `${ms(serviceFirst)} / ${ms(summary(serviceWarm).p50)}`,
    `in process warm ${ms(summary(warm).p50)}`,
  );
  const dir = join(root, 'check');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'mcp.d.ts'), runtimeDeclaration);
  writeFileSync(join(dir, 'everything.d.ts'), everything.text);
  writeFileSync(join(dir, 'memory.d.ts'), memory.text);
  writeFileSync(
    join(dir, 'program.ts'),
    `/// <reference path="./mcp.d.ts" />\n/// <reference path="./everything.d.ts" />\n/// <reference path="./memory.d.ts" />\n${program(1)}export {};\n`,
  );
  const denoCheck = [];
  for (let i = 0; i < 3; i++) {
    started = performance.now();
    spawnSync(deno, ['check', '--no-config', '--no-lock', join(dir, 'program.ts')], {
      stdio: 'ignore',
      env: { DENO_DIR: join(root, 'deno-check'), DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    });
    denoCheck.push(performance.now() - started);
  }
  row(
    '`deno check` of the same program, a process per check (p50 of 3)',
    ms(summary(denoCheck).p50),
    `in-process warm ${ms(summary(warm).p50)}`,
  );
}

export async function benchTypeScriptIsolation() {
  const root = mkdtempSync(join(tmpdir(), 'codemode-ts-bench-'));
  let client;
  try {
    const deno = new TypeScriptBackend({ stateDir: root, memory: MEMORY, logger: silent }).paths.deno;
    const ours = await denoProcessRows(root);
    client = ours.client;
    denoWorkerRows(root, deno);
    const peers = peerRows();
    if (peers) {
      row(
        'isolated-vm, a fresh isolate per run: console.log(1) at agent pace / back to back (p50)',
        `${ms(peers.ivmPaced)} / ${ms(peers.ivmBurst)}`,
        `Deno process ${ms(ours.paced)} / next burst ${ms(ours.next)}`,
      );
      row(
        'isolated-vm: memory per idle isolate (RSS / heap) · host call via an async Reference',
        `${mb(peers.ivmIdleMbEach)} / ${mb(peers.ivmHeapMbEach)} · ${us(peers.ivmHostCallMs)}`,
        `a direct async call ${us(peers.directAsyncCallMs)}; memory bomb: ${peers.ivmBomb}`,
      );
      row(
        '@utcp/code-mode on server-everything: console.log(1) at agent pace / burst p50 (first, next)',
        `${ms(peers.utcpPaced)} / ${ms(peers.utcpBurst[0])}, ${ms(peers.utcpBurst[1])}`,
        `Deno process ${ms(ours.paced)} (${x(ours.paced, peers.utcpPaced)}) / next burst ${ms(ours.next)} (${x(ours.next, peers.utcpBurst[1])})`,
      );
      row(
        '@utcp/code-mode: a tool call from the program (echo), per call',
        `${ms(peers.utcpCallMs)} (direct ${ms(peers.utcpDirectCallMs)}, ${x(peers.utcpCallMs, peers.utcpDirectCallMs)})`,
        `Deno process ${ms(ours.perCall)} (direct ${ms(ours.direct)}, ${x(ours.perCall, ours.direct)}); ours / theirs ${x(ours.perCall, peers.utcpCallMs)}`,
      );
    }
    await containerRows(deno);
    await typeCheckRows(root, deno, ours.paced);
  } finally {
    await client?.close();
    rmSync(root, { recursive: true, force: true });
  }
  console.log('\n## TypeScript isolation (npm run bench -- typescript-isolation)\n');
  console.log('| figure | value | baseline (same run) | target |');
  console.log('| --- | --- | --- | --- |');
  for (const { figure, value, baseline, target } of rows)
    console.log(`| ${figure} | ${value} | ${baseline} | ${target} |`);
}
