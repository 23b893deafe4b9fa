// Issue 3: warm run_python latency vs a bare cold container with the same flags, measured in one run.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildRunArgs } from '../dist/sandbox/container/run-args.js';
import { childPids, engine, fmt, IMAGE, rssMb, runPython, sleep, startBridge, summary } from './lib.mjs';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 40);
const AGENT_PACE_MS = 500;

export async function benchContainer() {
  const containerEngine = engine();
  if (!containerEngine) {
    console.log('container bench skipped: no usable podman or docker');
    return;
  }
  const runtimeDir = fileURLToPath(new URL('../runtime/python', import.meta.url));
  const cold = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const args = buildRunArgs({
      engine: containerEngine,
      image: IMAGE,
      name: `codemode-bench-cold-${process.pid}-${i}`,
      ownerPid: process.pid,
      runtimeDir,
      limits: { memory: '512m', pidsLimit: 128, cpus: undefined, user: '65534:65534', tmpfsSize: '64m' },
    });
    // Same flags, but the bare reference design: a fresh container that just runs python3 -c.
    const entry = args.indexOf('-I');
    const bare = [...args.slice(0, entry), '-c', 'print(1)'];
    const started = performance.now();
    execFileSync(containerEngine, bare, { stdio: ['ignore', 'pipe', 'pipe'] });
    cold.push(performance.now() - started);
  }

  const bridge = await startBridge({ MCP_BRIDGE_POOL_SIZE: '2' });
  await sleep(2000); // let the pool warm
  await runPython(bridge.client, 'print(1)');
  const paced = [];
  for (let i = 0; i < WARM_RUNS; i++) {
    await sleep(AGENT_PACE_MS);
    paced.push((await runPython(bridge.client, 'print(1)')).ms);
  }
  const burst = [];
  for (let i = 0; i < WARM_RUNS; i++) burst.push((await runPython(bridge.client, 'print(1)')).ms);
  await sleep(1500);
  const bridgeRss = rssMb(bridge.pid);
  const helpers = childPids(bridge.pid);
  const helperRss = helpers.reduce((sum, pid) => sum + rssMb(pid), 0);
  await bridge.close();

  const c = summary(cold);
  const p = summary(paced);
  const b = summary(burst);
  console.log(`\n## Container sandbox (${containerEngine}, image ${IMAGE})`);
  console.log(
    `bare cold \`${containerEngine} run … python3 -c 'print(1)'\`  p50 ${fmt(c.p50)}  p95 ${fmt(c.p95)}  (n=${c.n})`,
  );
  console.log(
    `run_python print(1), agent pace (${AGENT_PACE_MS} ms apart)  p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)}  (n=${p.n})`,
  );
  console.log(`run_python print(1), back-to-back burst   p50 ${fmt(b.p50)}  p95 ${fmt(b.p95)}  (n=${b.n})`);
  console.log(
    `speed-up at agent pace (cold p50 / warm p50): ${(c.p50 / p.p50).toFixed(1)}×   burst: ${(c.p50 / b.p50).toFixed(1)}×`,
  );
  console.log(
    `bridge RSS ${bridgeRss.toFixed(1)} MB; its ${helpers.length} engine client processes (warm pool) ${helperRss.toFixed(1)} MB`,
  );
}
