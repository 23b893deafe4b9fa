/**
 * MCP_BRIDGE_* environment variables (README, "Configuration"), parsed once at start. An invalid value
 * fails fast with a message naming the variable, the value and what is accepted.
 */

import { delimiter, isAbsolute, resolve } from 'node:path';
import { MIN_RUN_TIMEOUT_MS } from '../engine/types.js';
import { OCI_RUNTIME_NAMES } from '../sandbox/container/oci-runtime.js';
import type { ChannelChoice } from '../sandbox/container/socket-channel.js';
import type { OutputMode } from '../server/format.js';
import { BridgeError } from '../shared/errors.js';
import { LOG_LEVELS, type LogLevel } from '../shared/logger.js';
import { resolveStateDir } from '../shared/state-dir.js';

const RUNTIME_CHOICES = ['auto', 'podman', 'docker', 'embedded', 'monty'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];

export interface Settings {
  runtime: RuntimeChoice;
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
  configPaths: string[];
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
}

/** Every variable with its default and meaning; the source of `--help` and the README table. */
export const SETTINGS_HELP: ReadonlyArray<readonly [name: string, fallback: string, meaning: string]> = [
  [
    'MCP_BRIDGE_RUNTIME',
    'auto',
    'Sandbox: auto (Monty when a program fits, else podman, then docker, then embedded), podman, docker, embedded (Deno + Pyodide), monty (every program on Monty)',
  ],
  ['MCP_BRIDGE_IMAGE', 'python:3.12-slim', 'Container image with python3 on its PATH'],
  ['MCP_BRIDGE_TIMEOUT', '30', 'Default run timeout, seconds'],
  ['MCP_BRIDGE_MAX_TIMEOUT', '120', 'Largest timeout a call may ask for, seconds'],
  ['MCP_BRIDGE_MEMORY', '512m', 'Memory limit per sandbox (embedded: the Python heap)'],
  ['MCP_BRIDGE_PIDS', '128', 'Process/thread limit per sandbox'],
  ['MCP_BRIDGE_CPUS', '(unlimited)', 'CPU quota per sandbox, e.g. 1 or 0.5'],
  ['MCP_BRIDGE_CONTAINER_USER', '65534:65534', 'uid:gid the code runs as'],
  ['MCP_BRIDGE_TMPFS_SIZE', '64m', 'Size of the writable, noexec /tmp'],
  [
    'MCP_BRIDGE_WORKSPACE_SIZE',
    '128m',
    'Size of the writable, noexec /workspace (working directory and HOME)',
  ],
  ['MCP_BRIDGE_CONTAINER_CHANNEL', 'auto', 'Frames via a mounted Unix socket (socket) or the attach (stdio)'],
  [
    'MCP_BRIDGE_OCI_RUNTIME',
    "(the engine's)",
    'OCI runtime of containers: runc, crun, runsc (gVisor), or an absolute path to one',
  ],
  [
    'MCP_BRIDGE_POOL_SIZE',
    '2 (at most MCP_BRIDGE_POOL_MAX)',
    'Sandboxes kept started ahead of demand when idle (0 = none)',
  ],
  [
    'MCP_BRIDGE_POOL_MAX',
    '16 (embedded: 8 per core, at most 16)',
    'Most sandboxes a burst grows the pool to; it shrinks when quiet',
  ],
  ['MCP_BRIDGE_MAX_CONCURRENT_RUNS', '8', 'Programs running at once; more wait their turn'],
  ['MCP_BRIDGE_MAX_OUTPUT_CHARS', '20000', 'Output kept per stream (head + tail), characters'],
  [
    'MCP_BRIDGE_KEEP_OUTPUT_CHARS',
    '4000000',
    'Stdout beyond the cap kept per run for mcp.runtime.read_output, characters (0 = none)',
  ],
  [
    'MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS',
    '32000000',
    'Kept stdout of all runs together; oldest dropped first',
  ],
  ['MCP_BRIDGE_KEEP_OUTPUT_TTL', '900', 'How long kept stdout can be read, seconds'],
  [
    'MCP_BRIDGE_YIELD_AFTER',
    '20',
    'A run_python call still running after this long returns its output so far and a wait handle, seconds (0 = never)',
  ],
  ['MCP_BRIDGE_SESSION_IDLE_TIMEOUT', '600', 'End a run_python session idle this long, seconds'],
  ['MCP_BRIDGE_MAX_SESSIONS', '8', 'Live run_python sessions at once (each keeps one sandbox)'],
  [
    'MCP_BRIDGE_SESSION_MEMORY',
    '(MCP_BRIDGE_MEMORY)',
    "Memory limit of each session's sandbox; running out ends the session (at least 64m)",
  ],
  ['MCP_BRIDGE_SAVE_MAX_SIZE', '64m', 'Largest value mcp.runtime.save keeps (pickled)'],
  ['MCP_BRIDGE_SAVE_TOTAL_SIZE', '512m', 'All saved values together'],
  ['MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT', '300', 'Close idle upstream connections after, seconds'],
  ['MCP_BRIDGE_CALL_TIMEOUT', '60', 'Longest wait for one upstream tool call, seconds'],
  ['MCP_BRIDGE_STATE_DIR', '~/.local/state/codemode-bridge', 'Saved skills and the embedded snapshot'],
  ['MCP_BRIDGE_OUTPUT_MODE', 'text', 'Result format: text (also: compact) or toon'],
  ['MCP_BRIDGE_CONFIG', '(none)', `Extra MCP config files, separated by '${delimiter}'; read first`],
  ['MCP_SERVERS_CONFIG', '(none)', "One more MCP config file (the reference bridge's), after ~/MCPs/*.json"],
  [
    'MCP_BRIDGE_ALLOW_SELF_SERVER',
    '0',
    'Proxy an mcp-server-code-execution-mode entry instead of skipping it',
  ],
  [
    'MCP_BRIDGE_POLICY',
    '(none)',
    'Policy file (JSON, or TOML by its .toml name): allow/ask/deny, budgets, tokenizing',
  ],
  ['MCP_BRIDGE_AUDIT_LOG', '(none)', 'Audit log of every tool call and policy decision (JSON lines)'],
  ['MCP_BRIDGE_AUDIT_MAX_SIZE', '10m', 'Rotate the audit log at this size'],
  ['MCP_BRIDGE_AUDIT_FILES', '5', 'Rotated audit log files kept (audit.jsonl.1 … .N)'],
  [
    'MCP_BRIDGE_AUDIT_VALUES',
    '0',
    'Record argument values (secrets redacted) in the audit log, not only digests',
  ],
  [
    'MCP_BRIDGE_LOG_LEVEL',
    'info (serve, console; other commands warn)',
    'stderr log level: error, warn, info, debug (any case; also warning, critical, fatal, notset)',
  ],
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
      `at most MCP_BRIDGE_MAX_TIMEOUT (${maxTimeoutMs / 1000} s)`,
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
  const memory = size(env, 'MCP_BRIDGE_MEMORY', '512m');
  const sessionMemory = size(env, 'MCP_BRIDGE_SESSION_MEMORY', memory);
  // Python in Pyodide cannot load below 64m; a container session that small would die at its first import.
  if (bytesOf(sessionMemory) < 64 * 1024 ** 2) {
    throw invalid('MCP_BRIDGE_SESSION_MEMORY', sessionMemory, 'a size of at least 64m');
  }
  return {
    runtime,
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
    configPaths: (env.MCP_BRIDGE_CONFIG ?? '')
      .split(delimiter)
      .map((path) => path.trim())
      .filter(Boolean),
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
    policyPath: path(env, 'MCP_BRIDGE_POLICY'),
    auditLog: path(env, 'MCP_BRIDGE_AUDIT_LOG'),
    auditMaxBytes: Math.max(4096, bytesOf(size(env, 'MCP_BRIDGE_AUDIT_MAX_SIZE', '10m'))),
    auditFiles: integer(env, 'MCP_BRIDGE_AUDIT_FILES', 5, 0),
    auditValues: flag(env, 'MCP_BRIDGE_AUDIT_VALUES'),
  };
}
