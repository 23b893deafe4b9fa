/**
 * The console's run feed (driven through its RunObserver): deltas instead of the whole run per
 * change, numbered so a page applies each once; arguments, results and errors redacted with the
 * server's redactor and cut; each call's policy; live output batched; a viewer's own runs only; what
 * it holds in memory once runs end (nothing with a working store, a bounded tail without one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../../src/engine/principal.js';
import type { RunOutcome } from '../../../../src/engine/types.js';
import { type RunDelta, RunFeed } from '../../../../src/server/console/run-feed.js';
import { openRunStore } from '../../../../src/server/console/run-store.js';
import { createLogger } from '../../../../src/shared/logger.js';
import { createRedactor } from '../../../../src/upstream/redact.js';

const alice: Principal = { id: 'alice', name: 'alice', role: 'admin' } as Principal;
const bob: Principal = { id: 'bob', name: 'bob', role: 'user' } as Principal;
const SECRET = 'sk-live-0123456789';

function feedWithDeltas() {
  const redactor = createRedactor([SECRET]);
  const feed = new RunFeed({
    redact: (server, text) => (server === 'vault' ? redactor(text) : text),
    policyFor: (server, tool) =>
      tool === 'drop' ? { action: 'deny', rule: `servers.${server}.deny` } : undefined,
  });
  const deltas: RunDelta[] = [];
  feed.subscribe((_run, delta) => deltas.push(JSON.parse(delta())));
  return { feed, deltas };
}

let runs = 0;
const start = (feed: RunFeed, principal: Principal = alice) => {
  const observation = feed.observer.runStarted({
    runId: `run-${++runs}`,
    code: 'print(1)',
    servers: ['vault'],
    principal,
    startedAt: Date.now(),
  });
  if (!observation) throw new Error('the feed observes every run');
  return observation;
};

describe('run feed', () => {
  it('sends each change as a small numbered delta, not the run again', async () => {
    const { feed, deltas } = feedWithDeltas();
    const observation = start(feed);
    for (let i = 0; i < 50; i++) {
      const end = observation.toolCall?.('vault', 'read', {}, { key: i });
      end?.({ outcome: 'ok', durationMs: 1, result: { content: [{ type: 'text', text: `value ${i}` }] } });
    }
    observation.output?.('stdout', 'one ');
    observation.output?.('stdout', 'two');
    await new Promise((resolve) => setTimeout(resolve, 150));
    observation.ended({ status: 'ok', stdout: 'one two', stderr: '', durationMs: 12 } as RunOutcome);

    expect(deltas.map((delta) => delta.type)).toEqual([
      'run',
      ...Array.from({ length: 50 }, () => ['call', 'call-end']).flat(),
      'output',
      'end',
    ]);
    expect(deltas.map((delta) => delta.seq)).toEqual(deltas.map((_, i) => i + 1));
    // No delta carries the run's growing timeline.
    const largest = Math.max(...deltas.slice(1).map((delta) => JSON.stringify(delta).length));
    expect(largest).toBeLessThan(400);
    expect(deltas.find((delta) => delta.type === 'output')).toMatchObject({ text: 'one two' });
    const [listed] = feed.runs();
    expect(listed).toMatchObject({ calls: 50, partial: true });
    const run = feed.run(listed?.id ?? '');
    expect(run?.toolCalls).toHaveLength(50);
    expect(run?.seq).toBe(deltas.length);
  });

  it('redacts arguments, results and errors as the audit log does, and shows each call’s policy', () => {
    const { feed, deltas } = feedWithDeltas();
    const observation = start(feed);
    observation.toolCall?.(
      'vault',
      'read',
      {},
      { token: SECRET },
    )?.({
      outcome: 'ok',
      durationMs: 1,
      result: { content: [{ type: 'text', text: `the token is ${SECRET}` }] },
    });
    observation.toolCall?.(
      'vault',
      'drop',
      {},
      { all: true },
    )?.({
      outcome: 'refused',
      durationMs: 0,
      error: `refused, and ${SECRET} stays out`,
    });
    const run = feed.run(feed.runs()[0]?.id ?? '');
    const json = JSON.stringify(deltas) + JSON.stringify(run);
    expect(json).not.toContain(SECRET);
    expect(run?.toolCalls[0]).toMatchObject({ args: '{"token":"[redacted]"}' });
    expect(run?.toolCalls[0]?.result).toContain('the token is [redacted]');
    expect(run?.toolCalls[1]).toMatchObject({
      policy: { action: 'deny', rule: 'servers.vault.deny' },
      error: 'refused, and [redacted] stays out',
    });
  });

  it('cuts large values and stops keeping them past the run’s budget', () => {
    const { feed } = feedWithDeltas();
    const observation = start(feed);
    for (let i = 0; i < 300; i++) {
      observation.toolCall?.(
        'vault',
        'read',
        {},
        { blob: 'y'.repeat(5_000) },
      )?.({ outcome: 'ok', durationMs: 1 });
    }
    const run = feed.run(feed.runs()[0]?.id ?? '');
    expect(run?.toolCalls[0]?.args?.length).toBeLessThan(1_100);
    expect(run?.toolCalls[0]?.args).toMatch(/characters in all\)$/);
    expect(run?.toolCalls.at(-1)?.args).toBeUndefined();
  });

  it('shows a user its own runs only, an admin everyone’s', () => {
    const { feed } = feedWithDeltas();
    start(feed, alice).ended({ status: 'ok', stdout: '', stderr: '', durationMs: 1 } as RunOutcome);
    start(feed, bob).ended({ status: 'ok', stdout: '', stderr: '', durationMs: 1 } as RunOutcome);
    expect(feed.runs(bob).map((run) => run.principal.id)).toEqual(['bob']);
    expect(feed.runs(alice)).toHaveLength(2);
    const seen: string[] = [];
    feed.subscribe((run) => seen.push(run.principal.id), bob);
    start(feed, alice);
    start(feed, bob);
    expect(seen).toEqual(['bob']);
    expect(feed.runs(alice, { principal: 'bob' })).toHaveLength(2);
    expect(feed.runs(alice, { status: 'running' })).toHaveLength(2);
  });

  it('holds no finished run in memory while its store works: listings and reads come from SQLite', () => {
    const dir = mkdtempSync(join(tmpdir(), 'codemode-run-feed-'));
    const store = openRunStore(join(dir, 'runs.sqlite'), { maxRuns: 1000, maxBytes: 64 * 1048576 }, quiet);
    try {
      const feed = new RunFeed({ store });
      for (let n = 0; n < 30; n++) endLargeRun(start(feed));
      const going = start(feed);
      expect(feed.heldChars).toBe(0);
      const listed = feed.runs(alice, {}, 500);
      expect(listed).toHaveLength(31);
      expect(listed[0]).toMatchObject({ status: 'running', calls: 0, partial: true });
      expect(listed[1]).toMatchObject({ status: 'ok', calls: 500, partial: true });
      expect(listed.every((run) => !('toolCalls' in run))).toBe(true);
      const whole = feed.run(listed[1]?.id ?? '', alice);
      expect(whole?.toolCalls).toHaveLength(500);
      expect(whole?.toolCalls.at(-1)?.args).toBeUndefined();
      going.ended({ status: 'ok', stdout: '', stderr: '', durationMs: 1 } as RunOutcome);
    } finally {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a bounded tail of finished runs in memory without a store, by characters as well as count', () => {
    const feed = new RunFeed();
    for (let n = 0; n < 40; n++) endLargeRun(start(feed));
    // Each of these runs holds ~300,000 characters: 100 of them were 30 M.
    expect(feed.heldChars).toBeLessThanOrEqual(2_000_000);
    expect(feed.heldChars).toBeGreaterThan(1_000_000);
    const listed = feed.runs(alice, {}, 500);
    expect(listed.length).toBeGreaterThan(2);
    expect(listed.length).toBeLessThan(10);
    for (let n = 0; n < 150; n++)
      start(feed).ended({ status: 'ok', stdout: '', stderr: '', durationMs: 1 } as RunOutcome);
    expect(feed.runs(alice, {}, 500)).toHaveLength(100);
  });
});

const quiet = createLogger('error', () => {});

/** A run at every per-run cap: long code and output, 500 calls whose values fill the run's budget. */
function endLargeRun(observation: ReturnType<typeof start>) {
  for (let c = 0; c < 500; c++) {
    observation.toolCall?.(
      'vault',
      'read',
      {},
      { v: 'a'.repeat(600) },
    )?.({
      outcome: 'ok',
      durationMs: 1,
      result: { v: 'r'.repeat(600) },
    });
  }
  const text = 'o'.repeat(30_000);
  observation.ended({ status: 'ok', stdout: text, stderr: text, durationMs: 5 } as RunOutcome);
}
