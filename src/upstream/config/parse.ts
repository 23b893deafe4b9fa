/**
 * Turns the text of one client config file into server entries. Pure: no fs, no env. Never throws —
 * a broken file or entry becomes a warning and the rest is kept, because one client's bad config must
 * not hide the servers configured elsewhere. Variables are expanded later (see expand.ts), so `${VAR}`
 * placeholders pass through unchanged here.
 */
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { describeIssues } from '../../shared/errors.js';
import { parseJsonc } from './jsonc.js';
import type { ConfigWarning, SkippedServer, UpstreamServerConfig } from './types.js';
import { describeUrlProblem } from './url.js';

/**
 * The file shapes the bridge understands.
 * - `mcpServers`: `{ "mcpServers": { name: entry } }` (Claude Desktop, Cursor, `.mcp.json`, …); a VS Code
 *   `servers` key is accepted too.
 * - `vscode`: `{ "servers": { name: entry } }`, also accepting `mcpServers`.
 * - `claude-json`: `~/.claude.json`: `projects[<cwd>].mcpServers`, then the top-level `mcpServers`.
 * - `gemini`: `mcpServers` where `httpUrl` means Streamable HTTP and `url` means SSE; honours
 *   `mcp.allowed`/`mcp.excluded`.
 * - `windsurf`: `mcpServers` where a remote entry may use `serverUrl`.
 * - `codex-toml`: TOML tables `[mcp_servers.<name>]` with `http_headers`, `env_http_headers`,
 *   `bearer_token_env_var` for remote entries; `[mcpServers.<name>]` too, the shape the reference
 *   bridge reads from a `.toml` file.
 */
export type ConfigFormat = 'mcpServers' | 'vscode' | 'claude-json' | 'gemini' | 'windsurf' | 'codex-toml';

/** Options for {@link parseConfigText}. */
export interface ParseConfigOptions {
  format: ConfigFormat;
  /** Path of the file; used in warnings and copied into each entry's `source`. */
  source: string;
  /** The project directory; selects `projects[<cwd>]` in `~/.claude.json`. */
  cwd: string;
  /**
   * Also accept a file that is itself the `{ name: entry }` map, with no `mcpServers`/`servers` key.
   * Only for the `mcpServers` and `vscode` formats. Default `false`.
   */
  allowBareMap?: boolean;
}

/** What one file yielded. Entries still hold unexpanded `${VAR}` placeholders. */
export interface ParseConfigResult {
  servers: UpstreamServerConfig[];
  warnings: ConfigWarning[];
  /** Entries left out on purpose (disabled); not problems. */
  skipped: SkippedServer[];
}

type RawRecord = Record<string, unknown>;

const TRANSPORT_BY_TYPE: Readonly<Record<string, UpstreamServerConfig['transport']>> = {
  stdio: 'stdio',
  http: 'http',
  'streamable-http': 'http',
  streamablehttp: 'http',
  streamable_http: 'http',
  sse: 'sse',
};

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Friendly to hand-written files: `"PORT": 8080` or `["--port", 8080]` mean the obvious strings.
const scalarString = z
  .union([z.string(), z.number(), z.boolean(), z.bigint()], {
    error: 'expected a string, number or boolean',
  })
  .transform(String);
const stringMap = z.record(z.string(), scalarString, { error: 'expected an object of strings' });

const entrySchema = z.object({
  type: z.string({ error: 'expected a string' }).nullish(),
  transport: z.string({ error: 'expected a string' }).nullish(),
  command: z.string({ error: 'expected a string' }).nullish(),
  args: z.array(scalarString, { error: 'expected an array of strings' }).nullish(),
  env: stringMap.nullish(),
  cwd: z.string({ error: 'expected a string' }).nullish(),
  url: z.string({ error: 'expected a string' }).nullish(),
  headers: stringMap.nullish(),
});

const codexRemoteSchema = z.object({
  http_headers: stringMap.nullish(),
  env_http_headers: z
    .record(z.string(), z.string().regex(ENV_NAME, 'expected an environment variable name'), {
      error: 'expected an object mapping header names to environment variable names',
    })
    .nullish(),
  bearer_token_env_var: z
    .string({ error: 'expected a string' })
    .regex(ENV_NAME, 'expected an environment variable name')
    .nullish(),
});

/** Parses one config file's text. See {@link ConfigFormat} for the shapes; never throws. */
export function parseConfigText(text: string, options: ParseConfigOptions): ParseConfigResult {
  const result: ParseConfigResult = { servers: [], warnings: [], skipped: [] };
  const { source } = options;
  const warn = (message: string): void => {
    result.warnings.push({ source, message });
  };

  const decoded = decodeDocument(text, options);
  if (!decoded.ok) {
    warn(decoded.message);
    return result;
  }
  const doc = decoded.value;
  if (!isRecord(doc)) {
    warn(`${source}: expected an object at the top level, got ${describeType(doc)}; file ignored.`);
    return result;
  }

  const gate = options.format === 'gemini' ? geminiGate(doc) : () => undefined;
  // mcp-server-code-execution-mode reads a file-level `description` as the default of its entries'.
  const fileDescription = typeof doc.description === 'string' ? doc.description.trim() : '';
  for (const { label, value } of serverMaps(doc, options)) {
    if (!isRecord(value)) {
      warn(
        `${source}: ${label} must be an object mapping server names to entries, got ${describeType(value)}; ignored.`,
      );
      continue;
    }
    for (const [name, entry] of Object.entries(value)) {
      const skipReason = disabledReason(entry) ?? gate(name);
      if (skipReason !== undefined) {
        result.skipped.push({ name, source, reason: 'disabled', detail: skipReason });
        continue;
      }
      const parsed = parseEntry(name, entry, options);
      if (typeof parsed === 'string') {
        const who = name === '' ? 'a server with an empty name' : `server "${name}"`;
        warn(`Skipping ${who} in ${source}: ${parsed}.`);
      } else {
        const description = describedAs(entry) || fileDescription;
        const policy = isRecord(entry) && entry.policy !== undefined ? { policy: entry.policy } : {};
        result.servers.push({ ...parsed, ...(description ? { description } : {}), ...policy });
      }
    }
  }
  return result;
}

type Decoded = { ok: true; value: unknown } | { ok: false; message: string };

function decodeDocument(text: string, options: ParseConfigOptions): Decoded {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (options.format === 'codex-toml') {
    try {
      return { ok: true, value: parseToml(body) };
    } catch (error) {
      return { ok: false, message: `Cannot parse ${options.source} as TOML: ${describeTomlError(error)}` };
    }
  }
  // An empty file (say, created with `touch`) is an empty config, not a mistake worth a warning.
  if (body.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: parseJsonc(body) };
  } catch (error) {
    return {
      ok: false,
      message: `Cannot parse ${options.source} as JSON: ${describeJsonError(error, body)}`,
    };
  }
}

function describeJsonError(error: unknown, text: string): string {
  // V8 quotes a snippet of the input, newlines included; keep the log to one line.
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ');
  const position = /at position (\d+)/.exec(reason)?.[1];
  if (position === undefined) return reason;
  const before = text.slice(0, Number(position)).split('\n');
  return `${reason} (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
}

function describeTomlError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // smol-toml puts a multi-line code excerpt after the first line; keep the log to one line.
  const first = error.message.split('\n', 1)[0] ?? error.message;
  const { line, column } = error as Error & { line?: unknown; column?: unknown };
  return typeof line === 'number' && typeof column === 'number'
    ? `${first} (line ${line}, column ${column})`
    : first;
}

interface ServerMap {
  label: string;
  value: unknown;
}

function serverMaps(doc: RawRecord, options: ParseConfigOptions): ServerMap[] {
  const keyed = (keys: readonly string[]): ServerMap[] =>
    keys.filter((key) => doc[key] !== undefined).map((key) => ({ label: `"${key}"`, value: doc[key] }));

  switch (options.format) {
    case 'mcpServers':
    case 'vscode': {
      const keys = options.format === 'vscode' ? ['servers', 'mcpServers'] : ['mcpServers', 'servers'];
      const maps = keyed(keys);
      if (maps.length === 0 && options.allowBareMap) return [{ label: 'the file', value: doc }];
      return maps;
    }
    case 'claude-json': {
      // Project-scoped servers come first: Claude Code lets them override the user-wide ones.
      const project = findProject(doc.projects, options.cwd);
      const maps: ServerMap[] = [];
      if (project && project.value.mcpServers !== undefined) {
        maps.push({
          label: `projects[${JSON.stringify(project.key)}].mcpServers`,
          value: project.value.mcpServers,
        });
      }
      return [...maps, ...keyed(['mcpServers'])];
    }
    case 'gemini':
    case 'windsurf':
      return keyed(['mcpServers']);
    case 'codex-toml':
      return keyed(['mcp_servers', 'mcpServers']);
  }
}

function findProject(projects: unknown, cwd: string): { key: string; value: RawRecord } | undefined {
  if (!isRecord(projects)) return undefined;
  const exact = projects[cwd];
  if (isRecord(exact)) return { key: cwd, value: exact };
  const wanted = normalizeDir(cwd);
  for (const [key, value] of Object.entries(projects)) {
    if (isRecord(value) && normalizeDir(key) === wanted) return { key, value };
  }
  return undefined;
}

// Claude Code keys projects by absolute path; tolerate a trailing slash, and on Windows-style paths
// the separator and drive-letter case, which differ between how a path was typed and how it was stored.
function normalizeDir(dir: string): string {
  let out = dir.replace(/\\/g, '/');
  if (out.length > 1) out = out.replace(/\/+$/, '');
  return /^[A-Za-z]:/.test(out) ? out.toLowerCase() : out;
}

function geminiGate(doc: RawRecord): (name: string) => string | undefined {
  const settings = isRecord(doc.mcp) ? doc.mcp : {};
  const excluded = stringArray(settings.excluded);
  const allowed = stringArray(settings.allowed);
  return (name) => {
    if (excluded?.includes(name)) return 'listed in mcp.excluded';
    if (allowed && !allowed.includes(name)) return 'not listed in mcp.allowed';
    return undefined;
  };
}

/** An entry's own `description`; anything but a string is ignored rather than costing the server. */
function describedAs(entry: unknown): string {
  return isRecord(entry) && typeof entry.description === 'string' ? entry.description.trim() : '';
}

function disabledReason(entry: unknown): string | undefined {
  if (!isRecord(entry)) return undefined;
  if (entry.disabled === true) return '"disabled": true';
  if (entry.enabled === false) return '"enabled": false';
  return undefined;
}

/** Returns the server, or a description of what is wrong with the entry. */
function parseEntry(
  name: string,
  entry: unknown,
  options: ParseConfigOptions,
): UpstreamServerConfig | string {
  if (name === '') return 'a server name must not be empty';
  if (!isRecord(entry)) return `expected an object, got ${describeType(entry)}`;
  const adapted = adaptEntry(entry, options.format);
  if (typeof adapted === 'string') return adapted;
  const parsed = entrySchema.safeParse(adapted);
  if (!parsed.success) return describeIssues(parsed.error);
  const raw = parsed.data;

  const declared = raw.type ?? raw.transport;
  let transport: UpstreamServerConfig['transport'] | undefined;
  if (declared != null) {
    transport = TRANSPORT_BY_TYPE[declared.toLowerCase()];
    if (transport === undefined)
      return `unknown type ${JSON.stringify(declared)} (expected stdio, http or sse)`;
  } else if (raw.command != null) {
    transport = 'stdio';
  } else if (raw.url != null) {
    // No type given: try Streamable HTTP; the client falls back to SSE if the server only speaks that.
    transport = 'http';
  } else {
    return 'needs either "command" (a local server) or "url" (a remote one)';
  }

  const base = { name, source: options.source };
  if (transport === 'stdio') {
    if (raw.command == null || raw.command.trim() === '') return 'command must be a non-empty string';
    return {
      ...base,
      transport,
      command: raw.command,
      args: raw.args ?? [],
      env: raw.env ?? {},
      ...(raw.cwd ? { cwd: raw.cwd } : {}),
    };
  }
  if (raw.url == null || raw.url.trim() === '') return `type "${transport}" needs a "url"`;
  // A URL built from variables can only be checked once they are expanded (expandServer does that).
  const problem = raw.url.includes('${') ? undefined : describeUrlProblem(raw.url);
  if (problem !== undefined) return problem;
  return { ...base, transport, url: raw.url, headers: raw.headers ?? {} };
}

/** Maps client-specific spellings onto the common entry shape. */
function adaptEntry(entry: RawRecord, format: ConfigFormat): RawRecord | string {
  switch (format) {
    case 'gemini':
      // Gemini CLI's own precedence: httpUrl, then url (SSE), then command.
      if (entry.httpUrl != null) return { ...entry, url: entry.httpUrl, type: entry.type ?? 'http' };
      if (entry.url != null) return { ...entry, type: entry.type ?? 'sse' };
      return entry;
    case 'windsurf':
      return entry.url == null && entry.serverUrl != null ? { ...entry, url: entry.serverUrl } : entry;
    case 'codex-toml':
      return adaptCodexEntry(entry);
    default:
      return entry;
  }
}

function adaptCodexEntry(entry: RawRecord): RawRecord | string {
  const parsed = codexRemoteSchema.safeParse(entry);
  if (!parsed.success) return describeIssues(parsed.error);
  const { http_headers, env_http_headers, bearer_token_env_var } = parsed.data;
  if (http_headers == null && env_http_headers == null && bearer_token_env_var == null) return entry;
  // Secrets named by environment variable become `${VAR}` placeholders, so expansion fills them in and
  // warns about unset ones like any other variable.
  const headers: Record<string, string> = { ...http_headers };
  for (const [header, variable] of Object.entries(env_http_headers ?? {}))
    headers[header] = `\${${variable}}`;
  if (bearer_token_env_var != null) headers.Authorization = `Bearer \${${bearer_token_env_var}}`;
  return { ...entry, headers };
}

function stringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : undefined;
}

function isRecord(value: unknown): value is RawRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
