// Issue 5: the embedded sandbox (Pyodide in Deno). Cold worker start with and without the memory
// snapshot, alternated in one run; warm run_python latency at agent pace; worker memory.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedBackend, embeddedStateDir } from '../dist/sandbox/embedded/embedded-backend.js';
import { embeddedMemoryLimits } from '../dist/sandbox/embedded/limits.js';
import { buildWorkerCommand } from '../dist/sandbox/embedded/worker-command.js';
import { createLogger } from '../dist/shared/logger.js';

const silentLogger = createLogger('error', () => {});

import { childPids, fmt, runPython, sleep, startBridge, summary } from './lib.mjs';

const START_RUNS = Number(process.env.BENCH_START_RUNS ?? 6);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 40);
const AGENT_PACE_MS = 500;
const MEMORY = '512m';

/** Spawns a worker exactly as the backend does and resolves with the ms until its `ready` frame. */
function timeColdStart(backend, stateDir) {
  const command = buildWorkerCommand({
    paths: backend.paths,
    limits: embeddedMemoryLimits(MEMORY),
    denoDir: join(embeddedStateDir(stateDir), 'deno'),
  });
  const started = performance.now();
  const child = spawn(command.file, command.args, { cwd: '/', env: command.env, stdio: 'pipe' });
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      text += chunk;
      if (text.includes('"type":"ready"')) {
        resolve(performance.now() - started);
        child.kill('SIGKILL');
      }
    });
    child.once('close', (code) => reject(new Error(`worker exited (${code}) before ready`)));
  });
}

function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: Number.NaN, hwm: Number.NaN };
  }
}

export async function benchEmbedded() {
  const stateDir = mkdtempSync(join(tmpdir(), 'codemode-bench-embedded-'));
  try {
    const backend = new EmbeddedBackend({ stateDir, memory: MEMORY, logger: silentLogger });
    const store = await backend.snapshots();
    const buildStarted = performance.now();
    await store.current();
    const snapshot = await store.settled();
    const buildMs = performance.now() - buildStarted;
    if (!snapshot) throw new Error('the snapshot could not be built');

    const cold = [];
    const warmStart = [];
    for (let i = 0; i < START_RUNS; i++) {
      cold.push(await timeColdStart(backend, stateDir));
      for (let j = 0; j < 2; j++) {
        const started = performance.now();
        const sandbox = await backend.start();
        warmStart.push(performance.now() - started);
        await sandbox.destroy();
      }
    }
    await backend.close();

    const bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_STATE_DIR: stateDir });
    await runPython(bridge.client, 'print(1)');
    await sleep(1500);
    const paced = [];
    const workerMemory = [];
    for (let i = 0; i < WARM_RUNS; i++) {
      await sleep(AGENT_PACE_MS);
      for (const pid of childPids(bridge.pid)) workerMemory.push(memoryOf(pid));
      paced.push((await runPython(bridge.client, 'print(1)')).ms);
    }
    await sleep(1500); // the pool refills after the last reply
    const idle = childPids(bridge.pid).map(memoryOf);
    await bridge.close();

    const c = summary(cold);
    const s = summary(warmStart);
    const p = summary(paced);
    const rss = summary(workerMemory.map((m) => m.rss));
    console.log(`\n## Embedded sandbox (${backend.description})`);
    console.log(`snapshot build ${fmt(buildMs)}, ${(snapshot.size / 1024 / 1024).toFixed(1)} MiB`);
    console.log(
      `cold worker start, no snapshot (spawn → ready)   p50 ${fmt(c.p50)}  p95 ${fmt(c.p95)}  (n=${c.n})`,
    );
    console.log(
      `cold worker start, from snapshot (spawn → ready) p50 ${fmt(s.p50)}  p95 ${fmt(s.p95)}  (n=${s.n})`,
    );
    console.log(`snapshot speed-up: ${(c.p50 / s.p50).toFixed(1)}×`);
    console.log(
      `run_python print(1), agent pace (${AGENT_PACE_MS} ms apart)  p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)}  (n=${p.n})`,
    );
    console.log(
      `warm worker RSS p50 ${rss.p50.toFixed(0)} MB, max ${Math.max(...workerMemory.map((m) => m.rss)).toFixed(0)} MB; ` +
        `idle workers now: ${idle.map((m) => `${m.rss.toFixed(0)} MB (peak ${m.hwm.toFixed(0)} MB)`).join(', ')}`,
    );
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
