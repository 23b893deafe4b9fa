/**
 * Local failures of the bridge. Wire errors are the SDK's `McpError` (thrown as `ProtocolError`);
 * everything else is a `BridgeError`.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';

export type BridgeErrorCode =
  | 'CONFIG_INVALID'
  | 'RUNTIME_UNAVAILABLE'
  | 'IMAGE_MISSING'
  | 'SANDBOX_START_FAILED'
  | 'UNKNOWN_SERVER'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'TOOL_ERROR'
  | 'SHUTTING_DOWN'
  /** A new named session would exceed MCP_BRIDGE_MAX_SESSIONS. */
  | 'SESSION_LIMIT'
  /** The policy refuses the call (a deny rule, read-only mode); reaches Python as `mcp.PolicyError`. */
  | 'POLICY_DENIED'
  /** An `ask` rule's approval was declined, cancelled, timed out or could not be asked. */
  | 'POLICY_DECLINED'
  /** A per-run budget (tool calls, calls per tool, result bytes) is spent. */
  | 'POLICY_BUDGET'
  /** A server's rate limit is reached. */
  | 'POLICY_RATE_LIMIT'
  /** A placeholder passed to a `restore_to` tool is not one the run (or its session) received. */
  | 'POLICY_PLACEHOLDER'
  /** The server never listed a tool of that name (with or without a policy). */
  | 'UNKNOWN_TOOL'
  /** EMFILE or ENFILE: something needed a file descriptor and none was left (shared/fd-exhaustion.ts). */
  | 'OUT_OF_FILE_DESCRIPTORS';

export class BridgeError extends Error {
  override readonly name = 'BridgeError';
  readonly code: BridgeErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: BridgeErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }
}

/** Work refused or ended because the bridge is closing (one message wherever it happens). */
export function shuttingDownError(cause?: unknown): BridgeError {
  return new BridgeError(
    'SHUTTING_DOWN',
    'The bridge is shutting down, so this run was not completed; send it again once the client has restarted the bridge.',
    cause === undefined ? {} : { cause },
  );
}

/** Names that are not configured servers, with the ones that are (one wording for CLI, MCP and runs). */
export function unknownServerError(unknown: readonly string[], known: readonly string[]): BridgeError {
  const configured =
    known.length > 0
      ? `Configured servers: ${known.join(', ')}.`
      : 'No MCP servers are configured; see `codemode-bridge servers` for where they are read from.';
  return new BridgeError(
    'UNKNOWN_SERVER',
    `Unknown MCP server${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `'${name}'`).join(', ')}. ${configured}`,
    { details: { unknown: [...unknown], known: [...known] } },
  );
}

/** A failed zod parse as one line: each problem with the path it is at (`servers.0: …`), `; ` between. */
export function describeIssues(error: {
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>;
}): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ` : '') + issue.message)
    .join('; ');
}

/**
 * A JSON-RPC error for an MCP request handler to throw. The SDK's `McpError` writes `MCP error <code>: `
 * into its own message and sends that message on the wire, where the SDK's client writes the prefix
 * again, so clients would read it twice. This one sends the bare text; it is still an `McpError`, which
 * the SDK's handlers pass through as a protocol error.
 */
export class ProtocolError extends McpError {
  constructor(code: number, message: string, data?: unknown) {
    super(code, message, data);
    this.message = message;
  }
}

/**
 * An upstream's error text with the SDK's `MCP error <code>: ` prefix at most once: a server built on
 * the SDK sends it already prefixed, and our client adds it again.
 */
export function upstreamErrorMessage(error: unknown): string {
  return errorMessage(error).replace(/^(MCP error -?\d+: )(?:MCP error -?\d+: )+/, '$1');
}

/** The message of anything thrown, for logs and user-facing text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
