// Shared helpers for the benchmarks: start the built bridge over stdio, time things, summarise.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const BRIDGE_MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
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

export async function runPython(client, code, extra = {}) {
  const started = performance.now();
  const result = await client.callTool({ name: 'run_python', arguments: { code, ...extra } });
  const ms = performance.now() - started;
  if (result.isError) throw new Error(`run failed: ${JSON.stringify(result.content)}`);
  return { ms, result };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summary(values) {
  return { p50: percentile(values, 50), p95: percentile(values, 95), n: values.length };
}

export const fmt = (ms) => (ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`);

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

export function engine() {
  for (const candidate of ['podman', 'docker']) {
    try {
      execFileSync(candidate, ['info'], { stdio: 'ignore' });
      return candidate;
    } catch {}
  }
  return undefined;
}
