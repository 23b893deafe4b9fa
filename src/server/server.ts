/**
 * The MCP surface: one `McpServer` per client connection, with its resources, its principal's tables
 * of runs still going and of MCP tasks (its own over stdio), and a run tool per enabled language:
 * `run_python` (run-python-tool.ts) and `run_typescript` (run-typescript-tool.ts), both answered by
 * run-handler.ts.
 */
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  GetTaskPayloadRequestSchema,
  GetTaskRequestSchema,
  isTaskAugmentedRequestParams,
  ListToolsRequestSchema,
  RELATED_TASK_META_KEY,
} from '@modelcontextprotocol/sdk/types.js';
import type { Engine } from '../engine/engine.js';
import { localPrincipal, type Principal } from '../engine/principal.js';
import type { Language } from '../engine/types.js';
import { describeIssues, ProtocolError } from '../shared/errors.js';
import type { LogFields, Logger, LogLevel } from '../shared/logger.js';
import { type OutputMode, toolError } from './format.js';
import { LongRuns } from './long-runs.js';
import { buildInstructions, registerResources } from './resources.js';
import {
  createRunHandler,
  KEEP_FINISHED_RUN_MS,
  MAX_WAIT_HANDLES,
  type RunHandler,
  TASK_LIMITS,
} from './run-handler.js';
import { RUN_PYTHON_TOOL, runPythonArguments, runPythonToolDefinition } from './run-python-tool.js';
import {
  RUN_TYPESCRIPT_TOOL,
  runTypeScriptArguments,
  runTypeScriptToolDefinition,
} from './run-typescript-tool.js';
import { TaskRuns } from './task-runs.js';

export interface BridgeServerOptions {
  engine: Engine;
  version: string;
  outputMode: OutputMode;
  /** A policy is in force: the description tells the model how refusals look. Default false. */
  policy?: boolean;
  /** Whose run tools tools/list shows, in this order (MCP_BRIDGE_LANGUAGES). Default: Python only. */
  languages?: readonly Language[];
  /**
   * A call returns a run still going after this long with its output so far and a `wait` handle
   * (MCP_BRIDGE_YIELD_AFTER); 0: calls wait for the run's end.
   */
  yieldAfterMs: number;
  /** Cap per stream of each piece of output a yielding run returns (MCP_BRIDGE_MAX_OUTPUT_CHARS). */
  maxOutputChars: number;
  /** Who this server's client is (over HTTP, the principal that opened the MCP session). Default: the local user. */
  principal?: Principal;
  /**
   * The principal's runs still going, shared by all its connections (over HTTP). Default: a table of
   * this server's own, closed with it together with everything its principal owns (stdio's one client).
   */
  longRuns?: LongRuns;
  /** The principal's MCP tasks, shared by all its connections (over HTTP). Default: this server's own, as `longRuns`. */
  tasks?: TaskRuns;
  logger: Logger;
}

export function createBridgeServer(options: BridgeServerOptions): McpServer {
  const { engine, logger } = options;
  const tasks = options.tasks ?? new TaskRuns(TASK_LIMITS);
  // The SDK answers tasks/list and tasks/cancel from the task store; `tools.call`: run_python may be
  // called as a task.
  const server = new McpServer(
    { name: 'codemode-bridge', version: options.version },
    {
      capabilities: { logging: {}, tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } },
      instructions: buildInstructions(engine, options.languages),
      taskStore: tasks,
    },
  );
  // Named sessions, saved values and kept output belong to the principal (the engine keys them by its
  // id) and outlive this connection; the runs it started end with it. Over stdio the one client is
  // the one principal, and closing ends everything it owns.
  const connection = randomUUID();
  const principal = options.principal ?? localPrincipal();
  const { yieldAfterMs } = options;
  const longRuns =
    options.longRuns ??
    new LongRuns({
      maxHandles: MAX_WAIT_HANDLES,
      keepFinishedMs: KEEP_FINISHED_RUN_MS,
      maxOutputChars: options.maxOutputChars,
    });
  const ownsState = options.longRuns === undefined;
  const closeServer = server.close.bind(server);
  server.close = async () => {
    if (ownsState) {
      longRuns.close();
      tasks.close();
      engine.closeOwner(principal.id);
    } else {
      longRuns.closeOrigin(connection);
    }
    await closeServer();
  };
  registerResources(server, engine, principal);
  const serverNames = engine.catalog().map((entry) => entry.name);
  const policy = options.policy === true;
  /** Each listed run tool: its entry in tools/list, its arguments' schema and its handler. */
  const runTools = (options.languages ?? ['python']).map((language) => {
    const handler: RunHandler = createRunHandler({
      language,
      server,
      engine,
      principal,
      connection,
      longRuns,
      tasks,
      yieldAfterMs,
      outputMode: options.outputMode,
      logger,
    });
    return language === 'typescript'
      ? {
          definition: runTypeScriptToolDefinition(serverNames, policy),
          args: runTypeScriptArguments,
          handler,
        }
      : { definition: runPythonToolDefinition(serverNames, policy), args: runPythonArguments, handler };
  });
  const byName = new Map(runTools.map((tool) => [tool.definition.name, tool]));
  const listedNames = runTools.map((tool) => tool.definition.name);
  // tools/call is answered here rather than through `McpServer.registerTool`, whose path parses each
  // call with `CallToolRequestSchema` twice, validates the arguments asynchronously and parses the
  // result we built with `CallToolResultSchema` again: ~0.25 ms of a ~3 ms session call at agent pace
  // (measured with marks in the SDK). The fallback handler gets the request as the SDK received it,
  // envelope checked; the arguments are parsed once, with the schema tools/list advertises.
  server.server.registerCapabilities({ tools: {} });
  server.server.fallbackRequestHandler = async (request, extra) => {
    if (request.method !== 'tools/call')
      throw new ProtocolError(ErrorCode.MethodNotFound, 'Method not found');
    const name = request.params?.name;
    const tool = typeof name === 'string' ? byName.get(name) : undefined;
    if (!tool) {
      const offered =
        listedNames.length === 1 ? `one tool, ${listedNames[0]}` : `the tools ${listedNames.join(' and ')}`;
      const hidden = [RUN_PYTHON_TOOL, RUN_TYPESCRIPT_TOOL].includes(String(name))
        ? ' (MCP_BRIDGE_LANGUAGES enables python, typescript or both)'
        : '';
      throw new ProtocolError(
        ErrorCode.InvalidParams,
        `Unknown tool ${JSON.stringify(name)}: this server has ${offered}${hidden}`,
      );
    }
    const task = isTaskAugmentedRequestParams(request.params) ? request.params.task : undefined;
    const parsed = tool.args.safeParse(request.params?.arguments ?? {});
    if (!parsed.success) {
      const message = `Invalid arguments for ${tool.definition.name}: ${describeIssues(parsed.error)}`;
      // A task-augmented call is answered with a task or a JSON-RPC error, never a tool result.
      if (task) throw new ProtocolError(ErrorCode.InvalidParams, message);
      return toolError(message);
    }
    return tool.handler(parsed.data, extra, task);
  };
  // The SDK's own tasks/get says only "Task not found", and its tasks/result polls the store once per
  // poll interval: answered here, with the id and what to do, and the result the moment the run ends.
  server.server.setRequestHandler(GetTaskRequestSchema, (request) => tasks.describe(request.params.taskId));
  server.server.setRequestHandler(GetTaskPayloadRequestSchema, async (request, extra) => {
    const { taskId } = request.params;
    const result = await tasks.result(taskId, extra.signal);
    return { ...result, _meta: { ...result._meta, [RELATED_TASK_META_KEY]: { taskId } } };
  });
  // tools/list is the one thing every client puts in the model's context on every turn: serve the
  // compact definitions. Servers are discovered once at start, so the definitions are built once.
  const tools = runTools.map((tool) => tool.definition);
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
