/**
 * A run tool's call made as an MCP task (its `tools/call` carried `task`), for any run tool: the run
 * starts in the principal's task table and the call returns the task at once. While the run waits for
 * the user to approve a call the task is `input_required`; progress goes on under the call's progress
 * token (the spec keeps it valid for the task's life) and each change of status is sent as
 * `notifications/tasks/status`, both to the connection that started it while it is open. The result
 * `tasks/result` returns is the one the same call without a task would have returned.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CreateTaskResult, Task } from '@modelcontextprotocol/sdk/types.js';
import type { Approver, RunOutcome } from '../engine/types.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { elicitApproval } from './approver.js';
import { type OutputMode, outcomeResult, toolError } from './format.js';
import { startProgress } from './progress.js';
import type { TaskEnd, TaskRuns } from './task-runs.js';

export interface RunTaskOptions {
  /** The connection the task is started on: approval prompts, progress and status go to its client. */
  server: McpServer;
  tasks: TaskRuns;
  /** What the client asked of the task (`ttl`). */
  params: { ttl?: number | null };
  /** The run's own deadline, for progress. */
  timeoutMs: number;
  /** The call's progress token, if it asked for progress. */
  progressToken: string | number | undefined;
  outputMode: OutputMode;
  logger: Logger;
  /** The tool's name, for the log. */
  tool: string;
  /** Starts the run with the task's signal (`tasks/cancel` aborts it) and its approver. */
  run: (hooks: { signal: AbortSignal; approve: Approver }) => Promise<RunOutcome>;
}

export function startRunTask(options: RunTaskOptions): CreateTaskResult {
  const { server, logger } = options;
  const sendStatus = (task: Task) => {
    server.server.notification({ method: 'notifications/tasks/status', params: task }).catch(() => {});
  };
  const task = options.tasks.start(
    options.params,
    async ({ signal, setWaiting }): Promise<TaskEnd> => {
      const ask = elicitApproval(() => ({ server }));
      const approve: Approver = async (request, approvalSignal) => {
        setWaiting(true);
        try {
          return await ask(request, approvalSignal);
        } finally {
          setWaiting(false);
        }
      };
      const stopProgress = startProgress(
        options.progressToken,
        { startedAt: performance.now(), timeoutMs: options.timeoutMs },
        (notification) => server.server.notification(notification),
      );
      try {
        const outcome = await options.run({ signal, approve });
        return {
          result: outcomeResult(outcome, options.outputMode),
          failed: outcome.status !== 'ok',
          ...(outcome.status === 'ok' ? {} : { message: outcome.error ?? `the run ended ${outcome.status}` }),
        };
      } catch (error) {
        if (!(error instanceof BridgeError)) logger.error(`${options.tool} failed`, { error });
        return { result: toolError(errorMessage(error)), failed: true, message: errorMessage(error) };
      } finally {
        stopProgress();
      }
    },
    sendStatus,
  );
  return { task };
}
