// Issue 29: fair shares. One `serve --http` bridge with a tokens file of two users; bob runs
// print(1) at agent pace, first alone (the baseline), then while alice floods the bridge with CPU-bound
// runs (more than the bridge has run slots, kept up the whole time). The bar: bob's p50 under
// the flood within 2× its solo figure. Both phases run in this one process against one bridge, so the
// ratio compares like with like on a noisy machine; the embedded sandbox by
// default (no containers needed); MCP_BRIDGE_RUNTIME=podman|auto|monty measures another.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BRIDGE_MAIN, fmt, IMAGE, ratio, runPython, sleep, summary } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_TEAM_ROUNDS ?? 30);
const FLOODERS = Number(process.env.BENCH_TEAM_FLOOD ?? 6);
const AGENT_PACE_MS = 300;
const ALICE = 'bench-alice-token-0123456789';
const BOB = 'bench-bob-token-0123456789ab';
// A second of pure-Python work per flood run: it holds a run slot and a core, as a real flood would.
const FLOOD_CODE =
  'import time\nend = time.time() + 1\nn = 0\nwhile time.time() < end:\n    n += 1\nprint(n)';

function startServe(dir) {
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
      MCP_BRIDGE_LOG_LEVEL: 'info',
      MCP_BRIDGE_HTTP_TOKENS_FILE: tokens,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  writeFileSync(join(dir, 'none.json'), '{"mcpServers": {}}');
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.once('exit', (code) => reject(new Error(`bridge exited (${code}):\n${stderr}`)));
    child.stderr.on('data', (chunk) => {
      stderr += chunk.toString();
      const match = stderr.match(/serving MCP over HTTP .*mcp=(http:\/\/[^\s]+)\/mcp/);
      if (match) resolve({ child, base: match[1] });
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
  console.log(
    `team: bob's print(1) at agent pace, alone and while alice keeps ${FLOODERS} one-second CPU-bound runs going (MCP_BRIDGE_RUNTIME=${process.env.MCP_BRIDGE_RUNTIME ?? 'embedded'}, ${ROUNDS} rounds each)`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'codemode-bench-team-'));
  const { child, base } = await startServe(dir);
  try {
    const alice = await connect(base, ALICE, 'alice');
    const bob = await connect(base, BOB, 'bob');
    for (let i = 0; i < 3; i++) await runPython(bob, 'print(1)');
    await runPython(alice, 'print(1)');
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
    const loaded = await paced(bob);
    flooding = false;
    await Promise.all(flooders);
    console.log(
      `  bob alone: p50 ${fmt(solo.p50)} p95 ${fmt(solo.p95)}; during alice's flood: p50 ${fmt(loaded.p50)} p95 ${fmt(loaded.p95)} (${floodRuns} flood runs done); flood/solo p50 ${ratio(loaded.p50, solo.p50)} (the bar: ≤ 2×)`,
    );
    await Promise.allSettled([alice.close(), bob.close()]);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}
