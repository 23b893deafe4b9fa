/** The MCP surface: one tool, `run_python`, backed by the engine. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Engine } from '../engine/engine.js';
import type { RunOutcome } from '../engine/types.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { formatOutcome, type OutputMode, structuredOutcome } from './format.js';

export const RUN_PYTHON_TOOL = 'run_python';
const PROGRESS_INTERVAL_MS = 1000;

export interface BridgeServerOptions {
  engine: Engine;
  version: string;
  outputMode: OutputMode;
  /** Names of the configured upstream servers, shown to the model. */
  serverNames: () => string[];
  logger: Logger;
}

export const runPythonInput = {
  code: z
    .string()
    .min(1, 'code must not be empty')
    .describe('Python 3 source. Top-level `await` is allowed.'),
  servers: z
    .array(z.string().min(1))
    .max(64)
    .optional()
    .describe('Names of MCP servers whose tools this program may call.'),
  timeout: z
    .number()
    .positive('timeout must be a positive number of seconds')
    .optional()
    .describe('Seconds before the sandbox is killed. Default and maximum are set by the bridge.'),
};

export const runPythonOutput = {
  status: z.enum(['ok', 'error', 'timeout', 'cancelled', 'killed', 'protocol_error']),
  stdout: z.string(),
  stderr: z.string(),
  error: z.string().optional(),
  traceback: z.string().optional(),
  durationMs: z.number(),
  truncated: z.object({ stdout: z.number().optional(), stderr: z.number().optional() }).optional(),
};

export function describeRunPython(serverNames: string[]): string {
  const servers =
    serverNames.length > 0
      ? `Configured servers: ${serverNames.join(', ')}.`
      : 'No MCP servers are configured, so only plain Python is available.';
  return [
    'Run Python 3 in an isolated sandbox (no network, no host files, fresh interpreter every call) and get its stdout, stderr and error back.',
    'Top-level `await` works; the value of a final expression is printed, like a notebook cell.',
    'MCP tools are async functions: grant servers with `servers=["name"]`, then `await mcp_<alias>.<tool>(...)`, `mcp_servers["name"]["tool-name"](...)` or `from mcp.servers.<alias> import <tool>`; `help(fn)` shows a signature and docs; failures raise `mcp.ToolError`.',
    'Do loops, joins and filtering in Python and print only what you need.',
    servers,
  ].join('\n');
}

export function createBridgeServer(options: BridgeServerOptions): McpServer {
  const { engine, logger } = options;
  const server = new McpServer(
    { name: 'codemode-bridge', version: options.version },
    { capabilities: { logging: {} } },
  );

  server.registerTool(
    RUN_PYTHON_TOOL,
    {
      title: 'Run Python',
      description: describeRunPython(options.serverNames()),
      inputSchema: runPythonInput,
      outputSchema: runPythonOutput,
      annotations: { readOnlyHint: false, openWorldHint: true },
    },
    async ({ code, servers, timeout }, extra): Promise<CallToolResult> => {
      const timeoutMs = timeout === undefined ? undefined : Math.round(timeout * 1000);
      const stopProgress = startProgress(
        extra._meta?.progressToken,
        engine.effectiveTimeoutMs(timeoutMs),
        (notification) => extra.sendNotification(notification),
      );
      try {
        const outcome: RunOutcome = await engine.run(
          { code, ...(servers ? { servers } : {}), ...(timeoutMs !== undefined ? { timeoutMs } : {}) },
          { signal: extra.signal },
        );
        return {
          content: [{ type: 'text', text: formatOutcome(outcome, options.outputMode) }],
          structuredContent: structuredOutcome(outcome),
          ...(outcome.status === 'ok' ? {} : { isError: true }),
        };
      } catch (error) {
        if (!(error instanceof BridgeError)) logger.error('run_python failed', { error });
        return { content: [{ type: 'text', text: errorMessage(error) }], isError: true };
      } finally {
        stopProgress();
      }
    },
  );
  return server;
}

/** Sends `notifications/progress` once a second while a run lasts, when the client asked for it. */
function startProgress(
  token: string | number | undefined,
  totalMs: number,
  send: (notification: ServerNotification) => Promise<void>,
): () => void {
  if (token === undefined) return () => {};
  const startedAt = performance.now();
  const timer = setInterval(() => {
    const elapsedMs = performance.now() - startedAt;
    send({
      method: 'notifications/progress',
      params: {
        progressToken: token,
        progress: Math.round(elapsedMs / 1000),
        total: Math.round(totalMs / 1000),
        message: `running for ${Math.round(elapsedMs / 1000)} s`,
      },
    }).catch(() => {});
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}
