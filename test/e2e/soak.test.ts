/**
 * The soak of issues 9 and 27 in its shortened form (`bench/soak.mjs`, 120 runs at concurrency 8 per
 * sandbox; saved values, skills, sessions and approval prompts in the mix beside the faults): no run
 * may be lost or see another run's output, the bridge must hold what the soak's runs left it and no
 * more, and it may leave nothing behind. RSS and fd growth are printed, not asserted: on a run this
 * short they measure timing, not leaks. The wait for the warm pool to shrink back (minutes of idling)
 * is left to the full soak.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { containerSupport, TEST_IMAGE } from '../helpers/environment.js';

const SOAK = fileURLToPath(new URL('../../bench/soak.mjs', import.meta.url));
const RUNS = 120;
const CONCURRENCY = 8;

const { skipReason, engine } = containerSupport();
const podmanSkip =
  skipReason ?? (engine === 'podman' ? undefined : 'the soak drives podman, and only docker is here');

/** The fields of `bench/soak.mjs --json` this test reads. */
interface SoakReport {
  backend: string;
  skipped?: string;
  lost: number;
  mixed: number;
  leaked: number;
  bridgeLog: { tail: string[] };
  problems: Array<{ index: number; kind: string; token: string; lost?: string; mixed?: string[] }>;
  leaks: {
    containers: string[];
    processes: string[];
    tempDirs: string[];
    atRest: string[];
    held: string[];
  };
  byKind: Record<string, { runs: number; statuses: Record<string, number> }>;
  rss: { afterWarmUpMb: number; endMb: number; growthPercent: number };
  fds: { growth: number };
  runsPerSecond: number;
}

async function soak(backend: 'podman' | 'embedded' | 'monty'): Promise<SoakReport> {
  const args = [SOAK, '--runs', String(RUNS), '--concurrency', String(CONCURRENCY), '--backend', backend];
  args.push('--no-quiet-wait');
  // The soak exits 1 when it finds a problem; the report on stdout says which, so it is read either way.
  const { stdout } = await promisify(execFile)(process.execPath, [...args, '--json'], {
    env: { ...process.env, MCP_BRIDGE_IMAGE: TEST_IMAGE },
    maxBuffer: 64 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    if (!error.stdout) throw new Error(`the soak failed to run: ${error.message}\n${error.stderr ?? ''}`);
    return { stdout: error.stdout };
  });
  const [report] = JSON.parse(stdout) as SoakReport[];
  if (!report) throw new Error(`the soak printed no report: ${stdout.slice(0, 500)}`);
  if (report.skipped) throw new Error(`the soak could not run ${backend}: ${report.skipped}`);
  return report;
}

function check(report: SoakReport): void {
  const kinds = Object.entries(report.byKind).map(([kind, row]) => `${kind} ${row.runs}`);
  console.log(
    `soak ${report.backend}: ${kinds.join(', ')}; RSS ${report.rss.afterWarmUpMb} → ${report.rss.endMb} MB ` +
      `(${report.rss.growthPercent}%), fds ${report.fds.growth >= 0 ? '+' : ''}${report.fds.growth}, ${report.runsPerSecond} runs/s`,
  );
  expect(Object.values(report.byKind).reduce((sum, row) => sum + row.runs, 0)).toBe(RUNS);
  expect(report.problems, `bridge log:\n${report.bridgeLog.tail.join('\n')}`).toEqual([]);
  expect(report.lost).toBe(0);
  expect(report.mixed).toBe(0);
  expect(report.leaks.containers).toEqual([]);
  expect(report.leaks.processes).toEqual([]);
  expect(report.leaks.tempDirs).toEqual([]);
  expect(report.leaks.atRest).toEqual([]);
  expect(report.leaks.held).toEqual([]);
  expect(report.leaked).toBe(0);
}

describe('soak: no run hurts another', () => {
  it.skipIf(podmanSkip)(
    `container sandbox: ${RUNS} mixed runs with injected faults${podmanSkip ? ` (skipped: ${podmanSkip})` : ''}`,
    async () => check(await soak('podman')),
    900_000,
  );

  it(
    `embedded sandbox: ${RUNS} mixed runs with injected faults`,
    async () => check(await soak('embedded')),
    900_000,
  );

  it(
    `Monty tier: ${RUNS} mixed runs with injected faults (the kinds it runs)`,
    async () => check(await soak('monty')),
    900_000,
  );
});
