/**
 * One live MCP client session to one upstream server: stdio (a child process), Streamable HTTP, or SSE
 * (also the fallback when a server does not speak Streamable HTTP). A session that closes — the server
 * died, the network dropped — is not reused; the pool opens a new one on the next use.
 */
import { addAbortListener } from 'node:events';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { TraceCarrier, TracePeer } from '../shared/trace-context.js';
import type { UpstreamServerConfig } from './config/types.js';
import type { Redactor } from './redact.js';
import { StdioUpstreamTransport } from './stdio-transport.js';
import { withTraceHeaders } from './trace-headers.js';

const STDERR_TAIL_CHARS = 2000;
/** Lines of a server's stderr an error message quotes. */
const STDERR_LINES_IN_ERRORS = 3;

export interface ConnectionOptions {
  config: UpstreamServerConfig;
  clientVersion: string;
  connectTimeoutMs: number;
  logger: Logger;
  /** Scrubs the server's secrets from its stderr and from what is logged about it. */
  redact: Redactor;
}

export class UpstreamConnection {
  readonly #options: ConnectionOptions;
  readonly #client: Client;
  #transport: Transport | undefined;
  #closed = false;
  #stderrTail = '';
  #tools: Promise<Tool[]> | undefined;
  /** The version the handshake settled on (the client tells the transport). */
  #protocolVersion: string | undefined;
  #peer: TracePeer | undefined;
  /**
   * This session's own signal, aborted with the pool's lifetime. The SDK adds a listener to the signal
   * of every request and never removes it: on the pool's long-lived signal those listeners kept each
   * dead session (client, transport, process) alive; on this one they go with the session.
   */
  readonly #scope = new AbortController();
  #unlink: Disposable | undefined;

  private constructor(options: ConnectionOptions, client: Client) {
    this.#options = options;
    this.#client = client;
  }

  /**
   * Opens a session; rejects with a message naming the server and what went wrong. When it fails or
   * `lifetime` aborts (the bridge is shutting down) it settles only once the server's process group is
   * gone, so a server still starting is never left running.
   */
  static async open(options: ConnectionOptions, lifetime: AbortSignal): Promise<UpstreamConnection> {
    // Loaded on first use: a bridge whose runs use no server never pays for the client modules, and
    // the first run does not wait for them at start-up.
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const client = new Client(
      { name: 'codemode-bridge', version: options.clientVersion },
      { capabilities: {} },
    );
    const connection = new UpstreamConnection(options, client);
    connection.#unlink = addAbortListener(lifetime, () => connection.#scope.abort(lifetime.reason));
    if (lifetime.aborted) connection.#scope.abort(lifetime.reason);
    const signal = connection.#scope.signal;
    const { config, logger, redact } = options;
    client.onclose = () => {
      connection.#closed = true;
      connection.#unlink?.[Symbol.dispose]();
      logger.debug('upstream session closed', { server: config.name });
    };
    client.onerror = (error) =>
      logger.debug('upstream transport error', { server: config.name, error: redact(errorMessage(error)) });
    const requestOptions = { timeout: options.connectTimeoutMs, signal };
    try {
      if (config.transport === 'stdio') {
        await client.connect(connection.#use(connection.#stdioTransport()), requestOptions);
      } else if (config.transport === 'sse') {
        await client.connect(connection.#use(await sseTransport(config.url, config.headers)), requestOptions);
      } else {
        const { StreamableHTTPClientTransport } = await import(
          '@modelcontextprotocol/sdk/client/streamableHttp.js'
        );
        try {
          await client.connect(
            connection.#use(
              new StreamableHTTPClientTransport(new URL(config.url), {
                requestInit: { headers: config.headers },
                fetch: withTraceHeaders(),
              }),
            ),
            requestOptions,
          );
        } catch (error) {
          if (signal.aborted) throw error;
          // Servers that predate Streamable HTTP speak only SSE at the same URL.
          logger.debug('streamable HTTP failed; trying SSE', {
            server: config.name,
            error: redact(errorMessage(error)),
          });
          await client.close();
          await client.connect(
            connection.#use(await sseTransport(config.url, config.headers)),
            requestOptions,
          );
        }
      }
    } catch (error) {
      const explained = signal.aborted ? error : connection.#explainOpenFailure(error);
      await connection.#abandon();
      throw explained;
    }
    return connection;
  }

  /** The connection as a traced call's client span describes it (OpenTelemetry's MCP conventions). */
  get peer(): TracePeer {
    this.#peer ??= tracePeer(this.#options.config, this.#protocolVersion, this.#transport);
    return this.#peer;
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  /** The last lines the server wrote to stderr (stdio servers), for error messages. */
  get stderrTail(): string {
    return this.#stderrTail.trim();
  }

  /** One line about the server, from its instructions or its name and version. */
  get description(): string | undefined {
    const instructions = this.#client.getInstructions()?.trim().split('\n')[0];
    if (instructions) return instructions.slice(0, 200);
    const info = this.#client.getServerVersion();
    return info ? `${info.title ?? info.name} ${info.version}`.trim() : undefined;
  }

  /** Whether the server announced that its tool list can change (`capabilities.tools.listChanged`). */
  get toolsCanChange(): boolean {
    return this.#client.getServerCapabilities()?.tools?.listChanged === true;
  }

  /** Forgets the tools listed so far: the next {@link tools} lists them again. */
  forgetTools(): void {
    this.#tools = undefined;
  }

  /** Every tool, fetched once per session (all pages) unless forgotten. */
  tools(): Promise<Tool[]> {
    const signal = this.#scope.signal;
    this.#tools ??= (async () => {
      const tools: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.#client.listTools(cursor ? { cursor } : {}, {
          timeout: this.#options.connectTimeoutMs,
          signal,
        });
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      return tools;
    })();
    this.#tools.catch(() => {
      this.#tools = undefined;
    });
    return this.#tools;
  }

  /** Calls a tool; `trace`, a traced call's context, goes in `_meta` (and, over HTTP, in headers). */
  callTool(
    name: string,
    args: Record<string, unknown>,
    timeoutMs: number,
    signal: AbortSignal,
    trace?: TraceCarrier,
  ): Promise<CallToolResult> {
    return this.#client.callTool(
      trace ? { name, arguments: args, _meta: { ...trace } } : { name, arguments: args },
      undefined,
      { timeout: timeoutMs, signal },
    ) as Promise<CallToolResult>;
  }

  /** Ends the session; for a stdio server, once its process group is gone. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unlink?.[Symbol.dispose]();
    try {
      await this.#client.close();
      // The client forgets its transport once that reports closed; close it again in case it had not.
      await this.#transport?.close();
    } catch (error) {
      this.#options.logger.debug('closing upstream session failed', {
        server: this.#options.config.name,
        error: this.#options.redact(errorMessage(error)),
      });
    }
  }

  /** Ends a session that never opened, without waiting for a stdio server to leave on its own. */
  async #abandon(): Promise<void> {
    if (this.#transport instanceof StdioUpstreamTransport) await this.#transport.kill();
    await this.close();
  }

  /**
   * A stdio server that left before the handshake shows as "Connection closed": say how it ended
   * (its exit code or signal) and what it last wrote to stderr, where the reason usually is.
   */
  #explainOpenFailure(error: unknown): unknown {
    const transport = this.#transport;
    if (!(transport instanceof StdioUpstreamTransport)) return error;
    const tail = this.stderrTail.split('\n').slice(-STDERR_LINES_IN_ERRORS).join(' | ');
    const stderr = tail ? `; its last stderr: ${tail}` : '';
    const exit = transport.ownExit;
    if (!exit) return stderr ? new Error(`${errorMessage(error)}${stderr}`, { cause: error }) : error;
    const how = exit.signal ? `was ended by ${exit.signal}` : `exited with code ${exit.code}`;
    return new Error(`the server ${how} before completing the MCP handshake${stderr}`, { cause: error });
  }

  /** Records the transport about to be connected; a close reported before it was of an earlier one. */
  #use(transport: Transport): Transport {
    this.#transport = transport;
    this.#closed = false;
    this.#peer = undefined;
    // The client hands the negotiated version to the transport (HTTP sends it in a header); noted here
    // for every kind of transport, since not every one says it again.
    const setVersion = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version) => {
      this.#protocolVersion = version;
      setVersion?.(version);
    };
    return transport;
  }

  #stdioTransport(): StdioUpstreamTransport {
    const { config, logger, redact } = this.#options;
    if (config.transport !== 'stdio') throw new Error('not a stdio server');
    return new StdioUpstreamTransport({
      command: config.command,
      args: config.args,
      // Added to the SDK's allow-listed environment; the bridge's own secrets stay home.
      env: config.env,
      ...(config.cwd ? { cwd: config.cwd } : {}),
      onStderrLine: (raw) => {
        // Scrubbed as it arrives: the tail ends up in error messages the sandbox reads.
        const line = redact(raw);
        this.#stderrTail = `${this.#stderrTail}${line}\n`.slice(-STDERR_TAIL_CHARS);
        logger.info('upstream stderr', { server: config.name, line });
      },
      onOversize: ({ bytes, limitBytes, id, answered }) => {
        if (answered) {
          logger.info('upstream response over the size limit; failed that request', {
            server: config.name,
            id,
            bytes,
            limitBytes,
          });
        } else {
          // Its request cannot be told, so it is left to time out (MCP_BRIDGE_CALL_TIMEOUT).
          logger.warn('upstream message over the size limit dropped; its request will time out', {
            server: config.name,
            bytes,
            limitBytes,
          });
        }
      },
    });
  }
}

/** Transport, address and protocol of a connected session; an HTTP session's id once the server gave one. */
function tracePeer(
  config: UpstreamServerConfig,
  protocolVersion: string | undefined,
  transport: Transport | undefined,
): TracePeer {
  const version = protocolVersion ? { protocolVersion } : {};
  if (config.transport === 'stdio') return { transport: 'pipe', ...version };
  const url = new URL(config.url);
  const sessionId = transport?.sessionId;
  return {
    transport: 'tcp',
    address: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
    ...version,
    ...(sessionId ? { sessionId } : {}),
  };
}

async function sseTransport(url: string, headers: Record<string, string>): Promise<Transport> {
  const { SSEClientTransport } = await import('@modelcontextprotocol/sdk/client/sse.js');
  return new SSEClientTransport(new URL(url), {
    requestInit: { headers },
    fetch: withTraceHeaders(),
    eventSourceInit: {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers ?? {}), ...headers } }),
    },
  });
}
