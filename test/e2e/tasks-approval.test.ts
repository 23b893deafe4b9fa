/**
 * An approval prompt in a run started as an MCP task, through the real bridge (embedded sandbox), the
 * reference `everything` server behind an `ask` policy rule, and the SDK client answering the
 * elicitation: the task is `input_required` while the user decides, `working` again once answered,
 * and its result is the call's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CallToolResultSchema,
  CreateTaskResultSchema,
  type ElicitResult,
  type Task,
  TaskStatusNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { createTestHome, serverEntry, type TestHome } from '../helpers/upstreams.js';

const stateDir = mkdtempSync(join(tmpdir(), 'tasks-approval-state-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

describe('an approval prompt in a task (embedded sandbox)', () => {
  let home: TestHome;
  let bridge: RunningBridge;
  let answer: (result: ElicitResult) => void = () => {};
  let prompted: () => void = () => {};
  const promptedOnce = new Promise<void>((resolve) => {
    prompted = resolve;
  });
  const statuses: Task['status'][] = [];

  beforeAll(async () => {
    home = createTestHome();
    home.write('.claude.json', {
      mcpServers: { everything: { command: process.execPath, args: [serverEntry('server-everything')] } },
    });
    const policy = home.write('policy.toml', '[servers.everything]\nask = ["echo"]\n');
    bridge = await startBridge(
      {
        HOME: home.home,
        MCP_BRIDGE_RUNTIME: 'embedded',
        MCP_BRIDGE_STATE_DIR: stateDir,
        MCP_BRIDGE_POLICY: policy,
      },
      {
        cwd: home.project,
        elicit: () =>
          new Promise<ElicitResult>((resolve) => {
            answer = resolve;
            prompted();
          }),
      },
    );
    bridge.client.setNotificationHandler(TaskStatusNotificationSchema, (notification) => {
      statuses.push(notification.params.status);
    });
  }, 300_000);
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it('is input_required while the user decides, then completes with the call made', async () => {
    const { task } = await bridge.client.request(
      {
        method: 'tools/call',
        params: {
          name: 'run_python',
          arguments: {
            code: 'r = await mcp_everything.echo(message="approved")\nprint(r)',
            servers: ['everything'],
            timeout: 120,
          },
        },
      },
      CreateTaskResultSchema,
      { task: { ttl: 60_000 } },
    );
    await promptedOnce;
    expect((await bridge.client.experimental.tasks.getTask(task.taskId)).status).toBe('input_required');
    answer({ action: 'accept' });
    const result = await bridge.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema, {
      timeout: 120_000,
    });
    expect(result.structuredContent).toMatchObject({ status: 'ok' });
    expect(String(result.structuredContent?.stdout)).toContain('approved');
    await expect.poll(() => statuses).toEqual(['input_required', 'working', 'completed']);
  }, 300_000);
});
