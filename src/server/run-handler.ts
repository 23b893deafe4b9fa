/**
 * A run tool's call (`run_python`, `run_typescript`: one handler, differing by language), its
 * arguments already checked: starts a run for the connection's principal
 * (or finds the one a `wait` handle names) in the principal's table of runs still going, waits for its end or its yield point
 * while sending progress, and formats what it returns. A call that asks for a task (`task` in its
 * params) starts the run as an MCP task instead (run-task.ts) and returns the task at once: it never
 * yields a `wait` handle, and takes neither `wait` nor `yield_after`.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type CallToolResult,
  type CreateTaskResult,
  ErrorCode,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { Engine } from '../engine/engine.js';
import type { Principal } from '../engine/principal.js';
import type { Approver, Language } from '../engine/types.js';
import { BridgeError, errorMessage, ProtocolError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { elicitApproval, type WaitingCall } from './approver.js';
import { formatRunning, type OutputMode, outcomeResult, structuredRunning, toolError } from './format.js';
import type { LongRun, LongRuns } from './long-runs.js';
import { startProgress } from './progress.js';
import { runOrigin } from './run-origin.js';
import { RUN_PYTHON_TOOL, type RunPythonArguments } from './run-python-tool.js';
import { startRunTask } from './run-task.js';
import { RUN_TYPESCRIPT_TOOL } from './run-typescript-tool.js';
import type { TaskRuns, TaskRunsOptions } from './task-runs.js';

/** Handles of runs still going one principal may hold, and how long a finished run's result waits for it. */
export const MAX_WAIT_HANDLES = 16;
export const KEEP_FINISHED_RUN_MS = 10 * 60 * 1000;
/**
 * One principal's MCP tasks: as many as it may hold, kept as long after their run as a finished run's
 * result waits for `wait` unless the client asks for another `ttl` (up to an hour).
 */
export const TASK_LIMITS: TaskRunsOptions = {
  maxTasks: 32,
  defaultTtlMs: KEEP_FINISHED_RUN_MS,
  maxTtlMs: 60 * 60 * 1000,
  pageSize: 10,
  pollIntervalMs: 1000,
};

export type ToolCallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;
/** What a task-augmented call asked of its task (`params.task`). */
export interface TaskRequest {
  ttl?: number | null;
}
export type RunHandler = (
  args: RunPythonArguments,
  extra: ToolCallExtra,
  task?: TaskRequest,
) => Promise<CallToolResult | CreateTaskResult>;

export interface RunHandlerOptions {
  /** What the tool runs. Default `python`. */
  language?: Language;
  /** The server whose client is asked to approve calls. */
  server: McpServer;
  engine: Engine;
  /** Who the runs are for: their named sessions, saved values and kept output are the principal's. */
  principal: Principal;
  /** The connection's id: the runs it starts end when it closes (`LongRuns.closeOrigin`). */
  connection: string;
  /** The principal's runs still going (over HTTP, shared by all its connections). */
  longRuns: LongRuns;
  /** The principal's MCP tasks (over HTTP, shared by all its connections). */
  tasks: TaskRuns;
  /** MCP_BRIDGE_YIELD_AFTER, for calls that do not pass `yield_after`; 0: wait for the run's end. */
  yieldAfterMs: number;
  outputMode: OutputMode;
  logger: Logger;
}

/**
 * The call now waiting on each run, whichever connection of its principal made it: an approval
 * prompt goes to that call's client, on that request's stream (over HTTP).
 */
const waitingCalls = new WeakMap<LongRun, WaitingCall>();

export function createRunHandler(options: RunHandlerOptions): RunHandler {
  const { server, engine, principal, connection, longRuns, yieldAfterMs, logger } = options;
  const language = options.language ?? 'python';
  const tool = language === 'typescript' ? RUN_TYPESCRIPT_TOOL : RUN_PYTHON_TOOL;
  const source = language === 'typescript' ? 'TypeScript source' : 'Python source';

  return async (
    { code, servers, timeout, session, wait, yield_after }: RunPythonArguments,
    extra: ToolCallExtra,
    task?: TaskRequest,
  ): Promise<CallToolResult | CreateTaskResult> => {
    if (task) {
      // The task is the handle: a task's run cannot also yield, and a `wait` handle never names a task.
      const misplaced = wait !== undefined ? 'wait' : yield_after !== undefined ? 'yield_after' : undefined;
      if (misplaced) {
        throw new ProtocolError(
          ErrorCode.InvalidParams,
          `Invalid arguments for ${tool} as a task: a task takes no \`${misplaced}\` (it is its own handle: ` +
            `follow it with tasks/get and tasks/result). Drop \`${misplaced}\`, or call without a task.`,
        );
      }
      if (code === undefined) {
        throw new ProtocolError(ErrorCode.InvalidParams, `${tool} as a task needs \`code\` (${source}).`);
      }
    }
    if (yield_after !== undefined && yield_after * 1000 > engine.maxTimeoutMs) {
      // Not only pointless (the run ends first): a timer past 2^31 ms fires at once.
      const most = Number((engine.maxTimeoutMs / 1000).toFixed(3));
      return toolError(
        `Invalid arguments for ${tool}: yield_after=${yield_after} s is longer than a run may last ` +
          `(${most} s, MCP_BRIDGE_MAX_TIMEOUT), so the run would end before it yields. Pass at most ${most}, or 0 to wait for the run's end.`,
      );
    }
    const callYieldMs = yield_after === undefined ? yieldAfterMs : Math.round(yield_after * 1000);
    let run: LongRun | undefined;
    if (wait !== undefined) {
      if (code !== undefined) {
        return toolError(
          'Pass either `code` (a new run) or `wait` (the handle of a run still going), not both.',
        );
      }
      run = longRuns.get(wait);
      if (!run) {
        return toolError(
          `No run is waiting under wait=${JSON.stringify(wait)}: a handle is good until its run's result has been returned, ` +
            `for ${KEEP_FINISHED_RUN_MS / 60000} min after the run ended, and only for the principal that started it. Run the code again.`,
        );
      }
    } else {
      if (code === undefined) {
        return toolError(
          `${tool} needs \`code\` (${source}), or \`wait\` with the handle of a run still going.`,
        );
      }
      const timeoutMs = timeout === undefined ? undefined : Math.round(timeout * 1000);
      const startRun = ({ signal, onOutput, approve }: RunHooks) =>
        engine.run(
          {
            code,
            ...(language !== 'python' ? { language } : {}),
            ...(servers ? { servers } : {}),
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
            ...(session !== undefined ? { session } : {}),
          },
          {
            signal,
            ...(onOutput ? { onOutput } : {}),
            principal,
            approve,
            ...(extra.sessionId !== undefined ? { session: extra.sessionId } : {}),
            origin: runOrigin(extra, server.server.transport),
          },
        );
      if (task) {
        return startRunTask({
          server,
          tasks: options.tasks,
          params: task,
          timeoutMs: engine.effectiveTimeoutMs(timeoutMs),
          progressToken: extra._meta?.progressToken,
          outputMode: options.outputMode,
          logger,
          tool,
          run: startRun,
        });
      }
      run = longRuns.start(
        engine.effectiveTimeoutMs(timeoutMs),
        ({ signal, onOutput }) =>
          startRun({
            signal,
            onOutput,
            approve: elicitApproval(
              () => (run && waitingCalls.get(run)) ?? { server, requestId: extra.requestId },
            ),
          }),
        connection,
      );
    }
    waitingCalls.set(run, { server, requestId: extra.requestId });
    const stopProgress = startProgress(extra._meta?.progressToken, run, (notification) =>
      extra.sendNotification(notification),
    );
    try {
      const step = await longRuns.next(run, callYieldMs, extra.signal);
      if (step.kind === 'running') {
        return {
          content: [{ type: 'text', text: formatRunning(step, run.timeoutMs, options.outputMode) }],
          structuredContent: structuredRunning(step),
        };
      }
      return outcomeResult(step.outcome, options.outputMode);
    } catch (error) {
      if (!(error instanceof BridgeError)) logger.error(`${tool} failed`, { error });
      return toolError(errorMessage(error));
    } finally {
      stopProgress();
    }
  };
}

/** What starting a run is given: its signal, a tap on its output (a long run's), and its approver. */
interface RunHooks {
  signal: AbortSignal;
  onOutput?: (stream: 'stdout' | 'stderr', data: string) => void;
  approve: Approver;
}
