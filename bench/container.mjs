// Issues 3 and 9: warm run_python latency vs a bare cold container with the same flags, under runc and,
// where the engine has it, gVisor (runsc); every figure beside the same run's runc baseline.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildRunArgs } from '../dist/sandbox/container/run-args.js';
import {
  childPids,
  engine,
  fmt,
  IMAGE,
  ociRuntimeUsable,
  ratio,
  rssMb,
  runPython,
  sandboxRssMb,
  sleep,
  startBridge,
  summary,
} from './lib.mjs';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 15);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 40);
const HOST_CALLS = Number(process.env.BENCH_HOST_CALLS ?? 200);
const HOST_CALL_RUNS = 7;
const AGENT_PACE_MS = 500;
// Each call timed on its own and the median printed: a preempted call (two shared cores) moves a mean.
const HOST_CALLS_CODE = [
  'import statistics, time',
  'import mcp.runtime as rt',
  'await rt.list_sessions()',
  'times = []',
  `for _ in range(${HOST_CALLS}):`,
  '    started = time.perf_counter()',
  '    await rt.list_sessions()',
  '    times.append((time.perf_counter() - started) * 1000)',
  'print(statistics.median(times))',
].join('\n');
const LIMITS = { memory: '512m', pidsLimit: 128, cpus: undefined, user: '65534:65534', tmpfsSize: '64m' };

export async function benchContainer() {
  const containerEngine = engine();
  if (!containerEngine) {
    console.log('container bench skipped: no usable podman or docker');
    return;
  }
  // runc first: it is the baseline every other row is compared with.
  const variants = [{ label: 'runc', ociRuntime: 'runc' }];
  if (ociRuntimeUsable(containerEngine, 'runsc')) {
    variants.push({ label: 'runsc (gVisor)', ociRuntime: 'runsc' });
    // gVisor forces frames onto the attached stdio: this row separates that cost from gVisor's own.
    variants.push({
      label: 'runc, frames over stdio',
      ociRuntime: 'runc',
      env: { MCP_BRIDGE_CONTAINER_CHANNEL: 'stdio' },
    });
  } else {
    console.log(`(runsc is not available to ${containerEngine}: gVisor rows skipped; apt-get install runsc)`);
  }

  const cold = coldRuns(containerEngine, [...new Set(variants.map((variant) => variant.ociRuntime))]);
  const results = await warmRuns(containerEngine, variants);

  const base = results[0];
  const baseCold = summary(cold.get('runc'));
  console.log(`\n## Container sandbox (${containerEngine}, image ${IMAGE}; ratios against runc in this run)`);
  for (const [ociRuntime, times] of cold) {
    const c = summary(times);
    console.log(
      `bare cold \`${containerEngine} run --runtime ${ociRuntime} … python3 -c 'print(1)'\`  p50 ${fmt(c.p50)}  p95 ${fmt(c.p95)}  (n=${c.n})${
        ociRuntime === 'runc' ? '' : `  ${ratio(c.p50, baseCold.p50)} runc`
      }`,
    );
  }
  for (const result of results) {
    const p = summary(result.paced);
    const b = summary(result.burst);
    const c = summary(cold.get(result.ociRuntime));
    const vs = (value, baseline) => (result === base ? '' : `  ${ratio(value, baseline)} runc`);
    console.log(`\n### ${result.label}`);
    console.log(
      `run_python print(1), agent pace (${AGENT_PACE_MS} ms apart, runtimes interleaved)  p50 ${fmt(p.p50)}  p95 ${fmt(p.p95)}  (n=${p.n})${vs(p.p50, summary(base.paced).p50)}`,
    );
    console.log(
      `run_python print(1), back-to-back burst   p50 ${fmt(b.p50)}  p95 ${fmt(b.p95)}  (n=${b.n})${vs(b.p50, summary(base.burst).p50)}`,
    );
    console.log(
      `host round trip from inside a run (mcp.runtime.list_sessions; median call of ${HOST_CALLS}, median of ${HOST_CALL_RUNS} runs)  ${fmt(result.hostCallMs)}${vs(result.hostCallMs, base.hostCallMs)}`,
    );
    console.log(
      `speed-up at agent pace (cold p50 / warm p50): ${(c.p50 / p.p50).toFixed(1)}×   burst: ${(c.p50 / b.p50).toFixed(1)}×`,
    );
    console.log(
      `bridge RSS ${result.bridgeRss.toFixed(1)} MB; its ${result.helpers} engine client processes (warm pool) ${result.helperRss.toFixed(1)} MB; ` +
        `host processes of one warm sandbox (engine monitor, runtime, program) ${result.sandboxRss.toFixed(1)} MB`,
    );
  }
}

/** Bare cold containers with the bridge's flags, alternating runtimes so drift hits each alike. */
function coldRuns(containerEngine, ociRuntimes) {
  const runtimeDir = fileURLToPath(new URL('../runtime/python', import.meta.url));
  const times = new Map(ociRuntimes.map((ociRuntime) => [ociRuntime, []]));
  for (let i = 0; i < COLD_RUNS; i++) {
    for (const ociRuntime of ociRuntimes) {
      const args = buildRunArgs({
        engine: containerEngine,
        image: IMAGE,
        name: `codemode-bench-cold-${process.pid}-${ociRuntime}-${i}`,
        ownerPid: process.pid,
        runtimeDir,
        limits: LIMITS,
        ociRuntime,
      });
      // Same flags, but the bare reference design: a fresh container that just runs python3 -c.
      const entry = args.indexOf('-I');
      const bare = [...args.slice(0, entry), '-c', 'print(1)'];
      const started = performance.now();
      execFileSync(containerEngine, bare, { stdio: ['ignore', 'pipe', 'pipe'] });
      times.get(ociRuntime).push(performance.now() - started);
    }
  }
  return times;
}

/**
 * One bridge per variant, all warm at once, their calls interleaved (A, B, C, A, …): a burst of load
 * from elsewhere on the machine then hits every variant alike instead of skewing one. Consecutive
 * calls are AGENT_PACE_MS apart, so each call's own pool refill is over before the next call.
 */
async function warmRuns(containerEngine, variants) {
  const bridges = [];
  for (const { ociRuntime, env = {} } of variants) {
    bridges.push(
      await startBridge({ MCP_BRIDGE_POOL_SIZE: '2', MCP_BRIDGE_OCI_RUNTIME: ociRuntime, ...env }),
    );
  }
  try {
    await sleep(3000); // let the pools warm
    for (const bridge of bridges) await runPython(bridge.client, 'print(1)');
    const paced = bridges.map(() => []);
    for (let i = 0; i < WARM_RUNS; i++) {
      for (const [index, bridge] of bridges.entries()) {
        await sleep(AGENT_PACE_MS);
        paced[index].push((await runPython(bridge.client, 'print(1)')).ms);
      }
    }
    // One run is at the mercy of one noisy moment: the median of several runs.
    const hostCalls = bridges.map(() => []);
    for (let i = 0; i < HOST_CALL_RUNS; i++) {
      for (const [index, bridge] of bridges.entries()) {
        await sleep(AGENT_PACE_MS);
        const { result } = await runPython(bridge.client, HOST_CALLS_CODE);
        hostCalls[index].push(Number(result.structuredContent?.stdout ?? Number.NaN));
      }
    }
    // A burst is bounded by how fast containers start, so each variant has the machine to itself.
    const burst = [];
    for (const bridge of bridges) {
      await sleep(3000); // the previous burst's refills
      const times = [];
      for (let i = 0; i < WARM_RUNS; i++) times.push((await runPython(bridge.client, 'print(1)')).ms);
      burst.push(times);
    }
    await sleep(3000); // the pools refill after the last runs
    return variants.map((variant, index) => {
      const bridge = bridges[index];
      const helpers = childPids(bridge.pid);
      const ids = containerIds(containerEngine, bridge.pid);
      return {
        ...variant,
        paced: paced[index],
        burst: burst[index],
        hostCallMs: summary(hostCalls[index]).p50,
        bridgeRss: rssMb(bridge.pid),
        helpers: helpers.length,
        helperRss: helpers.reduce((sum, pid) => sum + rssMb(pid), 0),
        sandboxRss: sandboxRssMb(ids) / Math.max(1, ids.length),
      };
    });
  } finally {
    await Promise.all(bridges.map((bridge) => bridge.close()));
  }
}

function containerIds(containerEngine, ownerPid) {
  const output = execFileSync(
    containerEngine,
    ['ps', '--no-trunc', '--filter', `label=codemode-bridge.owner=${ownerPid}`, '--format', '{{.ID}}'],
    { encoding: 'utf8' },
  );
  return output.split('\n').filter(Boolean);
}
