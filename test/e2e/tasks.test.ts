/**
 * MCP tasks (spec 2025-11-25) through the real bridge, with the SDK client's task API: a run started
 * as a task returns the task at once, shows `working` while it goes, and `tasks/result` returns what
 * the same call without a task returns; a failing program ends `failed` with its traceback; status
 * changes arrive as `notifications/tasks/status`; `tasks/cancel` stops the run and frees the sandbox;
 * unknown ids get the spec's -32602; a task takes no `wait` or `yield_after`, and calls without a task
 * still return results and `wait` handles. Over HTTP, tasks are the principal's: listed in pages to
 * it from any of its MCP sessions, unseen and uncancellable by another.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  CallToolResultSchema,
  CreateTaskResultSchema,
  ErrorCode,
  McpError,
  type Task,
  TaskStatusNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { type HttpBridge, startHttpBridge, writeTokensFile } from '../helpers/http-bridge.js';

const stateDir = mkdtempSync(join(tmpdir(), 'tasks-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** Starts `run_python` as a task (a task-augmented tools/call) and returns the task the bridge created. */
async function startTask(client: Client, args: Record<string, unknown>, ttl?: number): Promise<Task> {
  const created = await client.request(
    { method: 'tools/call', params: { name: 'run_python', arguments: args } },
    CreateTaskResultSchema,
    { task: ttl === undefined ? {} : { ttl } },
  );
  return created.task;
}

async function taskResult(client: Client, taskId: string): Promise<CallToolResult> {
  return client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, { timeout: 120_000 });
}

/** The error a promise rejects with, as the SDK client raises it. */
async function rejection(promise: Promise<unknown>): Promise<McpError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof McpError)) throw new Error(`expected an McpError, got ${String(error)}`);
  return error;
}

/** The run's outcome without its duration, which differs from one run to the next. */
function withoutDuration(result: CallToolResult): Record<string, unknown> {
  const { durationMs: _duration, ...rest } = result.structuredContent ?? {};
  return rest;
}

describe('MCP tasks over stdio (embedded sandbox)', () => {
  let bridge: RunningBridge;
  const statuses: Task[] = [];

  beforeAll(async () => {
    bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_STATE_DIR: stateDir });
    bridge.client.setNotificationHandler(TaskStatusNotificationSchema, (notification) => {
      statuses.push(notification.params);
    });
  }, 120_000);
  afterAll(async () => {
    await bridge?.close();
  });

  it('declares tasks in initialize and task support on run_python', async () => {
    expect(bridge.client.getServerCapabilities()?.tasks).toEqual({
      list: {},
      cancel: {},
      requests: { tools: { call: {} } },
    });
    const { tools } = await bridge.client.listTools();
    expect(tools.find((tool) => tool.name === 'run_python')?.execution).toEqual({ taskSupport: 'optional' });
  });

  it('completes a run started as a task; tasks/result returns what a plain call returns', async () => {
    const code =
      'import json\nprint(json.dumps({"sum": sum(range(10))}))\nprint("to stderr", file=__import__("sys").stderr)';
    const plain = (await bridge.client.callTool(
      { name: 'run_python', arguments: { code, timeout: 120 } },
      undefined,
      { timeout: 120_000 },
    )) as CallToolResult;
    expect(plain.isError).toBeFalsy();
    const messages: string[] = [];
    let streamed: CallToolResult | undefined;
    for await (const message of bridge.client.experimental.tasks.callToolStream(
      { name: 'run_python', arguments: { code, timeout: 120 } },
      CallToolResultSchema,
      { task: { ttl: 60_000 }, timeout: 120_000 },
    )) {
      messages.push(message.type);
      if (message.type === 'taskCreated') {
        expect(message.task.status).toBe('working');
        expect(message.task.ttl).toBe(60_000);
      }
      if (message.type === 'result') streamed = message.result as CallToolResult;
      if (message.type === 'error') throw message.error;
    }
    expect(messages[0]).toBe('taskCreated');
    expect(messages.at(-1)).toBe('result');
    expect(streamed?.content).toEqual(plain.content);
    expect(withoutDuration(streamed as CallToolResult)).toEqual(withoutDuration(plain));
    expect(streamed?._meta?.['io.modelcontextprotocol/related-task']).toBeDefined();
    // The bridge's first run starts the embedded sandbox: minutes on a loaded machine.
  }, 300_000);

  it('shows working while the run goes and sends its status changes; a failing program ends failed', async () => {
    const task = await startTask(bridge.client, {
      code: 'import time\ntime.sleep(2)\nprint("slept")',
      timeout: 120,
    });
    const during = await bridge.client.experimental.tasks.getTask(task.taskId);
    expect(during).toMatchObject({ taskId: task.taskId, status: 'working', pollInterval: 1000 });
    const result = await taskResult(bridge.client, task.taskId);
    expect(result.structuredContent).toMatchObject({ status: 'ok', stdout: 'slept\n' });
    expect((await bridge.client.experimental.tasks.getTask(task.taskId)).status).toBe('completed');
    await expect
      .poll(() => statuses.filter((status) => status.taskId === task.taskId).map((status) => status.status))
      .toEqual(['completed']);

    const failing = await startTask(bridge.client, { code: '1/0', timeout: 120 });
    const failed = await taskResult(bridge.client, failing.taskId);
    expect(failed.isError).toBe(true);
    expect(failed.structuredContent).toMatchObject({
      status: 'error',
      error: 'ZeroDivisionError: division by zero',
    });
    const ended = await bridge.client.experimental.tasks.getTask(failing.taskId);
    expect(ended).toMatchObject({ status: 'failed', statusMessage: 'ZeroDivisionError: division by zero' });
  }, 120_000);

  it('stops the run on tasks/cancel, and the sandbox is free again', async () => {
    const task = await startTask(bridge.client, {
      code: 'import time\nprint("started", flush=True)\ntime.sleep(60)\nprint("never")',
      timeout: 120,
    });
    const cancelled = await bridge.client.experimental.tasks.cancelTask(task.taskId);
    expect(cancelled).toMatchObject({ taskId: task.taskId, status: 'cancelled' });
    // The run's own result: cancelled, long before its 60 s sleep would have ended.
    const result = await taskResult(bridge.client, task.taskId);
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ status: 'cancelled' });
    expect((result.structuredContent as { durationMs: number }).durationMs).toBeLessThan(60_000);
    expect((await bridge.client.experimental.tasks.getTask(task.taskId)).status).toBe('cancelled');
    // One sandbox (MCP_BRIDGE_POOL_MAX=1): the next run gets it.
    const next = (await bridge.client.callTool(
      { name: 'run_python', arguments: { code: 'print("free")', timeout: 120 } },
      undefined,
      { timeout: 120_000 },
    )) as CallToolResult;
    expect(next.structuredContent).toMatchObject({ status: 'ok', stdout: 'free\n' });
    const again = await rejection(bridge.client.experimental.tasks.cancelTask(task.taskId));
    expect(again.code).toBe(ErrorCode.InvalidParams);
    expect(again.message).toMatch(/terminal status: cancelled/);
  }, 120_000);

  it("answers an unknown task id with the spec's invalid-params error", async () => {
    const tasks = bridge.client.experimental.tasks;
    for (const call of [
      tasks.getTask('no-such-task'),
      tasks.getTaskResult('no-such-task', CallToolResultSchema),
      tasks.cancelTask('no-such-task'),
    ]) {
      const error = await rejection(call);
      expect(error.code).toBe(ErrorCode.InvalidParams);
      expect(error.message).toMatch(/no-such-task/);
    }
    const cursor = await rejection(tasks.listTasks('not-a-cursor'));
    expect(cursor.code).toBe(ErrorCode.InvalidParams);
    expect(cursor.message).toMatch(/Invalid cursor "not-a-cursor"/);
  });

  it('refuses wait and yield_after on a task; calls without a task still return results and wait handles', async () => {
    for (const args of [{ code: 'print(1)', yield_after: 1 }, { wait: 'job-1' }]) {
      const error = await rejection(startTask(bridge.client, args));
      expect(error.code).toBe(ErrorCode.InvalidParams);
      expect(error.message).toMatch(/as a task: a task takes no `(yield_after|wait)`/);
    }
    const invalid = await rejection(startTask(bridge.client, { code: 'print(1)', timout: 5 }));
    expect(invalid.message).toMatch(/unknown argument "timout"/);

    const plain = await bridge.runPython({ code: 'print("plain")', timeout: 120 });
    expect(plain.structured).toMatchObject({ status: 'ok', stdout: 'plain\n' });
    const yielded = await bridge.runPython({
      code: 'import time\ntime.sleep(3)\nprint("late")',
      yield_after: 0.5,
      timeout: 120,
    });
    const handle = (yielded.structuredContent as { wait?: string }).wait;
    expect(handle).toMatch(/^job-\d+$/);
    const done = await bridge.runPython({ wait: handle as string, yield_after: 0 });
    expect(done.structured).toMatchObject({ status: 'ok', stdout: 'late\n' });
    // A wait handle is never a task.
    const notATask = await rejection(bridge.client.experimental.tasks.getTask(handle as string));
    expect(notATask.code).toBe(ErrorCode.InvalidParams);
  }, 120_000);
});

describe('MCP tasks over HTTP: each principal its own', () => {
  const ALICE = 'alice-tasks-token-0123456789';
  const BOB = 'bob-tasks-token-0123456789ab';
  let bridge: HttpBridge;
  const clients: Client[] = [];

  beforeAll(async () => {
    const tokens = writeTokensFile(stateDir, [
      { name: 'alice', token: ALICE },
      { name: 'bob', token: BOB },
    ]);
    bridge = await startHttpBridge(['serve', '--http', '0'], {
      MCP_BRIDGE_STATE_DIR: stateDir,
      MCP_BRIDGE_HTTP_TOKENS_FILE: tokens,
    });
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) {
      await (client.transport as StreamableHTTPClientTransport).terminateSession().catch(() => {});
      await client.close();
    }
    await bridge?.stop();
  });

  it("pages a principal's tasks to any of its sessions and keeps them from another principal", async () => {
    const [alice, alice2, bob] = await Promise.all([
      bridge.connect({ token: ALICE, name: 'alice' }),
      bridge.connect({ token: ALICE, name: 'alice-2' }),
      bridge.connect({ token: BOB, name: 'bob' }),
    ]);
    clients.push(alice, alice2, bob);
    const started: Task[] = [];
    for (let i = 0; i < 12; i++) started.push(await startTask(alice, { code: `print(${i})`, timeout: 120 }));
    const bobs = await startTask(bob, { code: 'print("bob")', timeout: 120 });

    const first = await alice2.experimental.tasks.listTasks();
    expect(first.tasks.map((task) => task.taskId)).toEqual(started.slice(0, 10).map((task) => task.taskId));
    expect(first.nextCursor).toBeDefined();
    const second = await alice2.experimental.tasks.listTasks(first.nextCursor);
    expect(second.tasks.map((task) => task.taskId)).toEqual(started.slice(10).map((task) => task.taskId));
    expect(second.nextCursor).toBeUndefined();
    expect((await bob.experimental.tasks.listTasks()).tasks.map((task) => task.taskId)).toEqual([
      bobs.taskId,
    ]);

    // Another session of alice's gets her results; bob cannot see, read or cancel her tasks.
    const last = started.at(-1) as Task;
    expect((await taskResult(alice2, last.taskId)).structuredContent).toMatchObject({ stdout: '11\n' });
    for (const call of [
      bob.experimental.tasks.getTask(last.taskId),
      bob.experimental.tasks.getTaskResult(last.taskId, CallToolResultSchema),
      bob.experimental.tasks.cancelTask(started[0]?.taskId as string),
    ]) {
      expect((await rejection(call)).code).toBe(ErrorCode.InvalidParams);
    }
    expect((await taskResult(bob, bobs.taskId)).structuredContent).toMatchObject({ stdout: 'bob\n' });
  }, 180_000);

  it('cancels a task from another session of the same principal', async () => {
    const [alice, alice2] = await Promise.all([
      bridge.connect({ token: ALICE, name: 'alice-3' }),
      bridge.connect({ token: ALICE, name: 'alice-4' }),
    ]);
    clients.push(alice, alice2);
    const task = await startTask(alice, { code: 'import time\ntime.sleep(60)', timeout: 90 });
    expect((await alice2.experimental.tasks.cancelTask(task.taskId)).status).toBe('cancelled');
    expect((await taskResult(alice, task.taskId)).structuredContent).toMatchObject({ status: 'cancelled' });
  }, 120_000);
});
