/**
 * One live MCP client session to one upstream server: stdio (a child process), Streamable HTTP, or SSE
 * (also the fallback when a server does not speak Streamable HTTP). A session that closes — the server
 * died, the network dropped — is not reused; the pool opens a new one on the next use.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { UpstreamServerConfig } from './config/types.js';

const STDERR_TAIL_CHARS = 2000;

export interface ConnectionOptions {
  config: UpstreamServerConfig;
  clientVersion: string;
  connectTimeoutMs: number;
  logger: Logger;
}

export class UpstreamConnection {
  readonly #options: ConnectionOptions;
  readonly #client: Client;
  #closed = false;
  #stderrTail = '';
  #tools: Promise<Tool[]> | undefined;

  private constructor(options: ConnectionOptions, client: Client) {
    this.#options = options;
    this.#client = client;
  }

  /** Opens a session; rejects with a message naming the server and what went wrong. */
  static async open(options: ConnectionOptions, signal: AbortSignal): Promise<UpstreamConnection> {
    const client = new Client(
      { name: 'codemode-bridge', version: options.clientVersion },
      { capabilities: {} },
    );
    const connection = new UpstreamConnection(options, client);
    client.onclose = () => {
      connection.#closed = true;
      options.logger.debug('upstream session closed', { server: options.config.name });
    };
    client.onerror = (error) =>
      options.logger.debug('upstream transport error', { server: options.config.name, error });
    const requestOptions = { timeout: options.connectTimeoutMs, signal };
    const { config } = options;
    if (config.transport === 'stdio') {
      await client.connect(connection.#stdioTransport(), requestOptions);
    } else if (config.transport === 'sse') {
      await client.connect(sseTransport(config.url, config.headers), requestOptions);
    } else {
      try {
        await client.connect(
          new StreamableHTTPClientTransport(new URL(config.url), {
            requestInit: { headers: config.headers },
          }),
          requestOptions,
        );
      } catch (error) {
        if (signal.aborted) throw error;
        // Servers that predate Streamable HTTP speak only SSE at the same URL.
        options.logger.debug('streamable HTTP failed; trying SSE', { server: config.name, error });
        await client.connect(sseTransport(config.url, config.headers), requestOptions);
      }
    }
    return connection;
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

  /** Every tool, fetched once per session (all pages). */
  tools(signal: AbortSignal): Promise<Tool[]> {
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

  callTool(
    name: string,
    args: Record<string, unknown>,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<CallToolResult> {
    return this.#client.callTool({ name, arguments: args }, undefined, {
      timeout: timeoutMs,
      signal,
    }) as Promise<CallToolResult>;
  }

  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.#client.close();
    } catch (error) {
      this.#options.logger.debug('closing upstream session failed', {
        server: this.#options.config.name,
        error: errorMessage(error),
      });
    }
  }

  #stdioTransport(): Transport {
    const { config, logger } = this.#options;
    if (config.transport !== 'stdio') throw new Error('not a stdio server');
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      // The SDK's allow-listed environment plus the entry's own `env`; the bridge's secrets stay home.
      env: { ...getDefaultEnvironment(), ...config.env },
      ...(config.cwd ? { cwd: config.cwd } : {}),
      stderr: 'pipe',
    });
    let partial = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        this.#stderrTail = `${this.#stderrTail}${line}\n`.slice(-STDERR_TAIL_CHARS);
        logger.info('upstream stderr', { server: config.name, line });
      }
    });
    return transport;
  }
}

function sseTransport(url: string, headers: Record<string, string>): Transport {
  return new SSEClientTransport(new URL(url), {
    requestInit: { headers },
    eventSourceInit: {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers ?? {}), ...headers } }),
    },
  });
}
