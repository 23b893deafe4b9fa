/** Starts the built bridge as a child process and talks MCP to it with the SDK client, as a real client does. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  type CallToolResult,
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { RunOutcome } from '../../src/engine/types.js';
import { BRIDGE_MAIN, TEST_IMAGE } from './environment.js';

export interface RunningBridge {
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  stderr: () => string;
  /** MCP log messages (`notifications/message`) the bridge sent. */
  logs: () => Array<{ level: string; data: unknown }>;
  runPython(
    args: Record<string, unknown>,
    options?: { signal?: AbortSignal; onprogress?: () => void },
  ): Promise<RunResult>;
  /** Calls `run_typescript` (the bridge must list it: MCP_BRIDGE_LANGUAGES). */
  runTypeScript(args: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<RunResult>;
  close(): Promise<void>;
}

export interface RunResult extends CallToolResult {
  text: string;
  structured: RunOutcome;
}

export async function startBridge(
  env: Record<string, string> = {},
  options: {
    cwd?: string;
    /** Declare form elicitation and answer the bridge's `elicitation/create` requests with this. */
    elicit?: (request: ElicitRequest['params']) => Promise<ElicitResult> | ElicitResult;
  } = {},
): Promise<RunningBridge> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BRIDGE_MAIN],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: {
      ...getDefaultEnvironment(),
      MCP_BRIDGE_IMAGE: TEST_IMAGE,
      MCP_BRIDGE_LOG_LEVEL: 'warn',
      // Runs return when they end, however slow a loaded machine makes them, unless a test asks for
      // yielding (the long-run tests pass yield_after or set this).
      MCP_BRIDGE_YIELD_AFTER: '600',
      MCP_BRIDGE_POOL_SIZE: '1',
      // A fixed pool unless a test asks for growth: two shared cores, and assertions count sandboxes.
      MCP_BRIDGE_POOL_MAX: env.MCP_BRIDGE_POOL_SIZE ?? '1',
      ...env,
    },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client(
    { name: 'codemode-bridge-tests', version: '0.0.0' },
    options.elicit ? { capabilities: { elicitation: { form: {} } } } : {},
  );
  const { elicit } = options;
  if (elicit) client.setRequestHandler(ElicitRequestSchema, (request) => elicit(request.params));
  const logs: Array<{ level: string; data: unknown }> = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    logs.push({ level: notification.params.level, data: notification.params.data });
  });
  try {
    await client.connect(transport);
  } catch (error) {
    throw new Error(`bridge did not start: ${(error as Error).message}\n${stderr}`);
  }
  const pid = transport.pid;
  if (pid === null) throw new Error('bridge did not start');
  const runTool = async (
    name: string,
    args: Record<string, unknown>,
    options: { signal?: AbortSignal; onprogress?: () => void },
  ): Promise<RunResult> => {
    const result = (await client.callTool({ name, arguments: args }, undefined, {
      timeout: 180_000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onprogress ? { onprogress: options.onprogress, resetTimeoutOnProgress: true } : {}),
    })) as CallToolResult;
    const first = result.content[0];
    return {
      ...result,
      text: first?.type === 'text' ? first.text : '',
      structured: result.structuredContent as unknown as RunOutcome,
    };
  };
  return {
    client,
    transport,
    pid,
    stderr: () => stderr,
    logs: () => logs,
    runPython: (args, options = {}) => runTool('run_python', args, options),
    runTypeScript: (args, options = {}) => runTool('run_typescript', args, options),
    async close() {
      await client.close().catch(() => {});
    },
  };
}

/**
 * Starts a run that goes on (it must print `marker` and then keep running) and resolves once it has
 * printed `marker`: the program is past its start, in its own code. Uses yielding (`yield_after`).
 */
export async function startRunning(
  bridge: RunningBridge,
  code: string,
  marker = 'running',
  deadlineMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let result = await bridge.runPython({ code, timeout: 600, yield_after: 0.5 });
  let printed = result.structured.stdout;
  const handle = (result.structuredContent as { wait?: unknown }).wait;
  while (!printed.includes(marker)) {
    if (typeof handle !== 'string' || Date.now() > deadline) {
      throw new Error(`the run did not print ${JSON.stringify(marker)}: ${result.text.slice(0, 500)}`);
    }
    result = await bridge.runPython({ wait: handle, yield_after: 0.5 });
    printed += result.structured.stdout;
  }
}
