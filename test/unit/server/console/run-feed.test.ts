/**
 * The console's run feed (pure: driven through its RunObserver): deltas instead of the whole run per
 * change, numbered so a page applies each once; arguments, results and errors redacted with the
 * server's redactor and cut; each call's policy; live output batched; a viewer's own runs only.
 */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../../src/engine/principal.js';
import type { RunOutcome } from '../../../../src/engine/types.js';
import { type RunDelta, RunFeed } from '../../../../src/server/console/run-feed.js';
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

const start = (feed: RunFeed, principal: Principal = alice) => {
  const observation = feed.observer.runStarted({
    runId: 'run-1',
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
    const [run] = feed.runs();
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
    const json = JSON.stringify(deltas) + JSON.stringify(feed.runs());
    expect(json).not.toContain(SECRET);
    const [run] = feed.runs();
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
    const [run] = feed.runs();
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
});
