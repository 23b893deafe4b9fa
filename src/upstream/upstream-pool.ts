/**
 * The upstream MCP servers of one bridge: sessions opened lazily on first use, kept between runs,
 * closed after an idle period and on exit. A session that died is replaced on the next use, so a
 * crashed server fails only the calls that were using it.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { abortable } from '../shared/abort.js';
import {
  BridgeError,
  type BridgeErrorCode,
  errorMessage,
  shuttingDownError,
  unknownServerError,
  upstreamErrorMessage,
} from '../shared/errors.js';
import { describeOutOfFileDescriptors, isOutOfFileDescriptors } from '../shared/fd-exhaustion.js';
import type { Logger } from '../shared/logger.js';
import type { OutgoingCallTrace } from '../shared/trace-context.js';
import { assignAliases, MCP_OWN_KEYS } from './config/alias.js';
import { serverSecrets } from './config/secrets.js';
import type { UpstreamServerConfig } from './config/types.js';
import { UpstreamConnection } from './connection.js';
import { createRedactor, type Redactor } from './redact.js';
import { MESSAGE_TOO_LARGE_CODE, type MessageTooLargeData } from './stdio-transport.js';
import { resultText, unwrapToolResult } from './unwrap.js';

/** A config entry's `description` is sent to every run: it is cut here. */
const MAX_DESCRIPTION_CHARS = 1000;
/** A server whose tool list can change is listed again at most this often (calls of unlisted tools ask). */
const RELIST_INTERVAL_MS = 1000;

export interface ToolDescription {
  name: string;
  /** The tool's Python identifier within its server. */
  alias: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  /** The tool's declared result schema (`structuredContent`), when it has one: TypeScript types its result. */
  outputSchema?: Record<string, unknown>;
}

export interface ServerDescription {
  name: string;
  alias: string;
  /** The config entry's `description`, else the first line of the server's instructions or its name. */
  description?: string;
  /** A stdio server's configured working directory, scrubbed of the server's secrets. */
  cwd?: string;
  tools: ToolDescription[];
}

/** A tool's MCP annotations (hints about its behaviour, as its server declares them). */
export interface ToolAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

// Kept beside a description rather than in it: descriptions travel to sandboxes as they are, and the
// annotations are for the host's policy (engine/policy), which shows programs its own summary.
const annotationsByDescription = new WeakMap<ServerDescription, ReadonlyMap<string, ToolAnnotations>>();

/** The annotations of a described server's tools, by tool name (tools without any are absent). */
export function toolAnnotations(description: ServerDescription): ReadonlyMap<string, ToolAnnotations> {
  return annotationsByDescription.get(description) ?? new Map();
}

/** Options for {@link UpstreamPool.callTool}. */
export interface CallToolOptions {
  /**
   * Return the `CallToolResult` as the server sent it (`isError` defaulted to false, as the spec
   * does) instead of the unwrapped value. An `isError` result still throws. Default false.
   */
  raw?: boolean;
  /** A traced call: its context goes to the server, and the connection it went out on is written back. */
  trace?: OutgoingCallTrace;
}

/**
 * A configured server's connection now: open, opening, not open after a failure (the last attempt
 * failed, or the session closed under the bridge), or not open and not needed (never used, or
 * closed after its idle time). The next use of a server in any state but `connected` connects.
 */
export type UpstreamState = 'connected' | 'connecting' | 'failed' | 'idle';
export const UPSTREAM_STATES: readonly UpstreamState[] = ['connected', 'connecting', 'failed', 'idle'];

/**
 * What failed, counted per server: connecting, listing its tools, a call that timed out, whose
 * connection closed, whose result was over the size limit, that the tool reported (`isError`), or
 * that failed otherwise (an error the server answered). Calls the run cancelled are not counted.
 */
export type UpstreamErrorKind =
  | 'connect'
  | 'list_tools'
  | 'timeout'
  | 'closed'
  | 'too_large'
  | 'tool_error'
  | 'call_failed';
export const UPSTREAM_ERROR_KINDS: readonly UpstreamErrorKind[] = [
  'connect',
  'list_tools',
  'timeout',
  'closed',
  'too_large',
  'tool_error',
  'call_failed',
];

/** One configured server's connection state and failures so far (for metrics and the console). */
export interface UpstreamHealth {
  server: string;
  state: UpstreamState;
  errors: Readonly<Record<UpstreamErrorKind, number>>;
}

export interface UpstreamPoolOptions {
  servers: UpstreamServerConfig[];
  clientVersion: string;
  /** Close a session unused for this long. */
  idleTimeoutMs: number;
  /** Longest wait for one tool call. */
  callTimeoutMs: number;
  /** Longest wait to connect and list tools. */
  connectTimeoutMs: number;
  logger: Logger;
}

interface Entry {
  config: UpstreamServerConfig;
  alias: string;
  /** Scrubs the server's secrets from every text built about it (see `fail`). */
  redact: Redactor;
  session: Promise<UpstreamConnection> | undefined;
  /** The session once open: every call after the first takes it without awaiting (the hot path). */
  open: UpstreamConnection | undefined;
  description: { connection: UpstreamConnection; value: ServerDescription; listedAt: number } | undefined;
  inFlight: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** The last failure to connect logged at warn: the same one again is not (a program may retry in a loop). */
  lastFailure: string | undefined;
  /** A session is being opened now. */
  connecting: boolean;
  errors: Record<UpstreamErrorKind, number>;
}

export class UpstreamPool {
  readonly #options: UpstreamPoolOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #lifetime = new AbortController();

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
    const aliases = assignAliases(
      options.servers.map((server) => server.name),
      { reserved: MCP_OWN_KEYS },
    );
    for (const config of options.servers) {
      this.#entries.set(config.name, {
        config,
        alias: aliases.get(config.name) ?? config.name,
        redact: createRedactor(config.secrets ?? serverSecrets(config)),
        session: undefined,
        open: undefined,
        description: undefined,
        inFlight: 0,
        idleTimer: undefined,
        lastFailure: undefined,
        connecting: false,
        errors: Object.fromEntries(UPSTREAM_ERROR_KINDS.map((kind) => [kind, 0])) as Record<
          UpstreamErrorKind,
          number
        >,
      });
    }
  }

  serverNames(): string[] {
    return [...this.#entries.keys()];
  }

  aliasOf(name: string): string | undefined {
    return this.#entries.get(name)?.alias;
  }

  /** Scrubs `name`'s secrets from a text (approval prompts, audit values); unknown names: unchanged. */
  redactorFor(name: string): Redactor {
    return this.#entries.get(name)?.redact ?? ((text) => text);
  }

  /** Every configured server's connection state and failures counted so far, in discovery order. */
  health(): UpstreamHealth[] {
    return [...this.#entries.values()].map((entry) => ({
      server: entry.config.name,
      state: stateOf(entry),
      errors: { ...entry.errors },
    }));
  }

  /** Whether a session to `name` is open right now (for tests and `servers --check`). */
  isConnected(name: string): boolean {
    return this.#entries.get(name)?.session !== undefined;
  }

  /** Connects if needed and describes the server's tools; cached for the life of the session. */
  async describe(name: string, signal: AbortSignal): Promise<ServerDescription> {
    const entry = this.#entry(name);
    return this.#using(entry, async () => {
      const connection = await this.#session(entry, signal);
      if (entry.description?.connection === connection) return entry.description.value;
      let tools: Awaited<ReturnType<UpstreamConnection['tools']>>;
      try {
        tools = await abortable(connection.tools(), signal);
      } catch (error) {
        if (signal.aborted) throw error;
        entry.errors.list_tools++;
        throw fail(
          entry,
          'UPSTREAM_UNAVAILABLE',
          `MCP server '${name}' did not list its tools: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
      const aliases = assignAliases(tools.map((tool) => tool.name));
      const description = entry.config.description?.trim() || connection.description;
      const cwd = entry.config.transport === 'stdio' ? entry.config.cwd : undefined;
      const value: ServerDescription = {
        name,
        alias: entry.alias,
        ...(description ? { description: entry.redact(description.slice(0, MAX_DESCRIPTION_CHARS)) } : {}),
        ...(cwd ? { cwd: entry.redact(cwd) } : {}),
        tools: tools.map((tool) => ({
          name: tool.name,
          alias: aliases.get(tool.name) ?? tool.name,
          ...(tool.description ? { description: tool.description } : {}),
          inputSchema: tool.inputSchema as Record<string, unknown>,
          ...(tool.outputSchema ? { outputSchema: tool.outputSchema as Record<string, unknown> } : {}),
        })),
      };
      const annotations = new Map<string, ToolAnnotations>();
      for (const tool of tools) {
        const hints = tool.annotations;
        if (!hints) continue;
        const kept: ToolAnnotations = {};
        for (const key of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
          if (typeof hints[key] === 'boolean') kept[key] = hints[key];
        }
        annotations.set(tool.name, kept);
      }
      annotationsByDescription.set(value, annotations);
      entry.description = { connection, value, listedAt: performance.now() };
      return value;
    });
  }

  /** The description of `name` as last listed, while that session is open; no I/O. */
  describedNow(name: string): ServerDescription | undefined {
    const entry = this.#entries.get(name);
    const description = entry?.description;
    if (!description || entry.open !== description.connection || !description.connection.isOpen) {
      return undefined;
    }
    return description.value;
  }

  /**
   * Describes the server with its tools listed again, when it announced that its list can change
   * (`tools.listChanged`) and was not listed within the last second; otherwise as {@link describe}.
   */
  async relist(name: string, signal: AbortSignal): Promise<ServerDescription> {
    const entry = this.#entry(name);
    const current = entry.description;
    if (current?.connection.toolsCanChange && performance.now() - current.listedAt >= RELIST_INTERVAL_MS) {
      current.connection.forgetTools();
      entry.description = undefined;
    }
    return this.describe(name, signal);
  }

  /**
   * Calls one tool and returns its unwrapped result; throws `BridgeError` naming server and tool.
   * A successful result is returned as the server sent it, not scrubbed of the server's secrets: it
   * is the data the program asked for (a filesystem server configured with `${HOME}` would otherwise
   * lose every path), and a server that puts its secrets in results has already chosen to share them.
   */
  async callTool(
    server: string,
    tool: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    options: CallToolOptions = {},
  ): Promise<unknown> {
    const entry = this.#entry(server);
    return this.#using(entry, async () => {
      const connection = await this.#session(entry, signal);
      const { trace } = options;
      if (trace) trace.peer = connection.peer;
      let result: Awaited<ReturnType<UpstreamConnection['callTool']>>;
      try {
        result = await connection.callTool(tool, args, this.#options.callTimeoutMs, signal, trace?.carrier);
      } catch (error) {
        throw this.#explainCallFailure(error, entry, connection, tool, signal);
      }
      if (result.isError) {
        entry.errors.tool_error++;
        throw fail(entry, 'TOOL_ERROR', resultText(result) || `${server}.${tool} reported an error`, {
          tool,
        });
      }
      return options.raw ? { ...result, isError: result.isError ?? false } : unwrapToolResult(result);
    });
  }

  /** Closes every session. Idempotent. */
  async close(): Promise<void> {
    this.#lifetime.abort();
    await Promise.all([...this.#entries.values()].map((entry) => this.#closeSession(entry)));
  }

  /** Every configured server with its Python alias (and its config `description`), in discovery order. */
  catalog(): Array<{ name: string; alias: string; description?: string }> {
    return [...this.#entries.values()].map((entry) => {
      const description = entry.config.description?.trim();
      return {
        name: entry.config.name,
        alias: entry.alias,
        ...(description ? { description: entry.redact(description.slice(0, MAX_DESCRIPTION_CHARS)) } : {}),
      };
    });
  }

  /** Throws `BridgeError('UNKNOWN_SERVER')` naming every unknown name and the configured ones. */
  assertKnown(names: string[]): void {
    const unknown = names.filter((name) => !this.#entries.has(name));
    if (unknown.length > 0) throw unknownServerError(unknown, this.serverNames());
  }

  #entry(name: string): Entry {
    this.assertKnown([name]);
    return this.#entries.get(name) as Entry;
  }

  async #using<T>(entry: Entry, work: () => Promise<T>): Promise<T> {
    clearTimeout(entry.idleTimer);
    entry.inFlight++;
    try {
      return await work();
    } finally {
      entry.inFlight--;
      if (entry.inFlight === 0 && entry.session) {
        entry.idleTimer = setTimeout(() => {
          this.#options.logger.debug('closing idle upstream session', { server: entry.config.name });
          void this.#closeSession(entry);
        }, this.#options.idleTimeoutMs);
        entry.idleTimer.unref();
      }
    }
  }

  /** The open session, or a new one when there is none or the last one died (the reconnect). */
  async #session(entry: Entry, signal: AbortSignal): Promise<UpstreamConnection> {
    if (this.#lifetime.signal.aborted) throw shuttingDownError();
    if (entry.open?.isOpen) return entry.open;
    if (entry.session) {
      const existing = await abortable(entry.session, signal).catch(() => undefined);
      if (existing?.isOpen) return existing;
      if (signal.aborted) throw signal.reason;
      if (existing)
        this.#options.logger.info('upstream session ended; reconnecting', { server: entry.config.name });
    }
    const { config } = entry;
    const { logger } = this.#options;
    const startedAt = performance.now();
    // The session outlives the run that opened it, so it is bound to the pool's lifetime, not the run.
    const session = UpstreamConnection.open(
      {
        config,
        clientVersion: this.#options.clientVersion,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        logger,
        redact: entry.redact,
      },
      this.#lifetime.signal,
    );
    entry.session = session;
    entry.connecting = true;
    session.then(
      (connection) => {
        if (entry.session === session) {
          entry.open = connection;
          entry.connecting = false;
        }
        entry.lastFailure = undefined;
        logger.info('connected to upstream', {
          server: config.name,
          ms: Math.round(performance.now() - startedAt),
        });
      },
      (error: unknown) => {
        if (entry.session === session) {
          entry.session = undefined;
          entry.connecting = false;
        }
        if (this.#lifetime.signal.aborted) return;
        entry.errors.connect++;
        // Told to the user (forwarded to the MCP client as a log message), not only to the run.
        const { message } = connectFailure(entry, error);
        if (message === entry.lastFailure) return;
        entry.lastFailure = message;
        logger.warn(message, { server: config.name });
      },
    );
    try {
      return await abortable(session, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      throw connectFailure(entry, error);
    }
  }

  #explainCallFailure(
    error: unknown,
    entry: Entry,
    connection: UpstreamConnection,
    tool: string,
    signal: AbortSignal,
  ): unknown {
    if (signal.aborted) return error;
    const name = entry.config.name;
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
      entry.errors.timeout++;
      return fail(
        entry,
        'UPSTREAM_TIMEOUT',
        `MCP server '${name}' did not answer ${tool} within ${this.#options.callTimeoutMs / 1000} s`,
        { cause: error, tool },
      );
    }
    if (error instanceof McpError && error.code === MESSAGE_TOO_LARGE_CODE && isTooLarge(error.data)) {
      const { bytes, limitBytes } = error.data;
      entry.errors.too_large++;
      return fail(
        entry,
        'TOOL_ERROR',
        `${name}.${tool} failed: its result was ${bytes} bytes, over the bridge's limit of ${limitBytes} bytes ` +
          'for one upstream message. Ask the tool for less (a narrower query, a smaller page or limit).',
        { cause: error, tool },
      );
    }
    if (!connection.isOpen) {
      const stderr = connection.stderrTail
        ? ` Its last stderr: ${connection.stderrTail.split('\n').slice(-3).join(' | ')}`
        : '';
      entry.errors.closed++;
      return fail(
        entry,
        'UPSTREAM_UNAVAILABLE',
        `MCP server '${name}' closed the connection during ${tool} (did it crash?); the next call reconnects.${stderr}`,
        { cause: error, tool },
      );
    }
    entry.errors.call_failed++;
    return fail(entry, 'TOOL_ERROR', `${name}.${tool} failed: ${upstreamErrorMessage(error)}`, {
      cause: error,
      tool,
    });
  }

  async #closeSession(entry: Entry): Promise<void> {
    clearTimeout(entry.idleTimer);
    const session = entry.session;
    entry.session = undefined;
    entry.connecting = false;
    entry.open = undefined;
    entry.description = undefined;
    const connection = await session?.catch(() => undefined);
    await connection?.close();
  }
}

function stateOf(entry: Entry): UpstreamState {
  if (entry.open?.isOpen) return 'connected';
  if (entry.connecting) return 'connecting';
  // A session that closed by itself (not for being idle: that forgets it) failed, as did the last attempt.
  if (entry.lastFailure !== undefined || entry.open) return 'failed';
  return 'idle';
}

/**
 * Every error about a server goes through here, because its message reaches the sandbox (`ToolError`,
 * `describe_server`, `search_tool_docs`) and the client (`run_python`'s error): the message is scrubbed
 * of the server's secrets. The `cause` keeps the original for the bridge's own debugging; it is never
 * sent on (only messages cross to the sandbox and the client).
 */
function fail(
  entry: Entry,
  code: BridgeErrorCode,
  message: string,
  options: { cause?: unknown; tool?: string } = {},
): BridgeError {
  const details = { server: entry.config.name, ...(options.tool ? { tool: options.tool } : {}) };
  return new BridgeError(code, entry.redact(message), { cause: options.cause, details });
}

/** Why a session to `entry`'s server did not open (the server exited, its cwd is missing, …). */
function connectFailure(entry: Entry, error: unknown): BridgeError {
  const { config } = entry;
  return fail(
    entry,
    'UPSTREAM_UNAVAILABLE',
    `Could not connect to MCP server '${config.name}' (${describeTarget(config)}): ${isOutOfFileDescriptors(error) ? describeOutOfFileDescriptors(error) : errorMessage(error)}`,
    { cause: error },
  );
}

/** Whether an error's `data` is what the stdio transport sends for an oversize response. */
function isTooLarge(data: unknown): data is MessageTooLargeData {
  const candidate = data as Partial<MessageTooLargeData> | undefined;
  return typeof candidate?.bytes === 'number' && typeof candidate.limitBytes === 'number';
}

/** The command line, or the URL without userinfo, query or fragment (where tokens tend to be written). */
function describeTarget(config: UpstreamServerConfig): string {
  if (config.transport === 'stdio') return `command: ${[config.command, ...config.args].join(' ')}`;
  const url = new URL(config.url);
  return `${config.transport} ${url.origin}${url.pathname}`;
}
