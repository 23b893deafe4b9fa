/**
 * Settings of `serve --http` (docs/operations.md): the token, allowed origins, session and connection
 * limits, timeouts. Read
 * only by the commands that serve HTTP and by `doctor`; an invalid value fails fast, naming it.
 */
import { readFileSync } from 'node:fs';
import { isLoopbackHost } from '../server/http/http-guard.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import { OPEN_FILE_LIMIT } from '../shared/fd-exhaustion.js';
import { integer, invalid, type SettingHelp } from './settings.js';

export interface HttpSettings {
  /** The bearer token; undefined: none, loopback only. */
  token: string | undefined;
  /** Where the token came from, for `doctor` and logs (never the token). */
  tokenSource: 'MCP_BRIDGE_HTTP_TOKEN' | 'MCP_BRIDGE_HTTP_TOKEN_FILE' | undefined;
  allowedOrigins: string[];
  maxSessions: number;
  sessionIdleMs: number;
  /** How long shutdown lets runs finish before cancelling them. */
  drainMs: number;
  /** A connection must have sent a request's head this long after connecting or starting it. */
  headersTimeoutMs: number;
  /** A request's head and body must have arrived this long after it started (not its answer). */
  requestTimeoutMs: number;
  /** A kept-alive connection with no request is closed after this long. */
  idleTimeoutMs: number;
  /** Connections open at once from one client address (every loopback address is one client). */
  maxConnectionsPerClient: number;
  /** Connections open at once in all. */
  maxConnections: number;
}

/** A token shorter than this is refused: it would be guessable. */
const MIN_TOKEN_CHARS = 16;
/** Timeouts above a day are surely a mistake, and Node's timers overflow past ~24.8 days anyway. */
const MAX_TIMEOUT_S = 86_400;

export const HTTP_SETTINGS_HELP: readonly SettingHelp[] = [
  {
    name: 'MCP_BRIDGE_HTTP_TOKEN',
    fallback: '(none)',
    meaning: 'serve --http: bearer token clients must send (at least 16 characters)',
    details:
      'Guards `/mcp`, `/metrics` and `/console`; without a token the bridge serves loopback only ([auth](operations.md#auth))',
  },
  {
    name: 'MCP_BRIDGE_HTTP_TOKEN_FILE',
    fallback: '(none)',
    meaning: 'serve --http: file holding the token (its first line)',
    details: 'Not with `MCP_BRIDGE_HTTP_TOKEN`',
  },
  {
    name: 'MCP_BRIDGE_HTTP_ALLOWED_ORIGINS',
    fallback: '(loopback)',
    meaning: "serve --http: browser origins allowed besides http://localhost:PORT, separated by ','",
  },
  {
    name: 'MCP_BRIDGE_HTTP_MAX_SESSIONS',
    fallback: '32',
    meaning: 'serve --http: MCP sessions (clients) at once; more get 503',
  },
  {
    name: 'MCP_BRIDGE_HTTP_SESSION_IDLE',
    fallback: '1800',
    meaning: 'serve --http: close a session idle this long, seconds',
  },
  {
    name: 'MCP_BRIDGE_HTTP_DRAIN',
    fallback: '30',
    meaning: 'serve --http: on SIGTERM, let runs finish this long, seconds',
  },
  {
    name: 'MCP_BRIDGE_HTTP_HEADERS_TIMEOUT',
    fallback: '20',
    meaning:
      "serve --http: close a connection that has not sent a request's headers this long after connecting, seconds",
    details:
      'Counted from connecting (or from the first byte of a request on a kept-alive connection); answered 408 ([connections](operations.md#connections-and-file-descriptors))',
  },
  {
    name: 'MCP_BRIDGE_HTTP_REQUEST_TIMEOUT',
    fallback: '120',
    meaning: 'serve --http: close a connection whose request (headers and body) takes longer, seconds',
    details:
      'At least `MCP_BRIDGE_HTTP_HEADERS_TIMEOUT`. Covers receiving the request only: a run streams its answer for as long as it runs',
  },
  {
    name: 'MCP_BRIDGE_HTTP_IDLE_TIMEOUT',
    fallback: '5',
    meaning: 'serve --http: close a kept-alive connection idle this long, seconds',
    details: "Behind a reverse proxy that reuses connections, make it longer than the proxy's idle timeout",
  },
  {
    name: 'MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT',
    fallback: '64',
    meaning: 'serve --http: connections at once from one address; more are answered 503 and closed',
    details:
      'Every loopback address counts as one client, an IPv6 address as its /64. Behind a reverse proxy every connection comes from the proxy: raise it there',
  },
  {
    name: 'MCP_BRIDGE_HTTP_MAX_CONNECTIONS',
    fallback: '512 (at most half of ulimit -n)',
    meaning: 'serve --http: connections at once in all; more are answered 503 and closed',
    details: 'Leaves the rest of the open-file limit to sandboxes, upstream servers and the audit log',
  },
];

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number, maximum = Infinity): number {
  const value = env[name]?.trim();
  if (!value) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0 || parsed > maximum) {
    throw invalid(name, value, `a positive number${Number.isFinite(maximum) ? ` up to ${maximum}` : ''}`);
  }
  return parsed;
}

/** A timeout in seconds, as whole milliseconds (at least 1). */
function timeoutMs(env: NodeJS.ProcessEnv, name: string, fallbackSeconds: number): number {
  return Math.max(1, Math.round(positive(env, name, fallbackSeconds, MAX_TIMEOUT_S) * 1000));
}

export function loadHttpSettings(env: NodeJS.ProcessEnv = process.env): HttpSettings {
  let token: string | undefined;
  let tokenSource: HttpSettings['tokenSource'];
  const inline = env.MCP_BRIDGE_HTTP_TOKEN?.trim();
  const file = env.MCP_BRIDGE_HTTP_TOKEN_FILE?.trim();
  if (inline && file) {
    throw new BridgeError(
      'CONFIG_INVALID',
      'Both MCP_BRIDGE_HTTP_TOKEN and MCP_BRIDGE_HTTP_TOKEN_FILE are set; set one.',
      { details: { variable: 'MCP_BRIDGE_HTTP_TOKEN' } },
    );
  }
  if (inline) {
    token = inline;
    tokenSource = 'MCP_BRIDGE_HTTP_TOKEN';
  } else if (file) {
    try {
      token = readFileSync(file, 'utf8').split(/\r?\n/, 1)[0]?.trim();
    } catch (error) {
      throw new BridgeError(
        'CONFIG_INVALID',
        `MCP_BRIDGE_HTTP_TOKEN_FILE=${JSON.stringify(file)} cannot be read: ${errorMessage(error)}.`,
        { cause: error, details: { variable: 'MCP_BRIDGE_HTTP_TOKEN_FILE' } },
      );
    }
    tokenSource = 'MCP_BRIDGE_HTTP_TOKEN_FILE';
  }
  if (tokenSource && (token === undefined || token.length < MIN_TOKEN_CHARS || /\s/.test(token))) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `The token in ${tokenSource} must be at least ${MIN_TOKEN_CHARS} characters without spaces (e.g. \`openssl rand -hex 32\`).`,
      { details: { variable: tokenSource } },
    );
  }
  const origins = (env.MCP_BRIDGE_HTTP_ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || parsed.origin === 'null' || parsed.origin !== origin.replace(/\/+$/, '').toLowerCase()) {
      throw invalid(
        'MCP_BRIDGE_HTTP_ALLOWED_ORIGINS',
        origin,
        'origins like https://bridge.example.com (scheme, host, optional port; no path)',
      );
    }
  }
  const maxSessions = integer(env, 'MCP_BRIDGE_HTTP_MAX_SESSIONS', 32, 1);
  const headersTimeoutMs = timeoutMs(env, 'MCP_BRIDGE_HTTP_HEADERS_TIMEOUT', 20);
  const requestTimeoutMs = timeoutMs(env, 'MCP_BRIDGE_HTTP_REQUEST_TIMEOUT', 120);
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `MCP_BRIDGE_HTTP_REQUEST_TIMEOUT (${requestTimeoutMs / 1000} s) is shorter than MCP_BRIDGE_HTTP_HEADERS_TIMEOUT (${headersTimeoutMs / 1000} s): a request's headers are part of it; make it at least as long.`,
      { details: { variable: 'MCP_BRIDGE_HTTP_REQUEST_TIMEOUT' } },
    );
  }
  return {
    token,
    tokenSource,
    allowedOrigins: origins,
    maxSessions,
    sessionIdleMs: Math.round(positive(env, 'MCP_BRIDGE_HTTP_SESSION_IDLE', 1800) * 1000),
    drainMs: Math.round(positive(env, 'MCP_BRIDGE_HTTP_DRAIN', 30) * 1000),
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs: timeoutMs(env, 'MCP_BRIDGE_HTTP_IDLE_TIMEOUT', 5),
    maxConnectionsPerClient: integer(env, 'MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT', 64, 1),
    maxConnections: integer(
      env,
      'MCP_BRIDGE_HTTP_MAX_CONNECTIONS',
      defaultMaxConnections(OPEN_FILE_LIMIT),
      1,
    ),
  };
}

/**
 * 512, but no more than half the open-file limit: connections alone must never take the descriptors
 * sandboxes, upstream servers and the audit log need.
 */
export function defaultMaxConnections(openFileLimit: number | undefined): number {
  return openFileLimit === undefined ? 512 : Math.max(16, Math.min(512, Math.floor(openFileLimit / 2)));
}

/** Refuses to listen beyond this machine without a token: anyone who can reach the port could run code. */
export function checkBindAllowed(host: string, settings: Pick<HttpSettings, 'token'>): void {
  if (settings.token !== undefined || isLoopbackHost(host)) return;
  throw new BridgeError(
    'CONFIG_INVALID',
    `Refusing to serve HTTP on ${host} without a token: anyone who can reach it could run code and call your MCP servers. ` +
      'Set MCP_BRIDGE_HTTP_TOKEN or MCP_BRIDGE_HTTP_TOKEN_FILE, or listen on 127.0.0.1 (the default) behind a reverse proxy.',
    { details: { variable: 'MCP_BRIDGE_HTTP_TOKEN' } },
  );
}
