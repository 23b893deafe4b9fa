/** How the bridge talks to an upstream MCP server. */
export type ServerTransport = 'stdio' | 'http' | 'sse';

/** A server the bridge starts as a child process and talks to over stdin/stdout. */
export interface StdioServerConfig {
  transport: 'stdio';
  /** Executable to run; never empty. */
  command: string;
  /** Arguments, already `${VAR}`-expanded once discovery has finished. Default `[]`. */
  args: string[];
  /** Extra environment for the child, on top of the allow-listed parent environment. Default `{}`. */
  env: Record<string, string>;
  /** Working directory for the child, as written in the config; absent means the bridge's own. */
  cwd?: string;
}

/**
 * A server reached over the network. `http` is Streamable HTTP; the client may still fall back to SSE
 * when the server turns out to speak only that.
 */
export interface RemoteServerConfig {
  transport: 'http' | 'sse';
  /** An `http:` or `https:` URL. */
  url: string;
  /** Extra request headers (often `Authorization`). Default `{}`. */
  headers: Record<string, string>;
}

/** One upstream server as found in a config file. */
export type UpstreamServerConfig = (StdioServerConfig | RemoteServerConfig) & {
  /** The key the server had in its config file, unchanged. */
  name: string;
  /** Path of the file the entry came from. */
  source: string;
  /** What the server is for, in the user's words (`description` of the entry, else of its file). */
  description?: string;
  /**
   * Strings that must never reach a sandbox or the MCP client: every value `${VAR}` expansion
   * substituted, every `env` and header value, a URL's userinfo. Recorded by expansion; absent on an
   * entry that has not been expanded (see `serverSecrets`).
   */
  secrets?: readonly string[];
  /**
   * The entry's `policy` block as written (checked by the engine's policy, which can only tighten
   * with it); absent when the entry has none.
   */
  policy?: unknown;
};

/** Something wrong with a config file or entry that the user should hear about (log at warn). */
export interface ConfigWarning {
  /** Path of the file concerned. */
  source: string;
  /** Self-contained message: it names the file, the server where there is one, and the problem. */
  message: string;
}

/** Why an otherwise readable entry was left out. None of these is a problem (log at debug). */
export type SkipReason = 'disabled' | 'duplicate' | 'self';

/** An entry deliberately left out, kept so the caller can log it at debug level. */
export interface SkippedServer {
  name: string;
  source: string;
  reason: SkipReason;
  /** Human-readable detail, e.g. which file defined the name first. */
  detail: string;
}

/** Everything discovery found. */
export interface DiscoveryResult {
  /** Usable servers, in precedence order, each name once, variables expanded, the bridge itself removed. */
  servers: UpstreamServerConfig[];
  warnings: ConfigWarning[];
  /** Files that were read (whether or not they parsed), in the order they were considered. */
  filesRead: string[];
  /** Candidate files and directories that do not exist (log at debug). */
  missing: string[];
  skipped: SkippedServer[];
}
