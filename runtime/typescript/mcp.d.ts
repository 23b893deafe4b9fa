// codemode-bridge: what a TypeScript program sees besides the language (run_typescript).
// Each granted server adds its tools to `McpServers` in a declaration of its own (generated from the
// tools' JSON Schemas): `await mcp.<server>.<tool>({ ...args })`.

/** The servers granted to this run, each with its tools (filled in per run). */
// biome-ignore lint/suspicious/noEmptyInterface: the grant's declarations merge into it
interface McpServers {}

/**
 * A tool call failed: the server reported an error, could not be reached, or the call was refused.
 * `message` is the server's (or the bridge's) text; retry only when `code` says the server is unavailable.
 */
declare class ToolError extends Error {
  readonly name: 'ToolError' | 'PolicyError';
  /** The bridge's code, e.g. TOOL_ERROR, UPSTREAM_UNAVAILABLE, UPSTREAM_TIMEOUT, RESULT_TOO_LARGE, NOT_GRANTED. */
  readonly code: string | null;
  /** The server the call went to (its configured name), when the error is about a call. */
  readonly server: string | null;
  /** The tool called (its name on the server), when the error is about a call. */
  readonly tool: string | null;
  constructor(
    message: string,
    options?: { code?: string | null; server?: string | null; tool?: string | null },
  );
}

/**
 * The user's policy refused the call: a deny rule, read-only mode, a budget, a rate limit, or a declined
 * approval. Retrying the same call will not help.
 */
declare class PolicyError extends ToolError {
  /** POLICY_DENIED, POLICY_DECLINED, POLICY_BUDGET or POLICY_RATE_LIMIT. */
  readonly code: string;
  /** The rule that refused it, as the policy names it. */
  readonly rule: string | null;
}

/** A configured server, granted to this run or not. */
interface McpServerInfo {
  name: string;
  /** Its name on `mcp` (`mcp.<alias>`) when granted. */
  alias: string;
  description: string;
  granted: boolean;
}

/** One tool's documentation. */
interface McpToolDoc {
  server: string;
  /** `mcp.<serverAlias>.<alias>` calls it. */
  serverAlias: string;
  name: string;
  alias: string;
  description: string;
  /** The TypeScript signature, when the host has one for this tool. */
  signature?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
}

interface McpSearchHit extends McpToolDoc {
  score: number;
}

interface McpRuntime {
  /** Every configured server; `granted` ones are callable as `mcp.<alias>`. */
  servers(): Promise<McpServerInfo[]>;
  /** Tools of every configured server ranked for a task description (granted or not: call needs a grant). */
  search(query: string, options?: { limit?: number }): Promise<McpSearchHit[]>;
  /** The docs of one tool (by name or alias), or of every tool of `server`. */
  docs(server: string, tool: string): Promise<McpToolDoc>;
  docs(server: string): Promise<McpToolDoc[]>;
  /**
   * Calls a tool of a granted server by name or alias, as `mcp.<server>.<tool>(args)` does. `raw: true`
   * returns the MCP result as the server sent it (`content`, `structuredContent`, `isError`).
   */
  callTool(
    server: string,
    tool: string,
    args?: Record<string, unknown>,
    options?: { raw?: boolean },
  ): Promise<unknown>;
  /**
   * Keeps `value` (as JSON) on the host under `name`, for any later run of this client, in either
   * language; saving a name again replaces it. Size is capped (MCP_BRIDGE_SAVE_MAX_SIZE).
   */
  save(name: string, value: unknown): Promise<{ name: string; bytes: number }>;
  /** A copy of what `save(name, …)` kept; a ToolError if nothing is saved under `name`. */
  load<T = unknown>(name: string): Promise<T>;
  /** The values this client saved. */
  listSaved(): Promise<Array<{ name: string; bytes: number; savedAt: string }>>;
  /** Forgets a saved value; whether there was one. */
  deleteSaved(name: string): Promise<boolean>;
  /** A page of a run's stdout the output cap elided, by the handle its result names (`out-N`). */
  readOutput(
    handle: string,
    offset?: number,
    length?: number,
  ): Promise<{ text: string; offset: number; keptChars: number; totalChars: number }>;
  /** This client's named sessions. */
  listSessions(): Promise<Array<Record<string, unknown>>>;
  /** Ends a named session (its sandbox and what it held); whether it existed. */
  resetSession(name: string): Promise<boolean>;
  /** Skills are Python functions (run_python's `save_tool`): this always throws a ToolError saying so. */
  skills(): Promise<never>;
}

declare const mcp: McpServers & {
  readonly runtime: McpRuntime;
  readonly ToolError: typeof ToolError;
  readonly PolicyError: typeof PolicyError;
};

/** The program's output: `log`, `info` and `debug` write to stdout; `warn` and `error` to stderr. */
interface Console {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  debug(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  table(data: unknown): void;
  dir(item: unknown): void;
}
declare var console: Console;

declare function setTimeout(callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number;
declare function clearTimeout(id: number | undefined): void;
declare function setInterval(callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): number;
declare function clearInterval(id: number | undefined): void;
declare function queueMicrotask(callback: () => void): void;
declare function structuredClone<T>(value: T): T;
declare function atob(data: string): string;
declare function btoa(data: string): string;

declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
declare class URL {
  constructor(url: string, base?: string | URL);
  href: string;
  protocol: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
  origin: string;
  readonly searchParams: URLSearchParams;
  toString(): string;
  toJSON(): string;
}
declare class URLSearchParams {
  constructor(init?: string | Record<string, string> | [string, string][]);
  get(name: string): string | null;
  getAll(name: string): string[];
  has(name: string): boolean;
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  delete(name: string): void;
  entries(): IterableIterator<[string, string]>;
  toString(): string;
}
