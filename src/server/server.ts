/**
 * The MCP surface: one `McpServer` per client connection, with its resources, its table of runs still
 * going, and one tool, `run_python` (defined in run-python-tool.ts, answered by run-handler.ts).
 */
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Engine } from '../engine/engine.js';
import { describeIssues } from '../shared/errors.js';
import type { LogFields, Logger, LogLevel } from '../shared/logger.js';
import { type OutputMode, toolError } from './format.js';
import { LongRuns } from './long-runs.js';
import { buildInstructions, registerResources } from './resources.js';
import { createRunHandler, KEEP_FINISHED_RUN_MS, MAX_WAIT_HANDLES } from './run-handler.js';
import { RUN_PYTHON_TOOL, runPythonArguments, runPythonToolDefinition } from './run-python-tool.js';

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
  const closeServer = server.close.bind(server);
  server.close = async () => {
    longRuns.close();
    engine.closeOwner(connection);
    await closeServer();
  };
  registerResources(server, engine, connection);
  const runPython = createRunHandler({
    server,
    engine,
    connection,
    longRuns,
    yieldAfterMs,
    outputMode: options.outputMode,
    logger,
  });
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
  const tools = [runPythonToolDefinition(serverNames, options.policy === true)];
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
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
