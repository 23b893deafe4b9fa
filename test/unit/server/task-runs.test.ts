/**
 * The table of MCP tasks, against work scripted by the test (a promise it settles): statuses and
 * their notifications, cancellation that aborts the work and stays cancelled, the cap (the oldest
 * ended task makes room, all running refuses), the ttl granted and counted from the end, paging.
 */
import { ErrorCode, McpError, type Result, type Task } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type TaskEnd,
  type TaskHooks,
  TaskRuns,
  type TaskRunsOptions,
} from '../../../src/server/task-runs.js';

interface Scripted {
  task: Task;
  hooks: TaskHooks;
  end(end: TaskEnd): void;
}

function table(options: Partial<TaskRunsOptions> = {}) {
  const tasks = new TaskRuns({
    maxTasks: 4,
    defaultTtlMs: 60_000,
    maxTtlMs: 120_000,
    pageSize: 2,
    pollIntervalMs: 500,
    ...options,
  });
  const notified: Task[] = [];
  const start = (ttl?: number | null): Scripted => {
    let hooks!: TaskHooks;
    let end!: (end: TaskEnd) => void;
    const task = tasks.start(
      { ttl },
      (given) => {
        hooks = given;
        return new Promise<TaskEnd>((resolve) => {
          end = resolve;
        });
      },
      (changed) => notified.push(changed),
    );
    return { task, hooks, end: (value) => end(value) };
  };
  return { tasks, start, notified };
}

const ok = (text: string): TaskEnd => ({ result: { content: [{ type: 'text', text }] }, failed: false });
const settle = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('TaskRuns', () => {
  it('starts working, says input_required while waiting, and ends completed or failed with the result', async () => {
    const { tasks, start, notified } = table();
    const first = start();
    expect(first.task).toMatchObject({ status: 'working', ttl: 60_000, pollInterval: 500 });
    first.hooks.setWaiting(true);
    expect((await tasks.getTask(first.task.taskId))?.status).toBe('input_required');
    first.hooks.setWaiting(false);
    first.end(ok('done'));
    expect(await tasks.result(first.task.taskId, new AbortController().signal)).toEqual({
      content: [{ type: 'text', text: 'done' }],
    });
    expect(notified.map((task) => task.status)).toEqual(['input_required', 'working', 'completed']);

    const second = start();
    second.end({ result: { content: [], isError: true }, failed: true, message: 'ZeroDivisionError' });
    await settle();
    expect(tasks.describe(second.task.taskId)).toMatchObject({
      status: 'failed',
      statusMessage: 'ZeroDivisionError',
    });

    const third = start();
    third.end({ error: new McpError(ErrorCode.InternalError, 'no sandbox') });
    await expect(tasks.result(third.task.taskId, new AbortController().signal)).rejects.toThrow(/no sandbox/);
  });

  it('aborts the work on cancel and stays cancelled, with the result the work returns', async () => {
    const { tasks, start } = table();
    const run = start();
    await tasks.updateTaskStatus(run.task.taskId, 'cancelled', 'Client cancelled task execution.');
    expect(run.hooks.signal.aborted).toBe(true);
    run.end({ result: { content: [], isError: true } as Result, failed: true });
    await settle();
    expect(tasks.describe(run.task.taskId).status).toBe('cancelled');
    expect(await tasks.result(run.task.taskId, new AbortController().signal)).toMatchObject({
      isError: true,
    });
    await expect(tasks.updateTaskStatus(run.task.taskId, 'cancelled')).rejects.toThrow(
      /has ended \(cancelled\)/,
    );
  });

  it('drops the oldest ended task at the cap, and refuses a new one while all are running', async () => {
    const { tasks, start } = table({ maxTasks: 2 });
    const first = start();
    const second = start();
    expect(() => start()).toThrow(/2 of your tasks are still running/);
    second.end(ok('second'));
    await settle();
    start();
    expect(await tasks.getTask(second.task.taskId)).toBeNull();
    expect(await tasks.getTask(first.task.taskId)).not.toBeNull();
  });

  it('grants the ttl asked, capped, and keeps an ended task that long after its end', async () => {
    vi.useFakeTimers();
    const { tasks, start } = table();
    expect(start(null).task.ttl).toBe(60_000);
    expect(start(10 ** 9).task.ttl).toBe(120_000);
    const short = start(1000);
    vi.advanceTimersByTime(5000);
    expect(tasks.describe(short.task.taskId).status).toBe('working');
    short.end(ok('late'));
    await vi.advanceTimersByTimeAsync(999);
    expect(tasks.describe(short.task.taskId).status).toBe('completed');
    await vi.advanceTimersByTimeAsync(1);
    expect(() => tasks.describe(short.task.taskId)).toThrow(/No task/);
  });

  it('pages in creation order and refuses a cursor it did not give', async () => {
    const { tasks, start } = table({ maxTasks: 10 });
    const ids = [start(), start(), start()].map((run) => run.task.taskId);
    const first = await tasks.listTasks();
    expect(first.tasks.map((task) => task.taskId)).toEqual(ids.slice(0, 2));
    const second = await tasks.listTasks(first.nextCursor);
    expect(second.tasks.map((task) => task.taskId)).toEqual(ids.slice(2));
    expect(second.nextCursor).toBeUndefined();
    const error = await tasks.listTasks('abc').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(ErrorCode.InvalidParams);
  });

  it('pages past a task dropped between pages', async () => {
    vi.useFakeTimers();
    const { tasks, start } = table({ maxTasks: 10 });
    const started = [start(1), start(1), start(1), start(1), start(1)];
    const first = await tasks.listTasks();
    started[1]?.end(ok('gone'));
    await vi.advanceTimersByTimeAsync(1);
    const second = await tasks.listTasks(first.nextCursor);
    expect(second.tasks.map((task) => task.taskId)).toEqual(
      started.slice(2, 4).map((run) => run.task.taskId),
    );
    const third = await tasks.listTasks(second.nextCursor);
    expect(third.tasks.map((task) => task.taskId)).toEqual([started[4]?.task.taskId]);
    expect(third.nextCursor).toBeUndefined();
  });

  it('ends every task on close, answering a tasks/result still waiting', async () => {
    const { tasks, start } = table();
    const run = start();
    const waiting = tasks.result(run.task.taskId, new AbortController().signal);
    tasks.close();
    await expect(waiting).rejects.toThrow(/its client has gone/);
    expect(run.hooks.signal.aborted).toBe(true);
    expect(() => tasks.describe(run.task.taskId)).toThrow(/No task/);
    expect(start().hooks.signal.aborted).toBe(true);
  });
});
