/**
 * Contracts between the engine and sandbox backends (types only).
 * A backend knows processes and frames; it never sees MCP or upstream clients: tool calls reach
 * the host through the plain `SandboxHost` functions the engine hands to `execute`.
 */

/** Where a program runs: a container engine, the embedded Deno + Pyodide sandbox, or the Monty tier. */
export type SandboxKind = 'podman' | 'docker' | 'embedded' | 'monty';
/** The sandboxes that run full CPython (everything but the Monty tier). */
export type FullPythonKind = Exclude<SandboxKind, 'monty'>;
export type OutputStream = 'stdout' | 'stderr';

/** A tool as the sandbox sees it: enough to build a Python function with a real signature. */
export interface ToolGrant {
  name: string;
  alias: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  /** The tool's declared result schema, when it has one (TypeScript types the result from it). */
  outputSchema?: Record<string, unknown>;
  /** Its TypeScript declaration, in a TypeScript run (what `mcp.runtime.docs` shows). */
  signature?: string;
}

/** A server granted to one run. `name` is what RPC frames must name; `alias` is its Python identifier. */
export interface ServerGrant {
  name: string;
  alias: string;
  description?: string;
  /** The working directory a stdio server was configured with (scrubbed of secrets). */
  cwd?: string;
  tools: ToolGrant[];
}

/** A configured server as every run sees it, granted or not (for `mcp.runtime.discovered_servers()`). */
export interface CatalogEntry {
  name: string;
  alias: string;
  /** The config entry's own `description`, when it has one. */
  description?: string;
}

/**
 * A saved skill as every run receives it (its newest version): the sandbox compiles `source` only
 * when the program first uses the skill. `error` says why the host could not offer it.
 */
export interface SkillGrant {
  name: string;
  version: number;
  versions?: number[];
  source?: string;
  description?: string;
  signature?: string;
  parameters?: string[];
  isAsync?: boolean;
  servers?: string[];
  savedAt?: string;
  /** Who saved this version (a display name). */
  savedBy?: string;
  /** `own`: the run's principal's; `shared`: published for the team, by `author`. */
  origin?: 'own' | 'shared';
  /** Who published a shared skill (only they and admins may change it). */
  author?: string;
  /** An own skill hiding a shared one of the same name: whose, and its version. */
  shadows?: { author: string; version: number };
  error?: string;
}

export interface SandboxProgram {
  runId: string;
  code: string;
  servers: ServerGrant[];
  catalog: CatalogEntry[];
  /** Saved skills, importable as `from skills import name`. Default: none. */
  skills?: SkillGrant[];
  /**
   * Keep the sandbox for another program after this one (a session): its globals, imports and files
   * survive. Default false: the sandbox is good for this program only.
   */
  keep?: boolean;
  /** The client connection the run came from (a backend may keep per-client state apart). */
  owner?: string;
}

export interface ToolCallRequest {
  server: string;
  tool: string;
  args: Record<string, unknown>;
  /** Return the upstream's `CallToolResult` as it came, instead of unwrapping it. Default false. */
  raw?: boolean;
}

/**
 * Why a host call failed, as the program sees it (`mcp.ToolError.code`; `POLICY_*` codes raise
 * `mcp.PolicyError`). A closed set: the runtimes and programs may branch on these.
 */
export type HostCallErrorCode =
  /** The call itself: an operation the host does not offer, arguments its schema refuses, a server not granted. */
  | 'UNKNOWN_OPERATION'
  | 'BAD_ARGUMENTS'
  | 'NOT_GRANTED'
  /** A result (or attached files) over the bound a sandbox takes. */
  | 'RESULT_TOO_LARGE'
  /** Host operations: no such saved value or kept output; a saved value over its caps. */
  | 'NOT_FOUND'
  | 'VALUE_TOO_LARGE'
  /**
   * Skills: a draft the rules refuse, no such skill, a cap, the store could not be written, a shared
   * skill changed by someone other than its author or an admin.
   */
  | 'INVALID_SKILL'
  | 'UNKNOWN_SKILL'
  | 'SKILL_LIMIT'
  | 'SKILL_STORE_FAILED'
  | 'FORBIDDEN'
  /** Upstream servers (passed on from the pool). */
  | 'UNKNOWN_SERVER'
  | 'UNKNOWN_TOOL'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'TOOL_ERROR'
  | 'SHUTTING_DOWN'
  /** The bridge ran out of file descriptors (an upstream could not be started or reached). */
  | 'OUT_OF_FILE_DESCRIPTORS'
  /** The user's policy refused the call (engine/policy). */
  | 'POLICY_DENIED'
  | 'POLICY_DECLINED'
  | 'POLICY_BUDGET'
  | 'POLICY_RATE_LIMIT'
  | 'POLICY_PLACEHOLDER'
  /** Anything else the host threw: a bug, said as such rather than hidden. */
  | 'HOST_ERROR';

/** A failed host call; `message` reaches the program as `mcp.ToolError`. */
export class HostCallError extends Error {
  override readonly name = 'HostCallError';
  constructor(
    message: string,
    readonly code: HostCallErrorCode,
  ) {
    super(message);
  }
}

/** The sandbox's side of a host call's reply: how far behind the program is in reading replies. */
export interface ReplyChannel {
  /**
   * Resolves once the replies the program has not read are below the channel's high-water mark
   * (4 MiB), or its run has ended: a host operation that makes large replies one after another waits
   * for it, so it never holds more than the program keeps up with.
   */
  drained(): Promise<void>;
}

/** What the sandbox may ask of the host while a program runs. Implementations throw `HostCallError`. */
export interface SandboxHost {
  onOutput(stream: OutputStream, data: string): void;
  callTool(request: ToolCallRequest, signal: AbortSignal): Promise<unknown>;
  callHost(
    op: string,
    args: Record<string, unknown>,
    signal: AbortSignal,
    replies?: ReplyChannel,
  ): Promise<unknown>;
}

/** How a sandbox ended a program. `execute` resolves with one of these and never rejects. */
export type SandboxExit =
  | { kind: 'done'; ok: true }
  | { kind: 'done'; ok: false; error: string; traceback?: string }
  /** The signal passed to `execute` fired; the sandbox has been told to die. */
  | { kind: 'aborted' }
  /** The sandbox process ended without a `done` frame (killed by the kernel, crashed). */
  | { kind: 'exited'; exitCode: number | null; signal: NodeJS.Signals | null; diagnostics: string }
  /** The sandbox sent something the host refuses; it has been killed. */
  | { kind: 'protocol_error'; message: string };

/**
 * One started sandbox, good for one program, or for one program after another while each says `keep`
 * (a session). `execute` may be called again only once the previous program is done.
 */
export interface Sandbox {
  readonly id: string;
  /** Which kind of sandbox this is, reported with every result (`structuredContent.sandbox`). */
  readonly kind: SandboxKind;
  /** False once the sandbox process has ended or been destroyed. */
  readonly alive: boolean;
  execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit>;
  /**
   * Sets the sandbox's CPU weight (cgroup v2 units: 100 is the default) where its backend can
   * (sandbox/cpu-weight.ts); best effort, in order of the calls, never throws.
   */
  setCpuWeight?(weight: number): void;
  /** Kill and remove the sandbox. Idempotent; resolves once nothing of it remains. */
  destroy(): Promise<void>;
}

/** How a run takes a sandbox from the warm pool. */
export interface SandboxClaim {
  /**
   * Leave this many ready sandboxes in the pool for others (fair shares, docs/team.md): one for each
   * other active principal running none, whose next run would otherwise wait for a start. This run
   * takes a warm one only while more are ready, else one started for it.
   */
  spare?: number;
}

/** How one sandbox differs from the backend's configuration. */
export interface SandboxStartOptions {
  /** Its memory limit, in the engines' syntax (`256m`), instead of the configured one. */
  memory?: string;
}

export interface SandboxBackend {
  readonly kind: SandboxKind;
  /** A human-readable description for logs and `doctor`, e.g. `podman 4.3.1, image python:3.12-slim`. */
  readonly description: string;
  /** Starts a sandbox and resolves once its runtime reported `ready`. */
  start(signal?: AbortSignal, options?: SandboxStartOptions): Promise<Sandbox>;
  /** Removes every sandbox this backend started. Idempotent and safe to call concurrently. */
  close(): Promise<void>;
}
