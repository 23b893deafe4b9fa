import { describe, expect, it } from 'vitest';
import { localPrincipal } from '../../../src/engine/principal.js';
import {
  combineObservers,
  RunObservations,
  type ToolCallEnd,
  toolCallErrorType,
} from '../../../src/engine/run-observer.js';
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
      principal: localPrincipal(),
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

  it("hands the port the trace context an observer set for a call, and tells the observer the call's connection", async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const seen: unknown[] = [];
    const observations = new RunObservations({
      runStarted: () => ({
        toolCall: (_server, tool, trace) => {
          if (tool === 'traced') trace.carrier = { traceparent };
          return () => seen.push(trace.peer);
        },
        ended: () => {},
        failed: () => {},
      }),
    });
    const given: unknown[] = [];
    const port = observations.port({
      ...portCalling(async () => 'fine'),
      callTool: async (_call, _signal, _context, trace) => {
        given.push(trace?.carrier);
        if (trace) trace.peer = { transport: 'pipe' };
        return 'fine';
      },
    });
    observations.observer.runStarted({
      runId: 'run-1',
      code: '',
      servers: [],
      principal: localPrincipal(),
      startedAt: 0,
    });
    const signal = new AbortController().signal;
    await port.callTool({ server: 's', tool: 'traced', args: {} }, signal, { runId: 'run-1' });
    await port.callTool({ server: 's', tool: 'untraced', args: {} }, signal, { runId: 'run-1' });
    // Only a call an observer traces carries a context: the others go out as they always did.
    expect(given).toEqual([{ traceparent }, undefined]);
    expect(seen).toEqual([{ transport: 'pipe' }, undefined]);
  });

  it('tells every observer how long a run waited for its slot, an observer that throws skipped', () => {
    const waits: number[] = [];
    const combined = combineObservers([
      {
        runStarted: () => ({
          queued: () => {
            throw new Error('broken observer');
          },
          ended: () => {},
          failed: () => {},
        }),
      },
      { runStarted: () => ({ queued: (ms) => waits.push(ms), ended: () => {}, failed: () => {} }) },
    ]);
    const observations = new RunObservations(combined as NonNullable<typeof combined>);
    observations.observer
      .runStarted({
        runId: 'run-1',
        code: '',
        servers: [],
        principal: localPrincipal(),
        startedAt: 0,
      })
      ?.queued?.(12.5);
    expect(waits).toEqual([12.5]);
  });

  it("classes a failed call for OpenTelemetry's error.type from a closed set", () => {
    const rpc = Object.assign(new Error('Invalid params'), { code: -32602 });
    expect(toolCallErrorType(new BridgeError('TOOL_ERROR', 'the tool said no'), false)).toBe('tool_error');
    expect(toolCallErrorType(new BridgeError('TOOL_ERROR', 'x', { cause: rpc }), false)).toBe('-32602');
    expect(toolCallErrorType(new BridgeError('UPSTREAM_TIMEOUT', 'slow'), false)).toBe('timeout');
    expect(toolCallErrorType(new BridgeError('UPSTREAM_UNAVAILABLE', 'gone'), false)).toBe('unavailable');
    expect(toolCallErrorType(new BridgeError('POLICY_DENIED', 'no'), false)).toBe('policy_denied');
    expect(toolCallErrorType(new BridgeError('UNKNOWN_TOOL', 'no such tool'), false)).toBe('unknown_tool');
    expect(toolCallErrorType(new BridgeError('TOOL_ERROR', 'x'), true)).toBe('cancelled');
    expect(toolCallErrorType(new Error('plain'), false)).toBe('_OTHER');
    expect(toolCallErrorType({ code: 'made up by anyone <script>' }, false)).toBe('_OTHER');
    expect(toolCallErrorType(undefined, false)).toBe('_OTHER');
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
    combined
      ?.runStarted({ runId: 'run-1', code: '', servers: [], principal: localPrincipal(), startedAt: 0 })
      ?.ended({
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
    feed.subscribe((run) => updates.push(`${run.runId}:${run.status}`));
    for (let n = 1; n <= 120; n++) {
      const observation = feed.observer.runStarted({
        runId: `run-${n}`,
        code: 'x',
        servers: [],
        principal: localPrincipal(),
        startedAt: Date.now(),
      });
      const end = observation?.toolCall?.('s', 't', {});
      end?.({ outcome: 'ok', durationMs: 2 });
      observation?.ended({ status: 'ok', stdout: 'out', stderr: '', durationMs: 3 });
    }
    const runs = feed.runs();
    expect(runs).toHaveLength(100);
    expect(runs[0]?.runId).toBe('run-120');
    // Unique across restarts (the engine's ids start again at 1 in each process).
    expect(runs[0]?.id).toMatch(/^run-120-[0-9a-z]+$/);
    expect(runs[0]).toMatchObject({ calls: 1, partial: true });
    expect(feed.run(runs[0]?.id ?? '')?.toolCalls).toMatchObject([
      { server: 's', tool: 't', outcome: 'ok', durationMs: 2 },
    ]);
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
