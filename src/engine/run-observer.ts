/**
 * Hooks on runs and their tool calls, for telemetry and the console's run feed. The engine calls an
 * observer when a run starts and ends; tool calls are seen on the way to the upstream port. Observers
 * are optional and must not throw (a failing observer must not fail a run: calls are guarded here).
 */
import type { ToolCallRequest } from '../sandbox/types.js';
import { errorMessage } from '../shared/errors.js';
import type { CallContext, RunOutcome, UpstreamPort } from './types.js';

export interface RunStart {
  runId: string;
  code: string;
  /** The servers the run asked for. */
  servers: string[];
  /** The MCP session the run came in on, when the transport has one. */
  session?: string;
  startedAt: number;
}

/** How a tool call ended: its result came back, the server or the call failed, the policy refused it, or the run ended first. */
export type ToolCallOutcome = 'ok' | 'error' | 'refused' | 'aborted';

export interface ToolCallEnd {
  outcome: ToolCallOutcome;
  durationMs: number;
  /** The error's message, when it failed. */
  error?: string;
}

/** One run as an observer follows it. */
export interface RunObservation {
  /** A tool call leaves; the returned function is called once with how it ended. */
  toolCall?(server: string, tool: string): (end: ToolCallEnd) => void;
  /** The run ended with an outcome. */
  ended(outcome: RunOutcome): void;
  /** No program could run (unknown server, no sandbox could be started). */
  failed(error: unknown): void;
}

export interface RunObserver {
  runStarted(run: RunStart): RunObservation | undefined;
}

/** Every observer sees every run; an observer that throws is skipped, never the run. */
export function combineObservers(observers: Array<RunObserver | undefined>): RunObserver | undefined {
  const present = observers.filter((observer): observer is RunObserver => observer !== undefined);
  if (present.length === 0) return undefined;
  return {
    runStarted(run) {
      const observations = present.flatMap((observer) => {
        const observation = guard(() => observer.runStarted(run));
        return observation ? [observation] : [];
      });
      if (observations.length === 0) return undefined;
      return {
        toolCall(server, tool) {
          const ends = observations.flatMap((observation) => {
            const end = guard(() => observation.toolCall?.(server, tool));
            return end ? [end] : [];
          });
          return (end) => {
            for (const each of ends) guard(() => each(end));
          };
        },
        ended: (outcome) => {
          for (const observation of observations) guard(() => observation.ended(outcome));
        },
        failed: (error) => {
          for (const observation of observations) guard(() => observation.failed(error));
        },
      };
    },
  };
}

function guard<T>(work: () => T): T | undefined {
  try {
    return work();
  } catch {
    return undefined;
  }
}

/** Where the observations of the runs in flight are found by run id (the port sees only the call context). */
export class RunObservations {
  readonly #runs = new Map<string, RunObservation>();
  readonly observer: RunObserver;

  constructor(inner: RunObserver) {
    this.observer = {
      runStarted: (run) => {
        const observation = guard(() => inner.runStarted(run));
        if (!observation) return undefined;
        const forget = () => this.#runs.delete(run.runId);
        this.#runs.set(run.runId, observation);
        return {
          ...(observation.toolCall ? { toolCall: observation.toolCall.bind(observation) } : {}),
          ended: (outcome) => {
            forget();
            guard(() => observation.ended(outcome));
          },
          failed: (error) => {
            forget();
            guard(() => observation.failed(error));
          },
        };
      },
    };
  }

  /** The port with every tool call reported to the observation of its run. */
  port(port: UpstreamPort): UpstreamPort {
    return {
      catalog: () => port.catalog(),
      describe: (names, signal) => port.describe(names, signal),
      search: port.search.bind(port),
      runEnded: (context) => port.runEnded(context),
      callTool: async (call: ToolCallRequest, signal: AbortSignal, context?: CallContext) => {
        const observation = context ? this.#runs.get(context.runId) : undefined;
        const end = observation?.toolCall
          ? guard(() => observation.toolCall?.(call.server, call.tool))
          : undefined;
        if (!end) return port.callTool(call, signal, context);
        const startedAt = performance.now();
        try {
          const value = await port.callTool(call, signal, context);
          guard(() => end({ outcome: 'ok', durationMs: performance.now() - startedAt }));
          return value;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          const outcome: ToolCallOutcome = signal.aborted
            ? 'aborted'
            : typeof code === 'string' && (code.startsWith('POLICY_') || code === 'UNKNOWN_TOOL')
              ? 'refused'
              : 'error';
          guard(() =>
            end({ outcome, durationMs: performance.now() - startedAt, error: errorMessage(error) }),
          );
          throw error;
        }
      },
    };
  }
}
