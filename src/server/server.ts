/** The MCP surface: one tool, `run_python`, backed by the engine. */
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type ServerNotification,
  type ServerRequest,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Engine } from '../engine/engine.js';
import { type LongRun, LongRuns } from '../engine/long-runs.js';
import { SESSION_NAME_PATTERN } from '../engine/sessions.js';
import { type ApprovalAnswer, type Approver, MIN_RUN_TIMEOUT_MS, type RunOutcome } from '../engine/types.js';
import { groupDigits } from '../shared/digits.js';
import { BridgeError, describeIssues, errorMessage } from '../shared/errors.js';
import type { LogFields, Logger, LogLevel } from '../shared/logger.js';
import { visibleText } from '../shared/visible-text.js';
import { attachmentContent } from './attachments.js';
import {
  formatOutcome,
  formatRunning,
  type OutputMode,
  structuredOutcome,
  structuredRunning,
} from './format.js';
import { buildInstructions, registerResources } from './resources.js';
import { runOrigin } from './run-origin.js';

const RUN_PYTHON_TOOL = 'run_python';
const PROGRESS_INTERVAL_MS = 1000;
/** Handles of runs still going one client may hold, and how long a finished run's result waits for it. */
const MAX_WAIT_HANDLES = 16;
const KEEP_FINISHED_RUN_MS = 10 * 60 * 1000;

export interface BridgeServerOptions {
  engine: Engine;
  version: string;
  outputMode: OutputMode;
  /** A policy is in force: the description tells the model how refusals look. Default false. */
  policy?: boolean;
  /**
   * A call returns a run still going after this long with its output so far and a `wait` handle
   * (MCP_BRIDGE_YIELD_AFTER); 0: calls wait for the run's end.
   */
  yieldAfterMs: number;
  /** Cap per stream of each piece of output a yielding run returns (MCP_BRIDGE_MAX_OUTPUT_CHARS). */
  maxOutputChars: number;
  logger: Logger;
}

/** Code beyond this is data that belongs in a file or a tool result, not in the request. */
const MAX_CODE_CHARS = 1_000_000;

const runPythonInput = {
  code: z
    .string()
    .min(1, 'code must not be empty')
    .max(
      MAX_CODE_CHARS,
      `code is limited to ${groupDigits(MAX_CODE_CHARS)} characters; read large data from a tool or a file instead of inlining it`,
    )
    .optional()
    .describe('Python 3 source'),
  servers: z.array(z.string().min(1).max(256)).max(256).optional().describe('MCP servers this run may call'),
  timeout: z
    .number()
    .min(MIN_RUN_TIMEOUT_MS / 1000, `timeout must be at least ${MIN_RUN_TIMEOUT_MS / 1000} seconds`)
    .optional()
    .describe('seconds'),
  session: z
    .string()
    .regex(SESSION_NAME_PATTERN, 'session must be 1-64 letters, digits, _ . or -')
    .optional(),
  wait: z.string().max(64).optional(),
  yield_after: z.number().min(0).optional(),
};

// Strict: a misspelt `timout` refused with its name beats a run that quietly ignored it.
const runPythonArguments = z.strictObject(runPythonInput, {
  error: (issue) =>
    issue.code === 'unrecognized_keys'
      ? `unknown argument${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}; ` +
        `${RUN_PYTHON_TOOL} takes ${Object.keys(runPythonInput).join(', ')}`
      : undefined,
});
type RunPythonArguments = z.infer<typeof runPythonArguments>;
type ToolCallExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const runPythonOutput = {
  status: z.enum(['ok', 'error', 'timeout', 'cancelled', 'killed', 'protocol_error', 'running']),
  stdout: z.string(),
  stderr: z.string(),
  error: z.string().optional(),
  traceback: z.string().optional(),
  durationMs: z.number(),
  truncated: z.record(z.string(), z.number()).optional(),
  session: z.object({}).passthrough().optional(),
  output: z.object({}).passthrough().optional(),
  wait: z.string().optional(),
  /** Which sandbox ran the program: the Monty tier, a container engine, or the embedded sandbox. */
  sandbox: z.enum(['monty', 'podman', 'docker', 'embedded']).optional(),
};
/**
 * What tools/list advertises: `durationMs`, `truncated`, `session`, `output`, `wait` and `sandbox` are
 * left out (clients accept extra properties; tokens count, and the text result says what the model
 * needs: 14 tokens for `sandbox`'s enum took tools/list past its 400-token budget).
 */
const {
  durationMs: _durationMs,
  truncated: _truncated,
  session: _session,
  output: _output,
  wait: _wait,
  sandbox: _sandbox,
  ...listedOutput
} = runPythonOutput;

/**
 * The `run_python` entry of tools/list, from the same zod schemas tools/call is checked with, minus
 * what costs the model tokens and tells it nothing (`$schema`, `additionalProperties: false`).
 */
function runPythonToolDefinition(serverNames: string[], policy: boolean, yieldAfterMs: number): Tool {
  const compact = (shape: z.ZodRawShape) => {
    const {
      $schema: _schema,
      additionalProperties: _additional,
      ...schema
    } = z.toJSONSchema(z.object(shape), {
      io: 'input',
      // Size caps are enforced on tools/call with a message that explains them; advertised, they
      // would cost every turn tokens for limits no reasonable call reaches.
      override: ({ jsonSchema }) => {
        delete jsonSchema.maxLength;
        delete jsonSchema.maxItems;
        delete jsonSchema.pattern;
        delete jsonSchema.minLength;
        delete jsonSchema.minimum;
      },
    });
    return schema as Tool['inputSchema'];
  };
  return {
    name: RUN_PYTHON_TOOL,
    title: 'Run Python',
    description: describeRunPython(serverNames, policy, yieldAfterMs),
    inputSchema: compact(runPythonInput),
    outputSchema: compact(listedOutput),
    // No annotations: their defaults (not read-only, open world) are what run_python is.
  };
}

/** How many characters of server names the description may spend; the rest are one helper call away. */
const SERVER_LIST_CHARS = 100;

/** Lists server names within a fixed budget, so the description stays small however many are configured. */
function summarizeServerNames(names: string[]): string {
  if (names.length === 0) return 'No MCP servers are configured.';
  const shown: string[] = [];
  let used = 0;
  for (const name of names) {
    if (used + name.length > SERVER_LIST_CHARS && shown.length > 0) break;
    shown.push(name);
    used += name.length + 2;
  }
  const rest = names.length - shown.length;
  return `Servers: ${shown.join(', ')}${rest > 0 ? ` and ${rest} more (rt.discovered_servers())` : ''}.`;
}

function describeRunPython(serverNames: string[], policy: boolean, yieldAfterMs: number): string {
  const lines = [
    'Run Python 3 in a sandbox (no network, no host files; fresh interpreter each call, or kept per `session`). Top-level await works; a final expression is printed.',
    `Runs past \`yield_after\` s (default ${yieldAfterMs > 0 ? Number((yieldAfterMs / 1000).toFixed(1)) : 'never'}; 0 = never) return output so far and a handle; call with only \`wait\`=handle for more and the result.`,
    'MCP tools are async functions. Grant servers via `servers`, then `await mcp_<alias>.<tool>(...)`, `mcp_servers["name"]["tool"]` or `from mcp.servers.<alias> import <tool>`; errors raise mcp.ToolError.',
    'Find tools first: `import mcp.runtime as rt`; `await rt.search_tool_docs("task")`; `await rt.query_tool_docs(server, tool, detail="full")`.',
    'Filter and join in Python; print only what you need.',
    summarizeServerNames(serverNames),
  ];
  if (policy) {
    lines.splice(
      3,
      0,
      "A user policy governs tool calls: each tool doc has a `policy` (allow/ask/deny); refused calls raise mcp.PolicyError (a ToolError) naming the rule. Don't retry refused calls.",
    );
  }
  return lines.join('\n');
}

export function createBridgeServer(options: BridgeServerOptions): McpServer {
  const { engine, logger } = options;
  const server = new McpServer(
    { name: 'codemode-bridge', version: options.version },
    { capabilities: { logging: {} }, instructions: buildInstructions(engine) },
  );
  // Named sessions, saved values and runs still going belong to this server's one client (stdio: the
  // bridge's client; HTTP: one McpServer per MCP session), and end when it closes.
  const connection = randomUUID();
  const { yieldAfterMs } = options;
  const longRuns = new LongRuns({
    maxHandles: MAX_WAIT_HANDLES,
    keepFinishedMs: KEEP_FINISHED_RUN_MS,
    maxOutputChars: options.maxOutputChars,
  });
  // The request an approval prompt belongs to: the call now waiting on the run (over HTTP the prompt
  // travels on that request's stream).
  const waitingRequest = new WeakMap<LongRun, string | number>();
  const closeServer = server.close.bind(server);
  server.close = async () => {
    longRuns.close();
    engine.closeOwner(connection);
    await closeServer();
  };
  registerResources(server, engine, connection);

  const runPython = async (
    { code, servers, timeout, session, wait, yield_after }: RunPythonArguments,
    extra: ToolCallExtra,
  ): Promise<CallToolResult> => {
    if (yield_after !== undefined && yield_after * 1000 > engine.maxTimeoutMs) {
      // Not only pointless (the run ends first): a timer past 2^31 ms fires at once.
      const most = Number((engine.maxTimeoutMs / 1000).toFixed(3));
      return toolError(
        `Invalid arguments for ${RUN_PYTHON_TOOL}: yield_after=${yield_after} s is longer than a run may last ` +
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
            `for ${KEEP_FINISHED_RUN_MS / 60000} min after the run ended, and only for the client that started it. Run the code again.`,
        );
      }
    } else {
      if (code === undefined) {
        return toolError(
          'run_python needs `code` (Python source), or `wait` with the handle of a run still going.',
        );
      }
      const timeoutMs = timeout === undefined ? undefined : Math.round(timeout * 1000);
      run = longRuns.start(engine.effectiveTimeoutMs(timeoutMs), ({ signal, onOutput }) =>
        engine.run(
          {
            code,
            ...(servers ? { servers } : {}),
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
            ...(session !== undefined ? { session } : {}),
          },
          {
            signal,
            onOutput,
            owner: connection,
            approve: elicitApproval(server, () => (run && waitingRequest.get(run)) ?? extra.requestId),
            ...(extra.sessionId !== undefined ? { session: extra.sessionId } : {}),
            origin: runOrigin(extra, server.server.transport),
          },
        ),
      );
    }
    waitingRequest.set(run, extra.requestId);
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
      const outcome: RunOutcome = step.outcome;
      return {
        content: [
          { type: 'text', text: formatOutcome(outcome, options.outputMode) },
          ...attachmentContent(outcome.attachments ?? []),
        ],
        structuredContent: structuredOutcome(outcome),
        ...(outcome.status === 'ok' ? {} : { isError: true }),
      };
    } catch (error) {
      if (!(error instanceof BridgeError)) logger.error('run_python failed', { error });
      return toolError(errorMessage(error));
    } finally {
      stopProgress();
    }
  };
  // tools/call is answered here rather than through `McpServer.registerTool`, whose path parses each
  // call with `CallToolRequestSchema` twice, validates the arguments asynchronously and parses the
  // result we built with `CallToolResultSchema` again: ~0.25 ms of a ~3 ms session call at agent pace
  // (measured with marks in the SDK). The fallback handler gets the request as the SDK received it,
  // envelope checked; the arguments are parsed once, with the schema tools/list advertises.
  server.server.registerCapabilities({ tools: {} });
  server.server.fallbackRequestHandler = async (request, extra) => {
    if (request.method !== 'tools/call') throw new McpError(ErrorCode.MethodNotFound, 'Method not found');
    const name = request.params?.name;
    if (name !== RUN_PYTHON_TOOL) {
      throw new McpError(
        ErrorCode.InvalidParams,
        `Unknown tool ${JSON.stringify(name)}: this server has one tool, ${RUN_PYTHON_TOOL}`,
      );
    }
    const parsed = runPythonArguments.safeParse(request.params?.arguments ?? {});
    if (!parsed.success)
      return toolError(`Invalid arguments for ${RUN_PYTHON_TOOL}: ${describeIssues(parsed.error)}`);
    return runPython(parsed.data, extra);
  };
  // tools/list is the one thing every client puts in the model's context on every turn: serve the
  // compact definition. Servers are discovered once at start, so the definition is built once.
  const serverNames = engine.catalog().map((entry) => entry.name);
  const tools = [runPythonToolDefinition(serverNames, options.policy === true, yieldAfterMs)];
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  return server;
}

function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * Asks the user about one tool call through MCP elicitation (`elicitation/create`, a form with one
 * checkbox: allow every call to this tool for the rest of the run). Waits until the user answers or
 * the run ends (`signal`: its deadline or cancellation); a client without form elicitation gets
 * `unsupported`, which the policy turns into a refusal unless configured otherwise.
 */
function elicitApproval(server: McpServer, relatedRequest: () => string | number): Approver {
  return async (request, signal): Promise<ApprovalAnswer> => {
    const relatedRequestId = relatedRequest();
    if (!server.server.getClientCapabilities()?.elicitation?.form) return 'unsupported';
    const result = await server.server.elicitInput(
      {
        mode: 'form',
        // Names come from servers and the policy file, the reason may quote a pattern: each is escaped
        // so none can forge a line of this text (the arguments are escaped where they are rendered).
        message:
          `A run_python program (${visibleText(request.runId)}) wants to call ${visibleText(request.tool)} on ` +
          `the MCP server '${visibleText(request.server)}'. The policy asks you first (rule ` +
          `${visibleText(request.rule)}: ${visibleText(request.reason)}).\n\n` +
          `Arguments (secrets redacted):\n${request.arguments}\n\nAllow this call?`,
        requestedSchema: {
          type: 'object',
          properties: {
            remember: {
              type: 'boolean',
              title: 'Also allow later calls to this tool in this run',
              default: false,
            },
          },
        },
      },
      // The run's deadline bounds the wait, not the SDK's default request timeout.
      { signal, relatedRequestId, timeout: 2 ** 31 - 1 },
    );
    if (result.action === 'accept') return result.content?.remember === true ? 'accept-run' : 'accept';
    return result.action;
  };
}

/** Options for {@link createUnconfiguredServer}. */
export interface UnconfiguredServerOptions {
  version: string;
  /**
   * What stopped the bridge: a `CONFIG_INVALID` message naming the variable and what it accepts, or
   * another start-up failure's message.
   */
  problem: string;
  /** Whether `problem` is a configuration error (the default) or another failure to start. */
  kind?: 'configuration' | 'failure';
}

/**
 * The server `serve` offers when it cannot start: its configuration is invalid, or something else
 * failed before it could serve. Exiting before the MCP handshake leaves a client with nothing but
 * "Connection closed"; this one completes it, so the problem reaches the user through the client: in
 * `run_python`'s description and every call's result (`isError`), in the initialize `instructions`,
 * and as an `error` log message once the client has initialized.
 */
export function createUnconfiguredServer(options: UnconfiguredServerOptions): McpServer {
  const text =
    options.kind === 'failure'
      ? `codemode-bridge is not running because it could not start: ${options.problem} Run \`codemode-bridge doctor\` with this server's environment to see more, then restart the server.`
      : `codemode-bridge is not running because its configuration is invalid: ${options.problem} Fix it in the "env" of this server's entry in your MCP client's config, then restart the server.`;
  const server = new McpServer(
    { name: 'codemode-bridge', version: options.version },
    { capabilities: { logging: {} }, instructions: text },
  );
  // Same name and input schema as the working tool, so a client that remembers the tool still finds it.
  server.registerTool(
    RUN_PYTHON_TOOL,
    { title: 'Run Python (unavailable)', description: text, inputSchema: runPythonInput },
    (): CallToolResult => ({ content: [{ type: 'text', text }], isError: true }),
  );
  server.server.oninitialized = () => {
    server.server
      .sendLoggingMessage({ level: 'error', logger: 'codemode-bridge', data: { message: text } })
      .catch(() => {});
  };
  return server;
}

/**
 * Forwards warnings and errors (a malformed config file, an upstream that will not start) to the
 * client as MCP log messages, where its UI shows them; the client's `logging/setLevel` still applies.
 * `backlog` holds warnings from before the client connected; they are sent once it has initialized.
 */
export function forwardLogsToClient(
  server: McpServer,
  logger: Logger,
  backlog: Array<{ message: string; fields: LogFields }> = [],
): () => void {
  const send = (level: LogLevel, message: string, fields: LogFields) => {
    const data: Record<string, unknown> = { message };
    for (const [key, value] of Object.entries(fields)) {
      if (value !== undefined) data[key] = value instanceof Error ? value.message : value;
    }
    server.server
      .sendLoggingMessage({ level: level === 'warn' ? 'warning' : 'error', logger: 'codemode-bridge', data })
      .catch(() => {});
  };
  let initialized = false;
  const pending: Array<[LogLevel, string, LogFields]> = backlog.map(({ message, fields }) => [
    'warn',
    message,
    fields,
  ]);
  server.server.oninitialized = () => {
    initialized = true;
    for (const entry of pending.splice(0)) send(...entry);
  };
  return logger.addSink('warn', (level, message, fields) => {
    if (initialized) send(level, message, fields);
    else pending.push([level, message, fields]);
  });
}

/**
 * Sends `notifications/progress` once a second while a call waits on a run, when the client asked for
 * it: seconds since the run started, of its timeout.
 */
function startProgress(
  token: string | number | undefined,
  run: LongRun,
  send: (notification: ServerNotification) => Promise<void>,
): () => void {
  if (token === undefined) return () => {};
  const totalMs = run.timeoutMs;
  const timer = setInterval(() => {
    const elapsedMs = performance.now() - run.startedAt;
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
