/**
 * Fair CPU between principals (docs/team.md, "Fair shares"): on a real `serve --http` with a tokens
 * file, alice's two running sandboxes share one sandbox's CPU weight (50 each, cgroup v2 units) while
 * bob's one keeps the whole default (100) without a write, alice's remaining one gets the whole back
 * when the other ends, and each weight is really in force where the bridge says it wrote it: a
 * cgroup's weight file, or the worker's niceness. The embedded sandbox (the HTTP helper's
 * default), so it runs wherever the bridge does; the mechanism is the one this machine offers. What the
 * weights do to bob's latency under a flood is measured in bench/team.mjs, not asserted here.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_MAIN } from '../helpers/environment.js';
import {
  type HttpBridge,
  runPython,
  startTeamBridge,
  type TeamBridge,
  textOf,
} from '../helpers/http-bridge.js';

const ALICE = 'alice-cpu-token-0123456789abcd';
const BOB = 'bob-cpu-token-0123456789abcdef';
/** Long enough to be running when looked at; each is cancelled once the weights have been read. */
const WAITING_RUN = 'import time\ntime.sleep(300)';

interface WeightLine {
  sandbox: string;
  weight: number;
  mechanism: string;
  target: string;
  value: string;
}

/** The last weight the bridge reports having set on each sandbox (debug log). */
function lastWeights(stderr: string): Map<string, WeightLine> {
  const last = new Map<string, WeightLine>();
  for (const line of stderr.split('\n')) {
    const match = line.match(
      / sandbox cpu weight sandbox=(\S+) weight=(\d+) mechanism=(\S+) target=(\S+) value=(\S+)/,
    );
    if (!match) continue;
    const [, sandbox, weight, mechanism, target, value] = match as unknown as string[];
    last.set(sandbox as string, {
      sandbox: sandbox as string,
      weight: Number(weight),
      mechanism: mechanism as string,
      target: target as string,
      value: value as string,
    });
  }
  return last;
}

/** What the kernel holds now for a weight line: the cgroup file's content, or the process's niceness. */
function inForce(line: WeightLine): string {
  const text = readFileSync(line.target, 'utf8');
  if (line.mechanism === 'cgroup') return text.trim();
  // /proc/<pid>/stat: the 19th field is the niceness; the command name (2nd) may hold spaces.
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[16] as string;
}

describe('fair CPU between principals (tokens file: alice, bob; embedded sandboxes)', () => {
  let team: TeamBridge;
  let bridge: HttpBridge;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    team = await startTeamBridge(
      'codemode-team-cpu-',
      [
        { name: 'alice', token: ALICE },
        { name: 'bob', token: BOB },
      ],
      {
        // Four slots, two per principal: alice's two runs and bob's one all run at once.
        MCP_BRIDGE_MAX_CONCURRENT_RUNS: '4',
        MCP_BRIDGE_POOL_SIZE: '1',
        MCP_BRIDGE_POOL_MAX: '3',
      },
    );
    ({ bridge } = team);
    ({ alice, bob } = team.clients as { alice: Client; bob: Client });
  }, 120_000);

  afterAll(async () => {
    await team?.close();
  });

  it("gives a principal's running sandboxes one sandbox's weight together, and leaves another's alone", async () => {
    const cancels = [new AbortController(), new AbortController()];
    const hold = (signal: AbortSignal) =>
      alice
        .callTool({ name: 'run_python', arguments: { code: WAITING_RUN, timeout: 600 } }, undefined, {
          signal,
          timeout: 600_000,
        })
        .catch(() => undefined);
    /** Waits until the sandboxes' last weights satisfy `done`. */
    const weightsWhen = async (done: (weights: WeightLine[]) => boolean): Promise<WeightLine[]> => {
      for (;;) {
        const weights = [...lastWeights(bridge.stderr()).values()];
        if (done(weights)) return weights;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    const sorted = (weights: WeightLine[]) =>
      weights
        .map((line) => line.weight)
        .sort((a, b) => a - b)
        .join(',');
    // Alice alone on the bridge: both her runs are admitted (with bob active, on a machine of two
    // cores or fewer her second would wait for her share: sandbox-admission.ts, its own test).
    const runs = cancels.map((cancel) => hold(cancel.signal));
    try {
      // Her two sandboxes at half a sandbox's weight each.
      const halves = await weightsWhen((weights) => sorted(weights) === '50,50');
      const mechanisms = new Set(halves.map((line) => line.mechanism));
      expect(mechanisms.size).toBe(1);
      for (const line of halves) {
        // What the bridge says it set is what the kernel has: cpu.weight 50 (v2), cpu.shares 512
        // (v1), or niceness 3.
        expect(inForce(line), `${line.sandbox}: ${line.target}`).toBe(line.value);
      }
      const [mechanism] = mechanisms;
      const values = halves.map((line) => line.value);
      if (mechanism === 'cgroup')
        expect([
          ['50', '50'],
          ['512', '512'],
        ]).toContainEqual(values);
      else expect(values).toEqual(['3', '3']);

      // Bob's one run keeps the default weight: nothing is written for it (only changes are).
      expect(textOf(await runPython(bob, { code: 'print(1)' }))).toContain('1');
      expect(lastWeights(bridge.stderr()).size).toBe(2);

      // One of alice's runs ends: the other has her whole share again.
      cancels[0]?.abort();
      const whole = await weightsWhen((weights) => weights.some((line) => line.weight === 100));
      const back = whole.find((line) => line.weight === 100) as WeightLine;
      // cpu.weight 100, cpu.shares 1024; niceness is never lowered again (that takes privileges).
      expect(back.value).toBe(mechanism === 'cgroup' ? (back.value === '100' ? '100' : '1024') : '3');
      expect(inForce(back), `${back.sandbox}: ${back.target}`).toBe(back.value);

      // doctor names the mechanism the bridge used.
      const doctor = await new Promise<string>((resolve) =>
        execFile(
          process.execPath,
          [BRIDGE_MAIN, 'doctor'],
          {
            env: {
              ...process.env,
              HOME: team.dir,
              MCP_BRIDGE_RUNTIME: 'embedded',
              MCP_BRIDGE_STATE_DIR: join(team.dir, 'state'),
            },
            timeout: 120_000,
          },
          (_error, stdout) => resolve(stdout),
        ),
      );
      expect(doctor).toMatch(
        mechanism === 'cgroup'
          ? /cpu shares between principals \(with a tokens file or OAuth\): cgroup weights, a cgroup per worker/
          : /cpu shares between principals \(with a tokens file or OAuth\): niceness per worker/,
      );
    } finally {
      for (const cancel of cancels) cancel.abort();
      await Promise.all(runs);
    }
  }, 300_000);
});
