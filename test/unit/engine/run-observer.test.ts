import { describe, expect, it } from 'vitest';
import { combineObservers, RunObservations, type ToolCallEnd } from '../../../src/engine/run-observer.js';
import type { UpstreamPort } from '../../../src/engine/types.js';
import { pythonSignature } from '../../../src/server/console/python-signature.js';
import { RunFeed } from '../../../src/server/console/run-feed.js';
import { BridgeError } from '../../../src/shared/errors.js';

/** A real port stand-in is not needed: these tests check the decorator's bookkeeping around callTool. */
function portCalling(result: (tool: string) => Promise<unknown>): UpstreamPort {
  return {
    catalog: () => [],
    describe: async () => [],
    search: async () => ({ hits: [], described: [], unavailable: [] }),
    callTool: (call) => result(call.tool),
    runEnded: () => {},
  };
}

describe('run observer', () => {
  it('reports tool calls to the observation of their run, with outcomes', async () => {
    const ends: Array<[string, ToolCallEnd]> = [];
    const observations = new RunObservations({
      runStarted: () => ({
        toolCall: (_server, tool) => (end) => ends.push([tool, end]),
        ended: () => {},
        failed: () => {},
      }),
    });
    const port = observations.port(
      portCalling(async (tool) => {
        if (tool === 'denied') throw new BridgeError('POLICY_DENIED', 'no');
        if (tool === 'unlisted') throw new BridgeError('UNKNOWN_TOOL', 'no such tool');
        if (tool === 'broken') throw new Error('down');
        return 'fine';
      }),
    );
    const observation = observations.observer.runStarted({
      runId: 'run-1',
      code: '',
      servers: [],
      startedAt: 0,
    });
    const signal = new AbortController().signal;
    const context = { runId: 'run-1' };
    await port.callTool({ server: 's', tool: 'ok', args: {} }, signal, context);
    await expect(port.callTool({ server: 's', tool: 'denied', args: {} }, signal, context)).rejects.toThrow();
    await expect(port.callTool({ server: 's', tool: 'broken', args: {} }, signal, context)).rejects.toThrow();
    await expect(
      port.callTool({ server: 's', tool: 'unlisted', args: {} }, signal, context),
    ).rejects.toThrow();
    // A call of a run nobody observes passes through untouched.
    await port.callTool({ server: 's', tool: 'ok', args: {} }, signal, { runId: 'run-2' });
    expect(ends.map(([tool, end]) => [tool, end.outcome])).toEqual([
      ['ok', 'ok'],
      ['denied', 'refused'],
      ['broken', 'error'],
      ['unlisted', 'refused'],
    ]);
    observation?.ended({ status: 'ok', stdout: '', stderr: '', durationMs: 1 });
    await port.callTool({ server: 's', tool: 'ok', args: {} }, signal, context);
    expect(ends).toHaveLength(4);
  });

  it('keeps runs going when an observer throws', () => {
    const seen: string[] = [];
    const combined = combineObservers([
      {
        runStarted: () => {
          throw new Error('broken observer');
        },
      },
      { runStarted: (run) => ({ ended: () => seen.push(`${run.runId} ended`), failed: () => {} }) },
    ]);
    combined?.runStarted({ runId: 'run-1', code: '', servers: [], startedAt: 0 })?.ended({
      status: 'ok',
      stdout: '',
      stderr: '',
      durationMs: 1,
    });
    expect(seen).toEqual(['run-1 ended']);
  });

  it('feeds the console: runs newest first, bounded, with their timeline', () => {
    const feed = new RunFeed();
    const updates: string[] = [];
    feed.subscribe((run) => updates.push(`${run.id}:${run.status}`));
    for (let n = 1; n <= 120; n++) {
      const observation = feed.observer.runStarted({
        runId: `run-${n}`,
        code: 'x',
        servers: [],
        startedAt: Date.now(),
      });
      const end = observation?.toolCall?.('s', 't', {});
      end?.({ outcome: 'ok', durationMs: 2 });
      observation?.ended({ status: 'ok', stdout: 'out', stderr: '', durationMs: 3 });
    }
    const runs = feed.runs();
    expect(runs).toHaveLength(100);
    expect(runs[0]?.id).toBe('run-120');
    expect(runs[0]?.toolCalls).toMatchObject([{ server: 's', tool: 't', outcome: 'ok', durationMs: 2 }]);
    expect(updates.slice(0, 4)).toEqual(['run-1:running', 'run-1:running', 'run-1:running', 'run-1:ok']);
  });

  it('writes Python signatures the way the sandbox builds them', () => {
    expect(
      pythonSignature('search', {
        type: 'object',
        properties: { query: { type: 'string' }, limit: { type: 'integer', default: 5 }, 'bad-name': {} },
        required: ['query'],
      }),
    ).toBe('async def search(query: str, *, limit: int = 5)');
    expect(pythonSignature('ping', { type: 'object' })).toBe('async def ping()');
  });
});
