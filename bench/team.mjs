// Issue 29: fair shares. One `serve --http` bridge with a tokens file of two users; bob runs
// print(1) at agent pace, first alone (the baseline), then while alice floods the bridge with CPU-bound
// runs (more than the bridge has run slots, kept up the whole time). The bar: bob's p50 under
// the flood within 2× its solo figure. Both phases run in this one process against one bridge, so the
// ratio compares like with like on a noisy machine; the embedded sandbox by
// default (no containers needed); MCP_BRIDGE_RUNTIME=podman|auto|monty measures another.
// Each bridge is measured with the CPU shares between principals off and on (MCP_BRIDGE_CPU_SHARES),
// one after the other in this run (BENCH_TEAM_SHARES=off|auto measures one of them), with the load
// average before each phase: the machine's other load moves both figures of a pair alike.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BRIDGE_MAIN, fmt, IMAGE, ratio, sleep, summary } from './lib.mjs';

/** One run_python call, timed; the request may wait long on a loaded machine (the SDK's default is 60 s). */
async function runPython(client, code, extra = {}) {
  const started = performance.now();
  const result = await client.callTool({ name: 'run_python', arguments: { code, ...extra } }, undefined, {
    timeout: 600_000,
  });
  const ms = performance.now() - started;
  if (result.isError) throw new Error(`run failed: ${JSON.stringify(result.content)}`);
  return { ms, result };
}

const ROUNDS = Number(process.env.BENCH_TEAM_ROUNDS ?? 30);
const FLOODERS = Number(process.env.BENCH_TEAM_FLOOD ?? 6);
const AGENT_PACE_MS = 300;
const ALICE = 'bench-alice-token-0123456789';
const BOB = 'bench-bob-token-0123456789ab';
// A second of pure-Python work per flood run: it holds a run slot and a core, as a real flood would.
const FLOOD_CODE =
  'import time\nend = time.time() + 1\nn = 0\nwhile time.time() < end:\n    n += 1\nprint(n)';

const SHARES = (process.env.BENCH_TEAM_SHARES ?? 'off,auto').split(',');
const load = () => loadavg()[0].toFixed(1);

function startServe(dir, cpuShares) {
  const tokens = join(dir, 'tokens.toml');
  writeFileSync(
    tokens,
    `[[tokens]]\nname = "alice"\ntoken = "${ALICE}"\n\n[[tokens]]\nname = "bob"\ntoken = "${BOB}"\n`,
  );
  const child = spawn(process.execPath, [BRIDGE_MAIN, 'serve', '--http', '0'], {
    env: {
      ...process.env,
      HOME: dir,
      MCP_BRIDGE_STATE_DIR: join(dir, 'state'),
      MCP_BRIDGE_CONFIG: join(dir, 'none.json'),
      MCP_BRIDGE_RUNTIME: process.env.MCP_BRIDGE_RUNTIME ?? 'embedded',
      MCP_BRIDGE_IMAGE: IMAGE,
      // Debug: the bridge logs every CPU weight it sets, which this bench counts.
      MCP_BRIDGE_LOG_LEVEL: 'debug',
      MCP_BRIDGE_HTTP_TOKENS_FILE: tokens,
      MCP_BRIDGE_CPU_SHARES: cpuShares,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  writeFileSync(join(dir, 'none.json'), '{"mcpServers": {}}');
  return new Promise((resolve, reject) => {
    let stderr = '';
    const weights = { set: 0, mechanisms: new Set() };
    child.once('exit', (code) => reject(new Error(`bridge exited (${code}):\n${stderr}`)));
    child.stderr.on('data', (chunk) => {
      stderr += chunk.toString();
      for (const line of stderr.split('\n').slice(0, -1)) {
        const weight = line.match(/sandbox cpu weight .*mechanism=(\S+)/);
        if (weight) {
          weights.set++;
          weights.mechanisms.add(weight[1]);
        }
        const match = line.match(/serving MCP over HTTP .*mcp=(http:\/\/[^\s]+)\/mcp/);
        if (match) resolve({ child, base: match[1], weights });
      }
      stderr = stderr.slice(stderr.lastIndexOf('\n') + 1);
    });
  });
}

async function connect(base, token, name) {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name, version: '0' });
  await client.connect(transport);
  return client;
}

async function paced(client) {
  const times = [];
  for (let round = 0; round < ROUNDS; round++) {
    await sleep(AGENT_PACE_MS);
    times.push((await runPython(client, 'print(1)')).ms);
  }
  return summary(times);
}

export async function benchTeam() {
  const runtime = process.env.MCP_BRIDGE_RUNTIME ?? 'embedded';
  console.log(
    `team: bob's print(1) at agent pace, alone and while alice keeps ${FLOODERS} one-second CPU-bound runs going (MCP_BRIDGE_RUNTIME=${runtime}, ${ROUNDS} rounds each; MCP_BRIDGE_CPU_SHARES ${SHARES.join(', then ')})`,
  );
  for (const cpuShares of SHARES) await measure(cpuShares);
}

async function measure(cpuShares) {
  const dir = mkdtempSync(join(tmpdir(), 'codemode-bench-team-'));
  const { child, base, weights } = await startServe(dir, cpuShares);
  try {
    const alice = await connect(base, ALICE, 'alice');
    const bob = await connect(base, BOB, 'bob');
    for (let i = 0; i < 3; i++) await runPython(bob, 'print(1)');
    await runPython(alice, 'print(1)');
    const soloLoad = load();
    const solo = await paced(bob);

    let flooding = true;
    let floodRuns = 0;
    const flooders = Array.from({ length: FLOODERS }, async () => {
      while (flooding) {
        await runPython(alice, FLOOD_CODE, { timeout: 120 });
        floodRuns++;
      }
    });
    await sleep(2000);
    const floodLoad = load();
    const loaded = await paced(bob);
    flooding = false;
    await Promise.all(flooders);
    const mechanisms = [...weights.mechanisms].join('+') || 'none';
    console.log(
      `  MCP_BRIDGE_CPU_SHARES=${cpuShares} (${weights.set} weights set, by ${mechanisms}): bob alone: p50 ${fmt(solo.p50)} p95 ${fmt(solo.p95)} (load ${soloLoad}); during alice's flood: p50 ${fmt(loaded.p50)} p95 ${fmt(loaded.p95)} (load ${floodLoad}; ${floodRuns} flood runs done); flood/solo p50 ${ratio(loaded.p50, solo.p50)} (the bar: ≤ 2×)`,
    );
    await Promise.allSettled([alice.close(), bob.close()]);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
