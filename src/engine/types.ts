/** The engine's contract with the MCP surface and the CLI: one run in, one outcome out (types only). */
import type { CatalogEntry, SandboxKind, ServerGrant, ToolCallRequest } from '../sandbox/types.js';
import type { OutgoingCallTrace, TraceContext } from '../shared/trace-context.js';
import type { Principal } from './principal.js';
import type { SessionReport } from './sessions.js';

/** The shortest timeout a run may ask for: below it not even a warm sandbox can answer. */
export const MIN_RUN_TIMEOUT_MS = 100;

/** The owner of runs that name none and have no principal: a single-client caller (tests, `run`). */
export const DEFAULT_OWNER = 'stdio';

export type RunStatus = 'ok' | 'error' | 'timeout' | 'cancelled' | 'killed' | 'protocol_error';

/** The languages a program may be written in (MCP_BRIDGE_LANGUAGES enables them). */
export type Language = 'python' | 'typescript';

export interface RunRequest {
  code: string;
  /** What `code` is written in. Default `python`. */
  language?: Language;
  /** Upstream server names granted to this run. */
  servers?: string[];
  /** Requested timeout; clamped to the engine's maximum. Default: the engine's default timeout. */
  timeoutMs?: number;
  /**
   * Run in this named session's sandbox (kept between runs: globals, imports, files survive).
   * Default: a fresh sandbox, discarded after the run.
   */
  session?: string;
}

/** How a run ended. A Python exception, a timeout or a cancellation is an outcome, never a thrown error. */
export interface RunOutcome {
  status: RunStatus;
  stdout: string;
  stderr: string;
  /** One line: `ZeroDivisionError: division by zero`, `Timed out after 5 s …`. */
  error?: string;
  /** The user-facing traceback, when the program raised. */
  traceback?: string;
  durationMs: number;
  /** Characters elided from each stream by the output cap, when any were. */
  truncated?: { stdout?: number; stderr?: number };
  /**
   * Stdout the cap elided is kept on the host under this handle (the first `keptChars` of
   * `totalChars`): `await mcp.runtime.read_output(handle, offset, length)` pages through it.
   */
  output?: { handle: string; keptChars: number; totalChars: number };
  /** Files the program returned with `mcp.runtime.attach` (base64), for the client as image/resource content. */
  attachments?: Array<{ mimeType: string; data: string; name?: string }>;
  /** The session the run ran in, when it named one. */
  session?: SessionReport;
  /** Which sandbox ran the program; absent when none did (refused before it started). */
  sandbox?: SandboxKind;
}

export interface RunOptions {
  /** Aborts the run (client cancellation); the sandbox is killed at once. */
  signal?: AbortSignal;
  /** Asks the user about a call an `ask` policy rule matches. Default: nobody can be asked. */
  approve?: Approver;
  /** The MCP session the run came in on, when the transport has one (for the audit log). */
  session?: string;
  /** Who the run is for. Default: the local user (stdio's one principal). */
  principal?: Principal;
  /**
   * The client connection the run came from: named sessions and saved values belong to it, so two
   * clients never share them. Default: one shared owner (one client per bridge, as over stdio).
   */
  owner?: string;
  /** Told each piece of output as it arrives (a run that yields returns it in pieces). Default: none. */
  onOutput?: (stream: 'stdout' | 'stderr', data: string) => void;
  /** The MCP request the run came from, for telemetry (read only by observers). Default: none. */
  origin?: RunOrigin;
}

/** The MCP request a run came from, as OpenTelemetry's MCP conventions describe the server's span. */
export interface RunOrigin {
  /** The caller's trace context (`_meta`, else the HTTP headers): the run's span is its child. */
  parent?: TraceContext;
  /** The HTTP request's context when `_meta` carried another: the run's span links to it. */
  link?: TraceContext;
  /** The JSON-RPC id of the `tools/call` request. */
  requestId?: string | number;
  /** `pipe` over stdio, `tcp` over HTTP. */
  transport?: 'pipe' | 'tcp';
  /** The MCP protocol version the client speaks. */
  protocolVersion?: string;
}

/** What the user is asked to approve: one tool call, its arguments redacted and shortened for display. */
export interface ApprovalRequest {
  runId: string;
  server: string;
  tool: string;
  /** The policy rule that asks, and why it matched. */
  rule: string;
  reason: string;
  /**
   * The arguments as the program sent them, one per line by name (engine/policy/approval-text.ts):
   * secrets redacted, paths and URLs in full, long values cut visibly, hidden characters escaped.
   */
  arguments: string;
}

/**
 * The user's answer: this call, every call to this tool for the rest of the run, no, dismissed, or
 * `unsupported` when the client cannot be asked (no elicitation).
 */
export type ApprovalAnswer = 'accept' | 'accept-run' | 'decline' | 'cancel' | 'unsupported';

/** Asks the user; aborted by `signal` when the run ends first. */
export type Approver = (request: ApprovalRequest, signal: AbortSignal) => Promise<ApprovalAnswer>;

/** Which run a call belongs to: one object per run, the same for all its calls (a WeakMap key). */
export interface CallContext {
  readonly runId: string;
  /** Who the run is for (the engine always says; absent only in tests of a single component). */
  readonly principal?: Principal;
  readonly session?: string;
  readonly approve?: Approver;
  /** The client connection the run came from (see `RunOptions.owner`). */
  readonly owner?: string;
  /** The named session the run runs in, if any. */
  readonly sessionName?: string;
  /**
   * The named session's current life: the same object for every run of the session until it ends
   * (reset, expiry, a lost sandbox), a new one after. What lives as long as a session's state (the
   * policy's token vault) is kept against it.
   */
  readonly sessionScope?: object;
}

/**
 * The engine's one port onto upstream servers (engine/upstream-port.ts implements it over the pool),
 * described structurally so the engine does not depend on how servers are connected. Failures are
 * `BridgeError`s naming the server and tool.
 */
export interface UpstreamPort {
  /** Every configured server with its Python alias, in discovery order. */
  catalog(): CatalogEntry[];
  /** Connects (if needed) and describes the named servers; unknown names: `BridgeError('UNKNOWN_SERVER')`. */
  describe(names: string[], signal: AbortSignal): Promise<ServerGrant[]>;
  /**
   * Calls one tool and returns its unwrapped result, or with `request.raw` the `CallToolResult` as the
   * server sent it; an `isError` result fails too. The policy (when one is configured) is enforced
   * here, per run (`context`): a refusal is a `BridgeError` with a `POLICY_*` code. `trace`, when the
   * call is traced: the context to send the server, and where the connection it went out on is told.
   */
  callTool(
    request: ToolCallRequest,
    signal: AbortSignal,
    context?: CallContext,
    trace?: OutgoingCallTrace,
  ): Promise<unknown>;
  /**
   * The run of `context` has ended (however it ended): per-run bookkeeping is closed, e.g. the audit
   * log's summary line of a run that reached its cap of lines. Never throws.
   */
  runEnded(context: CallContext): void;
  /**
   * Ranks the tools of every configured server (connecting as needed) and of `extra` pseudo-servers
   * for `query`; servers that cannot be described are listed in `unavailable`, not thrown.
   */
  search(
    query: string,
    limit: number,
    signal: AbortSignal,
    extra?: readonly ServerGrant[],
  ): Promise<{
    hits: Array<{ server: string; tool: string; score: number }>;
    described: ServerGrant[];
    unavailable: Array<{ server: string; error: string }>;
  }>;
}
