import { availableParallelism } from 'node:os';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HttpBridge,
  runPython,
  startTeamBridge,
  type TeamBridge,
  textOf,
} from '../helpers/http-bridge.js';

const ALICE = 'alice-share-token-0123456789ab';
const BOB = 'bob-share-token-0123456789abcd';
/** Holds a sandbox until cancelled. */
const HOLDING_RUN = 'import time\ntime.sleep(300)';
/** Alice's and bob's share each while both are active, as the bridge computes it on this machine. */
const SHARE = Math.max(1, Math.floor(availableParallelism() / 2));

interface AdmissionLine {
  run: string;
  principal: string;
  /** Admitted lines: whether the run waited in its principal's queue first. */
  waited?: boolean;
}

/** The runs the bridge logged as waiting for (or admitted to) their share, with their principal. */
function admissionLines(stderr: string, what: 'waits' | 'admitted'): AdmissionLine[] {
  const pattern =
    what === 'waits'
      ? / run waits for its share of sandboxes run=(\S+) principal=(\S+)/
      : / run admitted to a sandbox run=(\S+) principal=(\S+) waited=(\S+)/;
  const lines: AdmissionLine[] = [];
  for (const line of stderr.split('\n')) {
    const match = line.match(pattern);
    if (!match) continue;
    lines.push({
      run: match[1] as string,
      principal: match[2] as string,
      ...(match[3] !== undefined ? { waited: match[3] === 'true' } : {}),
    });
  }
  return lines;
}

/** The runs of `principal` admitted to a sandbox so far. */
function admitted(stderr: string, principal: string): AdmissionLine[] {
  return admissionLines(stderr, 'admitted').filter((line) => line.principal === principal);
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 100));
}

describe("a principal's share of the sandboxes while another is active (tokens file: alice, bob)", () => {
  let team: TeamBridge;
  let bridge: HttpBridge;
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    team = await startTeamBridge(
      'codemode-team-admission-',
      [
        { name: 'alice', token: ALICE },
        { name: 'bob', token: BOB },
      ],
      {
        // Run slots are not what holds alice back here: she has two more than her share of cores.
        MCP_BRIDGE_MAX_CONCURRENT_RUNS: String(2 * (SHARE + 2)),
        MCP_BRIDGE_MAX_CONCURRENT_RUNS_PER_PRINCIPAL: String(SHARE + 2),
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

  /**
   * Alice's share of runs, each holding its sandbox until `signal` aborts: `admitted` once each has
   * taken one, `ended` once all have returned.
   */
  function holdShare(signal: AbortSignal): { admitted: Promise<void>; ended: Promise<unknown> } {
    const before = admitted(bridge.stderr(), 'alice').length;
    const runs = Array.from({ length: SHARE }, () =>
      alice
        .callTool({ name: 'run_python', arguments: { code: HOLDING_RUN, timeout: 600 } }, undefined, {
          signal,
          timeout: 600_000,
        })
        .catch(() => undefined),
    );
    return {
      admitted: until(() => admitted(bridge.stderr(), 'alice').length >= before + SHARE),
      ended: Promise.all(runs),
    };
  }

  it("queues alice's runs past her share in order, admits bob's at once, and loses none of hers", async () => {
    const cancel = new AbortController();
    const holding = holdShare(cancel.signal);
    try {
      await holding.admitted;
      // Bob has just run something: he is active (for 30 s after each run), so alice has a share.
      expect(textOf(await runPython(bob, { code: 'print(1)', timeout: 600 }))).toContain('1');
      // Her next run waits in her queue.
      let excessSettled = false;
      const excess = runPython(alice, { code: 'print("late")', timeout: 600 }).then((result) => {
        excessSettled = true;
        return result;
      });
      excess.catch(() => {}); // awaited below; a failure before then must not go unhandled
      await until(() => admissionLines(bridge.stderr(), 'waits').length === 1);
      const [waiting] = admissionLines(bridge.stderr(), 'waits');
      expect(waiting?.principal).toBe('alice');

      // Bob's run is admitted at once, past alice's queue, and returns while hers still waits.
      const bobsRun = await runPython(bob, { code: 'print(2)', timeout: 600 });
      expect(bobsRun.isError, textOf(bobsRun)).toBeFalsy();
      expect(textOf(bobsRun)).toContain('2');
      expect(admissionLines(bridge.stderr(), 'waits').filter((line) => line.principal === 'bob')).toEqual([]);
      expect(admitted(bridge.stderr(), 'bob').map((line) => line.waited)).toEqual([false, false]);
      expect(excessSettled).toBe(false);
      expect(admitted(bridge.stderr(), 'alice').filter((line) => line.waited)).toEqual([]);

      // One of alice's own runs ends: her waiting run takes its place and runs; nothing was lost.
      cancel.abort();
      await holding.ended;
      const late: CallToolResult = await excess;
      expect(late.isError, textOf(late)).toBeFalsy();
      expect(textOf(late)).toContain('late');
      expect(admitted(bridge.stderr(), 'alice').filter((line) => line.waited)).toEqual([
        { ...waiting, waited: true },
      ]);
    } finally {
      cancel.abort();
      await holding.ended;
    }
  }, 300_000);

  it('says a run that timed out in its queue waited for its share, and that its program did not start', async () => {
    const cancel = new AbortController();
    const holding = holdShare(cancel.signal);
    try {
      await holding.admitted;
      expect(textOf(await runPython(bob, { code: 'print(1)', timeout: 600 }))).toContain('1');
      const before = admissionLines(bridge.stderr(), 'waits').length;
      const timedOut = runPython(alice, { code: 'print("never")', timeout: 3 });
      await until(() => admissionLines(bridge.stderr(), 'waits').length === before + 1);
      const result = await timedOut;
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /Timed out after 3 s waiting for its principal's share of the sandboxes .*the program did not start/,
      );
      expect(textOf(result)).not.toContain('never');
    } finally {
      cancel.abort();
      await holding.ended;
    }
  }, 300_000);
});
