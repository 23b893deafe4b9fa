// Shared helpers for the benchmarks: start the built bridge over stdio, time things, summarise.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const BRIDGE_MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
/** The reference `everything` server, the upstream most benches call. */
export const EVERYTHING = fileURLToPath(
  new URL('../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
export const IMAGE =
  process.env.MCP_BRIDGE_IMAGE ?? process.env.MCP_BRIDGE_TEST_IMAGE ?? 'localhost/codemode-python:test';

export async function startBridge(env = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BRIDGE_MAIN],
    env: { ...getDefaultEnvironment(), MCP_BRIDGE_IMAGE: IMAGE, MCP_BRIDGE_LOG_LEVEL: 'warn', ...env },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'codemode-bench', version: '0' });
  await client.connect(transport);
  return { client, pid: transport.pid, close: () => client.close() };
}

/** One timed call of a run tool (`run_python`, `run_typescript`); a failed run ends the bench. */
async function timedRun(client, tool, code, extra) {
  const started = performance.now();
  const result = await client.callTool({ name: tool, arguments: { code, ...extra } });
  const ms = performance.now() - started;
  if (result.isError) throw new Error(`run failed: ${JSON.stringify(result.content)}`);
  return { ms, result };
}

export const runPython = (client, code, extra = {}) => timedRun(client, 'run_python', code, extra);
export const runTypeScript = (client, code, extra = {}) => timedRun(client, 'run_typescript', code, extra);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Busy and total CPU time of the whole machine so far, in clock ticks, from /proc/stat. */
function machineCpu() {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((sum, tick) => sum + tick, 0);
  // The fourth and fifth fields are idle and iowait.
  return { busy: total - ticks[3] - (ticks[4] ?? 0), total };
}

/**
 * Waits until the machine is quiet: at least `minMs`, then until one `windowMs` window in which
 * under `busyShare` of all CPUs was busy, or `maxMs` in all. A fixed pause is not enough on two
 * cores: after a burst, an embedded pool's 16 workers take both cores for 8–9 s to start. Returns
 * the milliseconds waited, or Infinity if the machine was still busy after `maxMs`.
 */
export async function untilQuiet({ minMs = 2000, windowMs = 500, busyShare = 0.1, maxMs = 60_000 } = {}) {
  const started = performance.now();
  await sleep(minMs);
  while (performance.now() - started < maxMs) {
    const before = machineCpu();
    await sleep(windowMs);
    const after = machineCpu();
    if (after.busy - before.busy < busyShare * (after.total - before.total))
      return performance.now() - started;
  }
  return Number.POSITIVE_INFINITY;
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summary(values) {
  return { p50: percentile(values, 50), p95: percentile(values, 95), n: values.length };
}

export const fmt = (ms) => (ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`);

/** `value` as a multiple of `baseline`, e.g. `2.41×`. */
export const ratio = (value, baseline) => `${(value / baseline).toFixed(2)}×`;

/** Resident set size of a process, in MB, from /proc. */
export function rssMb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Number(line.split(/\s+/)[1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Summed RSS, in MB, of the host processes of these containers: every process whose command line
 * names one of the ids (the engine's monitor; under gVisor also the runsc sandbox and gofer) and
 * their descendants (the program under runc; gVisor's ptrace stubs).
 */
export function sandboxRssMb(ids) {
  if (ids.length === 0) return 0;
  return [...processTree(ids)].reduce((sum, pid) => sum + (rssMb(pid) || 0), 0);
}

/** Every process whose command line contains one of `words`, and all their descendants. */
export function processTree(words) {
  const roots = readdirSync('/proc').filter((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      return words.some((word) => cmdline.includes(word));
    } catch {
      return false;
    }
  });
  const seen = new Set();
  const pending = roots.map(Number);
  while (pending.length > 0) {
    const pid = pending.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    pending.push(...childPids(pid));
  }
  return seen;
}

/** Direct children of a process, from /proc. */
export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Whether `containerEngine` can run containers with this OCI runtime (podman: found; docker: registered). */
export function ociRuntimeUsable(containerEngine, ociRuntime) {
  try {
    if (containerEngine === 'podman') {
      execFileSync('podman', ['--runtime', ociRuntime, 'info'], { stdio: 'ignore' });
      return true;
    }
    const runtimes = execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8' });
    return Object.hasOwn(JSON.parse(runtimes), ociRuntime);
  } catch {
    return false;
  }
}

export function engine() {
  for (const candidate of ['podman', 'docker']) {
    try {
      execFileSync(candidate, ['info'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  return undefined;
}

/** Open file descriptors of a process, from /proc; NaN when it is gone. */
export function openFdCount(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22); undefined when it is gone. */
export function processStartTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/**
 * CPU time the main thread of process `pid` has used so far, ms (user + system, from
 * /proc/<pid>/task/<pid>/stat; 10 ms ticks, so measure over hundreds of operations). A ratio of
 * CPU time is steadier than latency on a loaded machine: other processes delay a run, they add
 * little to the CPU the bridge spends on it.
 */
export function mainThreadCpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
