/**
 * Who may call `serve --http` (docs/team.md): the tokens file (`MCP_BRIDGE_HTTP_TOKENS_FILE`) and OAuth
 * (`MCP_BRIDGE_HTTP_AUTH=oauth`, `MCP_BRIDGE_OAUTH_*`). Read with the other HTTP settings; an invalid
 * value, or a tokens file with a mistake, stops the bridge before it serves, naming what to fix.
 */

import { loadTokensFile, type TokenEntry, TokensFileError } from '../server/http/auth/tokens-file.js';
import { isLoopbackHost } from '../server/http/http-guard.js';
import { BridgeError } from '../shared/errors.js';
import { invalid, type SettingHelp } from './settings.js';

export interface OAuthSettings {
  /** Exactly the tokens' `iss`. */
  issuer: string;
  /** The MCP endpoint's URL as clients reach it: the resource tokens are requested for. */
  resource: string;
  /** Accepted `aud` values (default: the resource). */
  audiences: string[];
  /** Scopes every token must carry. */
  scopes: string[];
  /** Undefined: from the issuer's metadata. */
  jwksUrl: string | undefined;
  /** Undefined: name, preferred_username, email, then sub. */
  nameClaim: string | undefined;
  roleClaim: string;
  adminRoles: string[];
  jwksCacheMs: number;
}

export interface AuthSettings {
  /** The tokens file, absolute as given; undefined: none. */
  tokensFile: string | undefined;
  /** Its entries, checked (empty without a file). */
  tokens: TokenEntry[];
  oauth: OAuthSettings | undefined;
}

const DEFAULT_ROLE_CLAIM = 'roles';
const DEFAULT_ADMIN_ROLE = 'admin';
const DEFAULT_JWKS_CACHE_S = 600;
const OAUTH_VARIABLES = [
  'MCP_BRIDGE_OAUTH_ISSUER',
  'MCP_BRIDGE_OAUTH_RESOURCE',
  'MCP_BRIDGE_OAUTH_AUDIENCE',
  'MCP_BRIDGE_OAUTH_SCOPES',
  'MCP_BRIDGE_OAUTH_JWKS_URL',
  'MCP_BRIDGE_OAUTH_NAME_CLAIM',
  'MCP_BRIDGE_OAUTH_ROLE_CLAIM',
  'MCP_BRIDGE_OAUTH_ADMIN_ROLES',
  'MCP_BRIDGE_OAUTH_JWKS_CACHE',
];

export const AUTH_SETTINGS_HELP: readonly SettingHelp[] = [
  {
    name: 'MCP_BRIDGE_HTTP_AUTH',
    fallback: 'token',
    meaning:
      'serve --http: token (the tokens below) or oauth (JWT access tokens from MCP_BRIDGE_OAUTH_ISSUER)',
    details:
      'With `oauth`, the tokens of `MCP_BRIDGE_HTTP_TOKEN` and `MCP_BRIDGE_HTTP_TOKENS_FILE` are accepted too (for scripts and CI) ([team](team.md))',
  },
  {
    name: 'MCP_BRIDGE_HTTP_TOKENS_FILE',
    fallback: '(none)',
    meaning:
      'serve --http: a TOML or JSON file of named tokens, one principal each (name, role, token or sha256)',
    details:
      'Each entry: `name`, `role` (`user` or `admin`), and the token itself (`token`) or its SHA-256 digest (`sha256`) ([tokens file](team.md#named-tokens))',
  },
  {
    name: 'MCP_BRIDGE_OAUTH_ISSUER',
    fallback: '(none)',
    meaning: "serve --http with oauth: the authorization server's issuer, exactly as tokens carry it in iss",
    details:
      'https (http only on loopback). Its metadata gives the keys unless `MCP_BRIDGE_OAUTH_JWKS_URL` is set',
  },
  {
    name: 'MCP_BRIDGE_OAUTH_RESOURCE',
    fallback: '(none)',
    meaning:
      "serve --http with oauth: the MCP endpoint's URL as clients reach it, e.g. https://bridge.example.com/mcp",
    details:
      'The resource clients request tokens for (RFC 8707) and the default audience; published at `/.well-known/oauth-protected-resource`',
  },
  {
    name: 'MCP_BRIDGE_OAUTH_AUDIENCE',
    fallback: '(the resource)',
    meaning: "serve --http with oauth: accepted values of the tokens' aud, separated by ','",
    details: "For an issuer that sets its own audience (Auth0's API identifier, a Keycloak audience mapper)",
  },
  {
    name: 'MCP_BRIDGE_OAUTH_SCOPES',
    fallback: '(none)',
    meaning: "serve --http with oauth: scopes every token must carry, separated by ' ' or ','",
    details: 'A token without them gets 403 `insufficient_scope` naming them',
  },
  {
    name: 'MCP_BRIDGE_OAUTH_JWKS_URL',
    fallback: "(from the issuer's metadata)",
    meaning: "serve --http with oauth: where the issuer's signing keys are",
  },
  {
    name: 'MCP_BRIDGE_OAUTH_JWKS_CACHE',
    fallback: String(DEFAULT_JWKS_CACHE_S),
    meaning: "serve --http with oauth: keep the issuer's keys this long, seconds",
    details:
      'A token signed with a key not in the set fetches it again at once (at most every 30 s, or this, if shorter): a removed key is refused after this long',
  },
  {
    name: 'MCP_BRIDGE_OAUTH_NAME_CLAIM',
    fallback: '(name, preferred_username, email)',
    meaning: "serve --http with oauth: the claim holding a principal's display name (else its sub)",
  },
  {
    name: 'MCP_BRIDGE_OAUTH_ROLE_CLAIM',
    fallback: DEFAULT_ROLE_CLAIM,
    meaning:
      'serve --http with oauth: the claim holding roles (a list, or values separated by spaces or commas)',
    details:
      "A dotted name reaches into objects when no claim has the whole name: `realm_access.roles` (Keycloak's realm roles)",
  },
  {
    name: 'MCP_BRIDGE_OAUTH_ADMIN_ROLES',
    fallback: DEFAULT_ADMIN_ROLE,
    meaning:
      "serve --http with oauth: values of the role claim that make a principal an admin, separated by ','",
  },
];

function list(value: string | undefined, separators: RegExp): string[] {
  return (value ?? '')
    .split(separators)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** An https URL, or http on this machine (a development issuer, a bridge behind nothing). */
function url(env: NodeJS.ProcessEnv, name: string, required: boolean): string | undefined {
  const value = env[name]?.trim();
  if (!value) {
    if (!required) return undefined;
    throw new BridgeError(
      'CONFIG_INVALID',
      `MCP_BRIDGE_HTTP_AUTH=oauth needs ${name} (${name === 'MCP_BRIDGE_OAUTH_ISSUER' ? "the authorization server's issuer URL" : "the MCP endpoint's URL as clients reach it, e.g. https://bridge.example.com/mcp"}).`,
      { details: { variable: name } },
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw invalid(name, value, 'an absolute URL');
  }
  const local = parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname.replace(/^\[|\]$/g, ''));
  if ((parsed.protocol !== 'https:' && !local) || parsed.hash !== '' || parsed.username !== '') {
    throw invalid(name, value, 'an https URL (http only on loopback), without credentials or fragment');
  }
  return value;
}

export function loadAuthSettings(env: NodeJS.ProcessEnv): AuthSettings {
  const mode = env.MCP_BRIDGE_HTTP_AUTH?.trim() || 'token';
  if (mode !== 'token' && mode !== 'oauth') {
    throw invalid('MCP_BRIDGE_HTTP_AUTH', mode, 'token or oauth');
  }
  const tokensFile = env.MCP_BRIDGE_HTTP_TOKENS_FILE?.trim() || undefined;
  let tokens: TokenEntry[] = [];
  if (tokensFile) {
    try {
      tokens = loadTokensFile(tokensFile);
    } catch (error) {
      if (!(error instanceof TokensFileError)) throw error;
      throw new BridgeError('CONFIG_INVALID', `Invalid MCP_BRIDGE_HTTP_TOKENS_FILE: ${error.message}`, {
        cause: error,
        details: { variable: 'MCP_BRIDGE_HTTP_TOKENS_FILE' },
      });
    }
  }
  if (mode === 'token') {
    const stray = OAUTH_VARIABLES.find((name) => env[name]?.trim());
    if (stray) {
      throw new BridgeError(
        'CONFIG_INVALID',
        `${stray} is set but MCP_BRIDGE_HTTP_AUTH is not oauth; set MCP_BRIDGE_HTTP_AUTH=oauth to accept OAuth access tokens, or unset ${stray}.`,
        { details: { variable: stray } },
      );
    }
    return { tokensFile, tokens, oauth: undefined };
  }
  const issuer = url(env, 'MCP_BRIDGE_OAUTH_ISSUER', true) as string;
  const resource = url(env, 'MCP_BRIDGE_OAUTH_RESOURCE', true) as string;
  const audiences = list(env.MCP_BRIDGE_OAUTH_AUDIENCE, /,/);
  const cacheText = env.MCP_BRIDGE_OAUTH_JWKS_CACHE?.trim();
  const cacheSeconds = cacheText ? Number(cacheText) : DEFAULT_JWKS_CACHE_S;
  if (!Number.isFinite(cacheSeconds) || cacheSeconds < 1 || cacheSeconds > 86_400) {
    throw invalid('MCP_BRIDGE_OAUTH_JWKS_CACHE', cacheText ?? '', 'seconds from 1 to 86400');
  }
  const adminRoles = list(env.MCP_BRIDGE_OAUTH_ADMIN_ROLES ?? DEFAULT_ADMIN_ROLE, /,/);
  return {
    tokensFile,
    tokens,
    oauth: {
      issuer,
      resource,
      audiences: audiences.length > 0 ? audiences : [resource],
      scopes: list(env.MCP_BRIDGE_OAUTH_SCOPES, /[\s,]+/),
      jwksUrl: url(env, 'MCP_BRIDGE_OAUTH_JWKS_URL', false),
      nameClaim: env.MCP_BRIDGE_OAUTH_NAME_CLAIM?.trim() || undefined,
      roleClaim: env.MCP_BRIDGE_OAUTH_ROLE_CLAIM?.trim() || DEFAULT_ROLE_CLAIM,
      adminRoles,
      jwksCacheMs: Math.round(cacheSeconds * 1000),
    },
  };
}
