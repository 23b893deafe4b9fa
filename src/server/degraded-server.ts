/** Degraded serving: the server `serve` offers when the bridge cannot start, so the problem reaches the user. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { RUN_PYTHON_TOOL, runPythonInput } from './run-python-tool.js';

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
