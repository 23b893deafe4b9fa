/**
 * MCP_BRIDGE_* environment variables (docs/configuration.md), parsed once at start. An invalid value
 * fails fast with a message naming the variable, the value and what is accepted.
 */

import { isAbsolute, resolve } from 'node:path';
import { DEFAULT_AUDIT_RUN_LINES } from '../engine/policy/audit-log.js';
import { type Language, MIN_RUN_TIMEOUT_MS } from '../engine/types.js';
import { OCI_RUNTIME_NAMES } from '../sandbox/container/oci-runtime.js';
import type { ChannelChoice } from '../sandbox/container/socket-channel.js';
import type { OutputMode } from '../server/format.js';
import { BridgeError } from '../shared/errors.js';
import { LOG_LEVELS, type LogLevel } from '../shared/logger.js';
import { resolveStateDir } from '../shared/state-dir.js';

const RUNTIME_CHOICES = ['auto', 'podman', 'docker', 'embedded', 'monty'] as const;
/** The longest delay a Node timer honours: 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export interface Settings {
  runtime: RuntimeChoice;
  /** The languages whose run tool tools/list shows (MCP_BRIDGE_LANGUAGES), in that order. */
  languages: Language[];
  /** Type-check TypeScript programs before their first tool call (MCP_BRIDGE_TYPECHECK). */
  typecheck: boolean;
  image: string;
  timeoutMs: number;
  maxTimeoutMs: number;
  memory: string;
  pids: number;
  cpus: number | undefined;
  containerUser: string;
  tmpfsSize: string;
  /** Size of the writable, noexec `/workspace` of a container sandbox (its working directory and HOME). */
  workspaceSize: string;
  containerChannel: ChannelChoice;
  /** OCI runtime for container sandboxes; undefined: the engine's default. */
  ociRuntime: string | undefined;
  idleTimeoutMs: number;
  callTimeoutMs: number;
  stateDir: string;
  outputMode: OutputMode;
  logLevel: LogLevel;
  /** Undefined when unset: the sandbox service's default (2 for every runtime). */
  poolSize: number | undefined;
  /** Undefined when unset: the default depends on the runtime (containers 16, embedded 8 per core up to 16). */
  poolMax: number | undefined;
  maxConcurrentRuns: number;
  maxOutputChars: number;
  /**
   * Stdout the cap elided, kept for `read_output`: characters per run (0: none kept), all runs
   * together, and for how long.
   */
  keepOutputChars: number;
  keepOutputTotalChars: number;
  keepOutputMs: number;
  /** A call returns a run still going after this long, with a handle to wait on; 0: never. */
  yieldAfterMs: number;
  /** A named session with no run for this long is ended. */
  sessionIdleMs: number;
  /** Live named sessions at once. */
  maxSessions: number;
  /** Memory limit of each named session's sandbox (MCP_BRIDGE_MEMORY's syntax); default `memory`. */
  sessionMemory: string;
  /** Largest value `mcp.runtime.save` keeps, and all saved values together, in bytes. */
  saveMaxBytes: number;
  saveTotalBytes: number;
  /**
   * One principal's share of the limits above, when set; unset, a bridge serving a team uses the
   * defaults of `principalShares` (compose.ts) and any other bridge the bridge-wide limits.
   */
  perPrincipal: {
    maxRuns: number | undefined;
    maxSessions: number | undefined;
    keptOutputChars: number | undefined;
    savedBytes: number | undefined;
  };
  /**
   * Fair CPU between principals (docs/team.md, "Fair shares"): `auto` gives each principal's running
   * full-Python sandboxes one sandbox's CPU weight together when serving a team; `off` never does.
   */
  cpuShares: 'auto' | 'off';
  /** The policy file (JSON or TOML), absolute; undefined: no policy file. */
  policyPath: string | undefined;
  /** The audit log (JSON lines), absolute; undefined: no audit log. */
  auditLog: string | undefined;
  /** Rotate the audit log before it grows past this many bytes. */
  auditMaxBytes: number;
  /** Rotated audit files kept. */
  auditFiles: number;
  /** Record argument values (secrets redacted) in the audit log, not only their digest and size. */
  auditValues: boolean;
  /** Audit lines one run may write; its later calls are summarised in one line when it ends. */
  auditRunLines: number;
  /** Finished runs the console keeps across restarts (0: none, nothing written to disk). */
  consoleRuns: number;
  /** Bytes of runs the console keeps across restarts; the oldest go first past either bound. */
  consoleRunsBytes: number;
}

/** One environment variable as `--help` and docs/configuration.md describe it. */
export interface SettingHelp {
  name: string;
  /** The default, as a user reads it. */
  fallback: string;
  /** One line for `--help`. */
  meaning: string;
  /** Markdown that docs/configuration.md adds after the meaning: limits, interactions, links. */
  details?: string;
}

/**
 * Every variable with its default and meaning: the source of `--help` and of the table in
 * docs/configuration.md (`npm run docs`).
 */
export const SETTINGS_HELP: readonly SettingHelp[] = [
  {
    name: 'MCP_BRIDGE_RUNTIME',
    fallback: 'auto',
    meaning:
      'Sandbox: auto (Monty when a program fits, else podman, then docker, then embedded), podman, docker, embedded (Deno + Pyodide), monty (Monty only)',
    details:
      "`auto` runs a program on Monty, the instant tier, when it fits Monty's subset of Python (decided before it runs), and on the first usable of podman, docker and embedded otherwise; sessions always run on full Python. `monty` runs every program on Monty and refuses the rest with the construct and how to get full Python. With `MCP_BRIDGE_OCI_RUNTIME` set, `auto` never uses Monty. See [the guide](guide.md#the-monty-tier)",
  },
  {
    name: 'MCP_BRIDGE_LANGUAGES',
    fallback: 'python',
    meaning: 'Run tools to offer: python, typescript, or python,typescript (run_python, run_typescript)',
    details:
      'TypeScript programs run in a permissionless Deno process per run, with the same servers, grants, policy, limits, sessions and saved values; skills stay Python-only. See [TypeScript code mode](typescript.md)',
  },
  {
    name: 'MCP_BRIDGE_TYPECHECK',
    fallback: 'on',
    meaning:
      "Type-check TypeScript programs against the tools' schemas before their first tool call: on, off",
    details:
      "The check runs while the program starts; its first tool call and its output wait for the verdict, and a type error is the run's error with its line and column. `off` never loads the TypeScript compiler",
  },
  {
    name: 'MCP_BRIDGE_IMAGE',
    fallback: 'python:3.12-slim',
    meaning: 'Container image with python3 on its PATH',
  },
  {
    name: 'MCP_BRIDGE_TIMEOUT',
    fallback: '30',
    meaning: 'Default run timeout, seconds',
    details:
      "When unset it drops to `MCP_BRIDGE_MAX_TIMEOUT` if that is smaller; set above the maximum, it is refused, not clamped: `serve` answers the client with the error, other commands exit 2. A call's `timeout` argument overrides it, clamped to the maximum",
  },
  {
    name: 'MCP_BRIDGE_MAX_TIMEOUT',
    fallback: '120',
    meaning: 'Largest timeout a call may ask for, seconds',
  },
  {
    name: 'MCP_BRIDGE_MEMORY',
    fallback: '512m',
    meaning: 'Memory limit per sandbox (embedded: the Python heap)',
    details:
      'Containers: `--memory` and `--memory-swap` (no swap); embedded: capped exactly, a bomb gets `MemoryError`; at least 64m',
  },
  {
    name: 'MCP_BRIDGE_PIDS',
    fallback: '128',
    meaning: 'Process/thread limit per sandbox',
    details: 'Containers only',
  },
  {
    name: 'MCP_BRIDGE_CPUS',
    fallback: '(unlimited)',
    meaning: 'CPU quota per sandbox, e.g. 1 or 0.5',
    details: 'Containers only',
  },
  {
    name: 'MCP_BRIDGE_CONTAINER_USER',
    fallback: '65534:65534',
    meaning: 'uid:gid the code runs as',
    details: 'Never 0: root is refused. Containers only',
  },
  {
    name: 'MCP_BRIDGE_TMPFS_SIZE',
    fallback: '64m',
    meaning: 'Size of the writable, noexec /tmp',
    details: 'Containers only',
  },
  {
    name: 'MCP_BRIDGE_WORKSPACE_SIZE',
    fallback: '128m',
    meaning: 'Size of the writable, noexec /workspace (working directory and HOME)',
    details: 'Containers only: in the embedded sandbox files count against its memory',
  },
  {
    name: 'MCP_BRIDGE_CONTAINER_CHANNEL',
    fallback: 'auto',
    meaning: 'Frames via a mounted Unix socket (socket) or the attach (stdio)',
    details:
      '`socket` is the fastest. `auto`: socket on Linux with a local engine; stdio on macOS and Windows (the engine runs in a VM a host socket cannot reach), with a remote `CONTAINER_HOST`/`DOCKER_HOST`, and under gVisor, which refuses `socket`',
  },
  {
    name: 'MCP_BRIDGE_OCI_RUNTIME',
    fallback: "(the engine's)",
    meaning: 'OCI runtime of containers: runc, crun, runsc (gVisor), or an absolute path to one',
    details:
      'Passed as `--runtime` ([gVisor](security.md#gvisor-defence-in-depth)). Never chosen by `auto`; while set, `auto` does not fall back to the embedded sandbox, and a runtime the engine cannot use fails every run with what to install or unset. Not with `MCP_BRIDGE_RUNTIME=embedded`',
  },
  {
    name: 'MCP_BRIDGE_POOL_SIZE',
    fallback: '2 (at most MCP_BRIDGE_POOL_MAX)',
    meaning: 'Sandboxes kept started ahead of demand when idle (0 = none)',
  },
  {
    name: 'MCP_BRIDGE_POOL_MAX',
    fallback: '16 (embedded: 8 per core, at most 16; TypeScript: 32)',
    meaning: 'Most sandboxes a burst grows the pool to; it shrinks when quiet',
    details:
      "A run that finds none ready doubles the pool's size up to this; after a minute without one it halves back. Bounds the memory warm sandboxes hold (about 25–30 MB each for a container, 100 MB PSS for an embedded worker, 14 MB PSS for a TypeScript sandbox) and the CPU spent refilling after a burst (an embedded worker costs ~0.9 s of CPU to start)",
  },
  {
    name: 'MCP_BRIDGE_MAX_CONCURRENT_RUNS',
    fallback: '8',
    meaning: 'Programs running at once; more wait their turn',
    details: 'The wait counts toward their timeout',
  },
  {
    name: 'MCP_BRIDGE_MAX_CONCURRENT_RUNS_PER_PRINCIPAL',
    fallback: '(a team: half of MCP_BRIDGE_MAX_CONCURRENT_RUNS)',
    meaning: "One principal's programs running at once; more wait",
    details:
      'A freed slot goes to the waiting principal with the fewest programs running, so one flooding the bridge delays another by at most one of its runs ([fair shares](team.md#fair-shares)). Without a tokens file or OAuth there is one principal and this is `MCP_BRIDGE_MAX_CONCURRENT_RUNS`',
  },
  {
    name: 'MCP_BRIDGE_CPU_SHARES',
    fallback: 'auto',
    meaning: 'Fair CPU between principals: auto or off',
    details:
      "`auto`: with a tokens file or OAuth, while more than one principal is active (a run in the last 30 s) each runs at most its share of the cores in full-Python sandboxes at once (its further runs wait in its own queue) and leaves a warm sandbox to each other one, and each principal's running sandboxes share one sandbox's CPU weight (a cgroup's `cpu.weight`/`cpu.shares`, else an embedded worker's niceness), so one principal's CPU-bound flood does not starve another's runs; `doctor` says which mechanism is in force ([fair shares](team.md#fair-shares)). `off`: principals' sandboxes compete as programs, with the weight they start with",
  },
  {
    name: 'MCP_BRIDGE_MAX_OUTPUT_CHARS',
    fallback: '20000',
    meaning: 'Output kept per stream (head + tail), characters',
  },
  {
    name: 'MCP_BRIDGE_KEEP_OUTPUT_CHARS',
    fallback: '4000000',
    meaning: 'Stdout beyond the cap kept per run for mcp.runtime.read_output, characters (0 = none)',
    details:
      'The first N characters of the stdout the cap elided; with 0 the result only elides ([output](guide.md#the-run_python-tool))',
  },
  {
    name: 'MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS',
    fallback: '32000000',
    meaning: 'Kept stdout of all runs together; oldest dropped first',
    details:
      "At least `MCP_BRIDGE_KEEP_OUTPUT_CHARS`. Held in the bridge's memory: up to twice this many bytes",
  },
  {
    name: 'MCP_BRIDGE_KEEP_OUTPUT_PER_PRINCIPAL_CHARS',
    fallback: '(a team: a quarter of MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS)',
    meaning: "Kept stdout of one principal's runs together; its oldest dropped first",
    details:
      'Past the total, the oldest of the principal keeping the most goes first ([fair shares](team.md#fair-shares))',
  },
  {
    name: 'MCP_BRIDGE_KEEP_OUTPUT_TTL',
    fallback: '900',
    meaning: 'How long kept stdout can be read, seconds',
    details: 'Counted from the end of the run',
  },
  {
    name: 'MCP_BRIDGE_YIELD_AFTER',
    fallback: '20',
    meaning:
      'A run_python call still running after this long returns its output so far and a wait handle, seconds (0 = never)',
    details:
      '[Long runs](guide.md#long-runs-yield_after-and-wait); 0: calls block until the run ends, for clients that cannot follow a handle',
  },
  {
    name: 'MCP_BRIDGE_SESSION_IDLE_TIMEOUT',
    fallback: '600',
    meaning: 'End a run_python session idle this long, seconds',
    details: '[Sessions](guide.md#sessions-state-that-survives-between-calls)',
  },
  {
    name: 'MCP_BRIDGE_MAX_SESSIONS',
    fallback: '8',
    meaning: 'Live run_python sessions at once (each keeps one sandbox)',
  },
  {
    name: 'MCP_BRIDGE_MAX_SESSIONS_PER_PRINCIPAL',
    fallback: '(a team: half of MCP_BRIDGE_MAX_SESSIONS)',
    meaning: "One principal's live run_python sessions",
    details:
      'At `MCP_BRIDGE_MAX_SESSIONS`, the least recently used idle session of a principal holding more than the newcomer ends to make room, and says why on its next call ([fair shares](team.md#fair-shares))',
  },
  {
    name: 'MCP_BRIDGE_SESSION_MEMORY',
    fallback: '(MCP_BRIDGE_MEMORY)',
    meaning: "Memory limit of each session's sandbox; running out ends the session (at least 64m)",
    details:
      "Set apart from `MCP_BRIDGE_MEMORY`, a session's sandbox is started for it instead of taken from the warm pool; a session that runs out ends and its next call says the state was lost",
  },
  {
    name: 'MCP_BRIDGE_SAVE_MAX_SIZE',
    fallback: '64m',
    meaning: 'Largest value mcp.runtime.save keeps (pickled)',
    details: '[Saved values](guide.md#saved-values-save-and-load)',
  },
  {
    name: 'MCP_BRIDGE_SAVE_TOTAL_SIZE',
    fallback: '512m',
    meaning: 'All saved values together',
    details:
      'Values still arriving count with their whole size, and each value 1 KiB more; saving a name again replaces it ([saved values](guide.md#saved-values-save-and-load))',
  },
  {
    name: 'MCP_BRIDGE_SAVE_PER_PRINCIPAL_SIZE',
    fallback: '(a team: a quarter of MCP_BRIDGE_SAVE_TOTAL_SIZE)',
    meaning: "All of one principal's saved values together",
    details: 'Counted as `MCP_BRIDGE_SAVE_TOTAL_SIZE` counts ([fair shares](team.md#fair-shares))',
  },
  {
    name: 'MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT',
    fallback: '300',
    meaning: 'Close idle upstream connections after, seconds',
  },
  {
    name: 'MCP_BRIDGE_CALL_TIMEOUT',
    fallback: '60',
    meaning: 'Longest wait for one upstream tool call, seconds',
  },
  {
    name: 'MCP_BRIDGE_STATE_DIR',
    fallback: '~/.local/state/codemode-bridge',
    meaning: 'Saved skills and the embedded snapshot',
    details:
      "[Saved skills](guide.md#skills-functions-that-persist) (`skills/`) and the embedded sandbox's snapshot; `$XDG_STATE_HOME/codemode-bridge` when that is set",
  },
  {
    name: 'MCP_BRIDGE_OUTPUT_MODE',
    fallback: 'text',
    meaning: 'Result format: text (also: compact) or toon',
    details:
      "`compact` is the reference bridge's name for its default; `toon` returns the structured result as a toon block",
  },
  {
    name: 'MCP_BRIDGE_CONFIG',
    fallback: '(none)',
    meaning: "Extra MCP config files, separated by ':' (';' on Windows); read first",
    details:
      '`.toml` is read as Codex, anything else as JSON with `mcpServers` or `servers` ([where servers are found](#where-servers-are-found))',
  },
  {
    name: 'MCP_SERVERS_CONFIG',
    fallback: '(none)',
    meaning: "One more MCP config file (the reference bridge's), after ~/MCPs/*.json",
    details: 'JSON, or `.toml` with `[mcpServers.<name>]` tables',
  },
  {
    name: 'MCP_BRIDGE_ALLOW_SELF_SERVER',
    fallback: '0',
    meaning: 'Proxy an mcp-server-code-execution-mode entry instead of skipping it',
    details: "That bridge's own switch (`1`). The bridge's own entry is always skipped",
  },
  {
    name: 'MCP_BRIDGE_POLICY',
    fallback: '(none)',
    meaning: 'Policy file (JSON, or TOML by its .toml name): allow/ask/deny, budgets, tokenizing',
    details: '[Policy](policy.md). A malformed one stops the bridge',
  },
  {
    name: 'MCP_BRIDGE_AUDIT_LOG',
    fallback: '(none)',
    meaning: 'Audit log of every tool call and policy decision (JSON lines)',
    details: '[Audit log](policy.md#audit-log); created with mode 0600',
  },
  {
    name: 'MCP_BRIDGE_AUDIT_MAX_SIZE',
    fallback: '10m',
    meaning: 'Rotate the audit log at this size',
  },
  {
    name: 'MCP_BRIDGE_AUDIT_FILES',
    fallback: '5',
    meaning: 'Rotated audit log files kept (audit.jsonl.1 … .N)',
  },
  {
    name: 'MCP_BRIDGE_AUDIT_VALUES',
    fallback: '0',
    meaning: 'Record argument values (secrets redacted) in the audit log, not only digests',
  },
  {
    name: 'MCP_BRIDGE_AUDIT_RUN_LINES',
    fallback: '1000',
    meaning:
      "Audit lines one run may write (0 = none); its further calls are counted in one summary line at the run's end",
    details:
      "Also at most one file's worth of bytes (`MCP_BRIDGE_AUDIT_MAX_SIZE`) per run, so no run can rotate " +
      '[earlier records](policy.md#audit-log) out of the log',
  },
  {
    name: 'MCP_BRIDGE_CONSOLE_RUNS',
    fallback: '1000',
    meaning:
      'Finished runs the console keeps across restarts, in SQLite under the state directory (0 = none)',
    details: '[Console](operations.md#the-console): oldest dropped first',
  },
  {
    name: 'MCP_BRIDGE_CONSOLE_RUNS_SIZE',
    fallback: '64m',
    meaning: 'Bytes of runs the console keeps across restarts; the oldest are dropped past it',
  },
  {
    name: 'MCP_BRIDGE_LOG_LEVEL',
    fallback: 'info (serve, console; other commands warn)',
    meaning: 'stderr log level: error, warn, info, debug (any case; also warning, critical, fatal, notset)',
  },
];

/** The error for a setting's bad value, naming what is accepted (shared with http-settings.ts). */
export function invalid(name: string, value: string, accepted: string): BridgeError {
  return new BridgeError(
    'CONFIG_INVALID',
    `${name}=${JSON.stringify(value)} is invalid: expected ${accepted}.`,
    {
      details: { variable: name, value },
    },
  );
}

/**
 * One of `choices`, in any case. `aliases` maps other accepted spellings (lower case) onto a choice:
 * the names the reference bridge (mcp-server-code-execution-mode) documents, so its configs work here.
 */
function choice<T extends string>(
  env: NodeJS.ProcessEnv,
  name: string,
  choices: readonly T[],
  fallback: T,
  aliases: Readonly<Record<string, T>> = {},
): T {
  const value = env[name]?.trim();
  if (!value) return fallback;
  const lower = value.toLowerCase();
  if ((choices as readonly string[]).includes(lower)) return lower as T;
  const alias = Object.hasOwn(aliases, lower) ? aliases[lower] : undefined;
  if (alias !== undefined) return alias;
  const also = Object.keys(aliases);
  throw invalid(
    name,
    value,
    `one of ${choices.join(', ')}${also.length > 0 ? ` (or ${also.join(', ')})` : ''}`,
  );
}

// The reference bridge's default mode is `compact`: terse text, which is what `text` is here.
const OUTPUT_MODE_ALIASES: Readonly<Record<string, OutputMode>> = { compact: 'text' };
// Python's logging level names, which the reference bridge passes to logging.basicConfig.
const LOG_LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  warning: 'warn',
  critical: 'error',
  fatal: 'error',
  notset: 'debug',
};

function seconds(env: NodeJS.ProcessEnv, name: string, fallbackSeconds: number): number {
  const value = env[name]?.trim();
  if (!value) return fallbackSeconds * 1000;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw invalid(name, value, 'a positive number of seconds');
  // A longer timer fires at once (Node's timers hold a signed 32-bit count of milliseconds).
  if (parsed * 1000 > MAX_TIMER_MS) {
    throw invalid(name, value, `at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (24.8 days)`);
  }
  // Rounded to whole milliseconds, a tiny value would become 0: refuse what cannot be honoured.
  if (parsed * 1000 < MIN_RUN_TIMEOUT_MS) {
    throw invalid(name, value, `a number of seconds, at least ${MIN_RUN_TIMEOUT_MS / 1000}`);
  }
  return Math.round(parsed * 1000);
}

/** Seconds where 0 turns the feature off: a non-negative number, 0 or at least the shortest run timeout. */
function secondsOrNever(env: NodeJS.ProcessEnv, name: string, fallbackSeconds: number): number {
  const value = env[name]?.trim();
  if (value && Number(value) === 0) return 0;
  return seconds(env, name, fallbackSeconds);
}

/** A bound that must not fall below another one (a pool's ceiling below its floor). */
function atLeast(name: string, value: number, floorName: string, floor: number): void {
  if (value < floor) throw invalid(name, String(value), `at least ${floorName} (${floor})`);
}

export function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, minimum: number): number {
  const value = env[name]?.trim();
  if (!value) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < minimum) throw invalid(name, value, `an integer ≥ ${minimum}`);
  return parsed;
}

function size(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name]?.trim();
  if (!value) return fallback;
  if (!/^\d+(\.\d+)?[bkmg]?$/i.test(value)) throw invalid(name, value, 'a size such as 512m or 2g');
  return value.toLowerCase();
}

const SIZE_UNITS: Readonly<Record<string, number>> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** A size such as `10m` in bytes. */
function bytesOf(size: string): number {
  const unit = size.at(-1) as string;
  return Math.round(Number(unit in SIZE_UNITS ? size.slice(0, -1) : size) * (SIZE_UNITS[unit] ?? 1));
}

function path(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? resolve(value) : undefined;
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  return choice(env, name, ['0', '1'] as const, '0', { false: '0', no: '0', true: '1', yes: '1' }) === '1';
}

function ociRuntimeSetting(env: NodeJS.ProcessEnv, runtime: RuntimeChoice): string | undefined {
  const name = 'MCP_BRIDGE_OCI_RUNTIME';
  const value = env[name]?.trim();
  if (!value) return undefined;
  const known = (OCI_RUNTIME_NAMES as readonly string[]).includes(value);
  if (!known && !isAbsolute(value)) {
    throw invalid(
      name,
      value,
      `one of ${OCI_RUNTIME_NAMES.join(', ')}, or an absolute path to an OCI runtime binary`,
    );
  }
  if (runtime === 'embedded' || runtime === 'monty') {
    throw invalid(
      name,
      value,
      `unset with MCP_BRIDGE_RUNTIME=${runtime} (an OCI runtime runs containers only)`,
    );
  }
  return value;
}

/** `MCP_BRIDGE_LOG_LEVEL` alone, `info` when it is invalid: to report an invalid configuration. */
const LANGUAGES: readonly Language[] = ['python', 'typescript'];

/** MCP_BRIDGE_LANGUAGES: a comma-separated list of languages, each once, in the order given. */
function languageList(env: NodeJS.ProcessEnv): Language[] {
  const value = env.MCP_BRIDGE_LANGUAGES?.trim();
  if (!value) return ['python'];
  const accepted = 'python, typescript, or both separated by a comma (python,typescript)';
  const names = value.split(',').map((name) => name.trim().toLowerCase());
  const chosen: Language[] = [];
  for (const name of names) {
    const language = LANGUAGES.find((known) => known === name);
    if (!language) {
      throw invalid(
        'MCP_BRIDGE_LANGUAGES',
        value,
        `${accepted}; ${JSON.stringify(name)} is not a language the bridge runs`,
      );
    }
    if (!chosen.includes(language)) chosen.push(language);
  }
  return chosen;
}

export function loadLogLevel(env: NodeJS.ProcessEnv = process.env): LogLevel {
  try {
    return choice(env, 'MCP_BRIDGE_LOG_LEVEL', LOG_LEVELS, 'info', LOG_LEVEL_ALIASES);
  } catch {
    return 'info';
  }
}

/**
 * Every setting from `env`. `defaultLogLevel` is the command's: a server logs at `info`, a one-shot
 * command (whose user reads its output, not the bridge's progress) at `warn`.
 */
export function loadSettings(
  env: NodeJS.ProcessEnv = process.env,
  { defaultLogLevel = 'info' }: { defaultLogLevel?: LogLevel } = {},
): Settings {
  const maxTimeoutMs = seconds(env, 'MCP_BRIDGE_MAX_TIMEOUT', 120);
  // Lowering only the maximum lowers the default with it; an explicit default above it is a mistake.
  const timeoutMs = Math.min(
    seconds(env, 'MCP_BRIDGE_TIMEOUT', 30),
    env.MCP_BRIDGE_TIMEOUT ? Infinity : maxTimeoutMs,
  );
  if (timeoutMs > maxTimeoutMs) {
    throw invalid(
      'MCP_BRIDGE_TIMEOUT',
      env.MCP_BRIDGE_TIMEOUT ?? '',
      `at most MCP_BRIDGE_MAX_TIMEOUT (${maxTimeoutMs / 1000} s); for longer runs, raise MCP_BRIDGE_MAX_TIMEOUT too`,
    );
  }
  const cpusText = env.MCP_BRIDGE_CPUS?.trim();
  const cpus = cpusText ? Number(cpusText) : undefined;
  if (cpusText && (!Number.isFinite(cpus) || (cpus ?? 0) <= 0)) {
    throw invalid('MCP_BRIDGE_CPUS', cpusText, 'a positive number of CPUs such as 1 or 0.5');
  }
  const user = env.MCP_BRIDGE_CONTAINER_USER?.trim() || '65534:65534';
  if (!/^\d+(:\d+)?$/.test(user))
    throw invalid('MCP_BRIDGE_CONTAINER_USER', user, 'a numeric uid or uid:gid');
  if (/^0(:|$)/.test(user)) throw invalid('MCP_BRIDGE_CONTAINER_USER', user, 'a non-root uid (not 0)');
  const image = env.MCP_BRIDGE_IMAGE?.trim() || 'python:3.12-slim';
  if (/\s/.test(image)) throw invalid('MCP_BRIDGE_IMAGE', image, 'an image reference without spaces');
  const runtime = choice(env, 'MCP_BRIDGE_RUNTIME', RUNTIME_CHOICES, 'auto');
  const languages = languageList(env);
  const ociRuntime = ociRuntimeSetting(env, runtime);
  const poolSize = env.MCP_BRIDGE_POOL_SIZE?.trim() ? integer(env, 'MCP_BRIDGE_POOL_SIZE', 0, 0) : undefined;
  const poolMax = env.MCP_BRIDGE_POOL_MAX?.trim() ? integer(env, 'MCP_BRIDGE_POOL_MAX', 0, 0) : undefined;
  if (poolSize !== undefined && poolMax !== undefined) {
    atLeast('MCP_BRIDGE_POOL_MAX', poolMax, 'MCP_BRIDGE_POOL_SIZE', poolSize);
  }
  const keepOutputChars = integer(env, 'MCP_BRIDGE_KEEP_OUTPUT_CHARS', 4_000_000, 0);
  const keepOutputTotalChars = integer(env, 'MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS', 32_000_000, 0);
  atLeast(
    'MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS',
    keepOutputTotalChars,
    'MCP_BRIDGE_KEEP_OUTPUT_CHARS',
    keepOutputChars,
  );
  const optional = (name: string, read: () => number) => (env[name]?.trim() ? read() : undefined);
  const perPrincipal = {
    maxRuns: optional('MCP_BRIDGE_MAX_CONCURRENT_RUNS_PER_PRINCIPAL', () =>
      integer(env, 'MCP_BRIDGE_MAX_CONCURRENT_RUNS_PER_PRINCIPAL', 1, 1),
    ),
    maxSessions: optional('MCP_BRIDGE_MAX_SESSIONS_PER_PRINCIPAL', () =>
      integer(env, 'MCP_BRIDGE_MAX_SESSIONS_PER_PRINCIPAL', 1, 1),
    ),
    keptOutputChars: optional('MCP_BRIDGE_KEEP_OUTPUT_PER_PRINCIPAL_CHARS', () =>
      integer(env, 'MCP_BRIDGE_KEEP_OUTPUT_PER_PRINCIPAL_CHARS', 0, 0),
    ),
    savedBytes: optional('MCP_BRIDGE_SAVE_PER_PRINCIPAL_SIZE', () =>
      bytesOf(size(env, 'MCP_BRIDGE_SAVE_PER_PRINCIPAL_SIZE', '1m')),
    ),
  };
  const memory = size(env, 'MCP_BRIDGE_MEMORY', '512m');
  const sessionMemory = size(env, 'MCP_BRIDGE_SESSION_MEMORY', memory);
  // Python in Pyodide cannot load below 64m; a container session that small would die at its first import.
  if (bytesOf(sessionMemory) < 64 * 1024 ** 2) {
    throw invalid('MCP_BRIDGE_SESSION_MEMORY', sessionMemory, 'a size of at least 64m');
  }
  return {
    runtime,
    languages,
    typecheck:
      choice(env, 'MCP_BRIDGE_TYPECHECK', ['on', 'off'] as const, 'on', {
        '1': 'on',
        true: 'on',
        yes: 'on',
        '0': 'off',
        false: 'off',
        no: 'off',
      }) === 'on',
    image,
    timeoutMs,
    maxTimeoutMs,
    memory,
    pids: integer(env, 'MCP_BRIDGE_PIDS', 128, 8),
    cpus,
    containerUser: user,
    tmpfsSize: size(env, 'MCP_BRIDGE_TMPFS_SIZE', '64m'),
    // 128m, as in the reference bridge, whose programs expect a /workspace.
    workspaceSize: size(env, 'MCP_BRIDGE_WORKSPACE_SIZE', '128m'),
    containerChannel: choice(
      env,
      'MCP_BRIDGE_CONTAINER_CHANNEL',
      ['auto', 'socket', 'stdio'] as const,
      'auto',
    ),
    ociRuntime,
    idleTimeoutMs: seconds(env, 'MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT', 300),
    callTimeoutMs: seconds(env, 'MCP_BRIDGE_CALL_TIMEOUT', 60),
    stateDir: resolveStateDir(env),
    outputMode: choice(env, 'MCP_BRIDGE_OUTPUT_MODE', ['text', 'toon'] as const, 'text', OUTPUT_MODE_ALIASES),
    logLevel: choice(env, 'MCP_BRIDGE_LOG_LEVEL', LOG_LEVELS, defaultLogLevel, LOG_LEVEL_ALIASES),
    poolSize,
    poolMax,
    maxConcurrentRuns: integer(env, 'MCP_BRIDGE_MAX_CONCURRENT_RUNS', 8, 1),
    maxOutputChars: integer(env, 'MCP_BRIDGE_MAX_OUTPUT_CHARS', 20_000, 200),
    keepOutputChars,
    keepOutputTotalChars,
    keepOutputMs: seconds(env, 'MCP_BRIDGE_KEEP_OUTPUT_TTL', 900),
    yieldAfterMs: secondsOrNever(env, 'MCP_BRIDGE_YIELD_AFTER', 20),
    sessionIdleMs: seconds(env, 'MCP_BRIDGE_SESSION_IDLE_TIMEOUT', 600),
    maxSessions: integer(env, 'MCP_BRIDGE_MAX_SESSIONS', 8, 1),
    sessionMemory,
    saveMaxBytes: bytesOf(size(env, 'MCP_BRIDGE_SAVE_MAX_SIZE', '64m')),
    saveTotalBytes: bytesOf(size(env, 'MCP_BRIDGE_SAVE_TOTAL_SIZE', '512m')),
    perPrincipal,
    cpuShares: choice(env, 'MCP_BRIDGE_CPU_SHARES', ['auto', 'off'] as const, 'auto'),
    policyPath: path(env, 'MCP_BRIDGE_POLICY'),
    auditLog: path(env, 'MCP_BRIDGE_AUDIT_LOG'),
    auditMaxBytes: Math.max(4096, bytesOf(size(env, 'MCP_BRIDGE_AUDIT_MAX_SIZE', '10m'))),
    auditFiles: integer(env, 'MCP_BRIDGE_AUDIT_FILES', 5, 0),
    auditValues: flag(env, 'MCP_BRIDGE_AUDIT_VALUES'),
    auditRunLines: integer(env, 'MCP_BRIDGE_AUDIT_RUN_LINES', DEFAULT_AUDIT_RUN_LINES, 0),
    consoleRuns: integer(env, 'MCP_BRIDGE_CONSOLE_RUNS', 1000, 0),
    consoleRunsBytes: Math.max(1 << 20, bytesOf(size(env, 'MCP_BRIDGE_CONSOLE_RUNS_SIZE', '64m'))),
  };
}
