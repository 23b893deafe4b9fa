/**
 * Settings of `serve --http` (docs/operations.md): the token, allowed origins, session limits. Read
 * only by the commands that serve HTTP and by `doctor`; an invalid value fails fast, naming it.
 */
import { readFileSync } from 'node:fs';
import { isLoopbackHost } from '../server/http/http-guard.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
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
}

/** A token shorter than this is refused: it would be guessable. */
const MIN_TOKEN_CHARS = 16;

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
];

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name]?.trim();
  if (!value) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) throw invalid(name, value, 'a positive number');
  return parsed;
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
  return {
    token,
    tokenSource,
    allowedOrigins: origins,
    maxSessions,
    sessionIdleMs: Math.round(positive(env, 'MCP_BRIDGE_HTTP_SESSION_IDLE', 1800) * 1000),
    drainMs: Math.round(positive(env, 'MCP_BRIDGE_HTTP_DRAIN', 30) * 1000),
  };
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
