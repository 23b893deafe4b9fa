/**
 * Hooks on runs and their tool calls, for telemetry and the console's run feed. The engine calls an
 * observer when a run starts, when it gets a run slot and when it ends; tool calls are seen on the
 * way to the upstream port. Observers are optional and must not throw (a failing observer must not
 * fail a run: calls are guarded here).
 */
import type { ToolCallRequest } from '../sandbox/types.js';
import { errorMessage } from '../shared/errors.js';
import type { OutgoingCallTrace } from '../shared/trace-context.js';
import type { Principal } from './principal.js';
import type { CallContext, RunOrigin, RunOutcome, UpstreamPort } from './types.js';

export interface RunStart {
  runId: string;
  code: string;
  /** The servers the run asked for. */
  servers: string[];
  /** The MCP session the run came in on, when the transport has one. */
  session?: string;
  /** Who the run is for. */
  principal: Principal;
  /** The request the run came from (its caller's trace context, its id), when it came over MCP. */
  origin?: RunOrigin;
  startedAt: number;
}

/** How a tool call ended: its result came back, the server or the call failed, the policy refused it, or the run ended first. */
export type ToolCallOutcome = 'ok' | 'error' | 'refused' | 'aborted';

export interface ToolCallEnd {
  outcome: ToolCallOutcome;
  durationMs: number;
  /** The error's message, when it failed. */
  error?: string;
  /** The class of the failure, from a closed set (OpenTelemetry's `error.type`), when it failed. */
  errorType?: string;
  /** What the program got back (after the policy's tokenizing), when the call returned. */
  result?: unknown;
}

/** One run as an observer follows it. */
export interface RunObservation {
  /** The run got its run slot after waiting this long (0 when one was free). */
  queued?(waitMs: number): void;
  /**
   * A tool call leaves; the returned function is called once with how it ended. `trace` goes with
   * the call: an observer that traces it sets the context to send upstream (`carrier`), and reads
   * what the pool wrote of the connection it went out on (`peer`) when it ends. `args` are the
   * arguments as the program sent them (placeholders not yet restored).
   */
  toolCall?(
    server: string,
    tool: string,
    trace: OutgoingCallTrace,
    args?: Record<string, unknown>,
  ): (end: ToolCallEnd) => void;
  /** The program wrote to stdout or stderr (as it happens, before the run ends). */
  output?(stream: 'stdout' | 'stderr', text: string): void;
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
        queued(waitMs) {
          for (const observation of observations) guard(() => observation.queued?.(waitMs));
        },
        toolCall(server, tool, trace, args) {
          const ends = observations.flatMap((observation) => {
            const end = guard(() => observation.toolCall?.(server, tool, trace, args));
            return end ? [end] : [];
          });
          return (end) => {
            for (const each of ends) guard(() => each(end));
          };
        },
        output(stream, text) {
          for (const observation of observations) guard(() => observation.output?.(stream, text));
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
          ...(observation.queued
            ? { queued: (waitMs: number) => void guard(() => observation.queued?.(waitMs)) }
            : {}),
          ...(observation.toolCall ? { toolCall: observation.toolCall.bind(observation) } : {}),
          ...(observation.output
            ? {
                output: (stream: 'stdout' | 'stderr', text: string) =>
                  void guard(() => observation.output?.(stream, text)),
              }
            : {}),
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

  /**
   * The port with every tool call reported to the observation of its run; the call carries the
   * trace context an observer set for it (to the upstream server, in `_meta` and HTTP headers).
   */
  port(port: UpstreamPort): UpstreamPort {
    return {
      catalog: () => port.catalog(),
      describe: (names, signal) => port.describe(names, signal),
      search: port.search.bind(port),
      runEnded: (context) => port.runEnded(context),
      callTool: async (call: ToolCallRequest, signal: AbortSignal, context?: CallContext) => {
        const observation = context ? this.#runs.get(context.runId) : undefined;
        const trace: OutgoingCallTrace = {};
        const end = observation?.toolCall
          ? guard(() => observation.toolCall?.(call.server, call.tool, trace, call.args))
          : undefined;
        if (!end) return port.callTool(call, signal, context);
        const traced = trace.carrier ? trace : undefined;
        const startedAt = performance.now();
        try {
          const value = await port.callTool(call, signal, context, traced);
          guard(() => end({ outcome: 'ok', durationMs: performance.now() - startedAt, result: value }));
          return value;
        } catch (error) {
          const code = (error as { code?: unknown }).code;
          const outcome: ToolCallOutcome = signal.aborted
            ? 'aborted'
            : typeof code === 'string' && (code.startsWith('POLICY_') || code === 'UNKNOWN_TOOL')
              ? 'refused'
              : 'error';
          guard(() =>
            end({
              outcome,
              durationMs: performance.now() - startedAt,
              error: errorMessage(error),
              errorType: toolCallErrorType(error, signal.aborted),
            }),
          );
          throw error;
        }
      },
    };
  }
}

/** OpenTelemetry's `error.type` of a failed call of the port for the MCP conventions' client span. */
const ERROR_TYPES: Readonly<Record<string, string>> = {
  UPSTREAM_TIMEOUT: 'timeout',
  UPSTREAM_UNAVAILABLE: 'unavailable',
};

/**
 * The class of a tool call's failure, from a closed set: `cancelled`; the JSON-RPC error code the
 * server answered (`-32602`); `tool_error` for a result with `isError` (the conventions' value);
 * `timeout`, `unavailable`; else the bridge's error code in lower case (`policy_denied`,
 * `unknown_tool`, `not_granted`…); `_OTHER` for anything else.
 */
export function toolCallErrorType(error: unknown, aborted: boolean): string {
  if (aborted) return 'cancelled';
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: unknown };
  if (typeof code !== 'string') return '_OTHER';
  if (code === 'TOOL_ERROR') {
    const rpcCode = (cause as { code?: unknown } | undefined)?.code;
    return Number.isSafeInteger(rpcCode) ? String(rpcCode) : 'tool_error';
  }
  return ERROR_TYPES[code] ?? (/^[A-Z_]{1,40}$/.test(code) ? code.toLowerCase() : '_OTHER');
}
