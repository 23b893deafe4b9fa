/**
 * Who is calling, over HTTP: a request's bearer token becomes a principal, or a refusal with the
 * status and `WWW-Authenticate` challenge the MCP authorization spec asks for. Three kinds of
 * credential, any of which a bridge may accept at once:
 * - the single token (`MCP_BRIDGE_HTTP_TOKEN`): the local user, an admin, as before there were principals;
 * - the tokens file's entries: one principal each, compared by SHA-256 digest in constant time;
 * - with OAuth, JWT access tokens from the configured issuer (oauth-verifier.ts).
 * Without any, every request is the local user, and the bridge serves loopback only (http-settings).
 */
import { timingSafeEqual } from 'node:crypto';
import { localPrincipal, type Principal } from '../../../engine/principal.js';
import type { OAuthVerifier } from './oauth-verifier.js';
import {
  bearerChallenge,
  isMetadataPath,
  type ProtectedResource,
  protectedResourceMetadata,
  resourceMetadataUrl,
} from './protected-resource.js';
import { type TokenEntry, tokenDigest } from './tokens-file.js';

/** A request's credential, judged. */
export type AuthOutcome =
  | {
      kind: 'principal';
      principal: Principal;
      /** When the credential stops being valid (epoch ms); undefined: until the bridge restarts. */
      expiresAt?: number;
    }
  | {
      kind: 'refused';
      status: 401 | 403 | 503;
      /** For the response body: what is wrong and what to do. */
      message: string;
      headers: Record<string, string>;
    };

export interface HttpAuth {
  /** False when there are no credentials at all: every request is the local user (loopback only). */
  readonly required: boolean;
  /** More than one principal can call (a tokens file or OAuth): per-principal limits apply. */
  readonly team: boolean;
  /** How requests are authenticated, for logs, `doctor` and the console; never a secret. */
  readonly description: string;
  /** Judges a request's bearer token (undefined: it sent none). */
  authenticate(token: string | undefined): Promise<AuthOutcome>;
  /** A document served without a credential (OAuth's protected resource metadata) for `pathname`, if any. */
  publicDocument(pathname: string): Record<string, unknown> | undefined;
}

/** No credentials: everyone is the local user. */
export function noAuth(): HttpAuth {
  const principal = localPrincipal();
  return {
    required: false,
    team: false,
    description: 'none (loopback only)',
    authenticate: async () => ({ kind: 'principal', principal }),
    publicDocument: () => undefined,
  };
}

export interface BearerAuthOptions {
  /** The single token (the local user, an admin); undefined: none. */
  token?: { value: string; source: string };
  /** Entries of the tokens file; empty: none. */
  entries: readonly TokenEntry[];
  /** OAuth: the verifier and what the bridge publishes about itself. */
  oauth?: { verifier: Pick<OAuthVerifier, 'verify'>; resource: ProtectedResource };
}

interface StaticCredential {
  digest: Buffer;
  principal: Principal;
}

/** Bearer tokens: the single token, the tokens file's and OAuth's, tried in that order. */
export function bearerAuth(options: BearerAuthOptions): HttpAuth {
  const credentials: StaticCredential[] = options.entries.map((entry) => ({
    digest: entry.digest,
    principal: { id: entry.name, name: entry.name, role: entry.role },
  }));
  if (options.token)
    credentials.unshift({ digest: tokenDigest(options.token.value), principal: localPrincipal() });
  const oauth = options.oauth;
  const metadataUrl = oauth ? resourceMetadataUrl(oauth.resource.resource) : undefined;
  const scope = oauth && oauth.resource.scopes.length > 0 ? oauth.resource.scopes.join(' ') : undefined;
  const challenge = (parameters: Record<string, string | undefined> = {}) =>
    oauth
      ? bearerChallenge({ ...parameters, resource_metadata: metadataUrl, scope })
      : bearerChallenge({ realm: 'codemode-bridge', ...parameters });
  const kinds = [
    ...(options.token ? [`bearer token (${options.token.source})`] : []),
    ...(options.entries.length > 0
      ? [`${options.entries.length} named tokens (MCP_BRIDGE_HTTP_TOKENS_FILE)`]
      : []),
    ...(oauth ? [`OAuth access tokens from ${oauth.resource.issuer}`] : []),
  ];
  const askFor = oauth
    ? `an OAuth access token from ${oauth.resource.issuer} for ${oauth.resource.resource}${options.entries.length > 0 ? ' or a token of MCP_BRIDGE_HTTP_TOKENS_FILE' : ''}`
    : options.entries.length > 0
      ? 'your token (MCP_BRIDGE_HTTP_TOKENS_FILE)'
      : `the token (${options.token?.source ?? 'MCP_BRIDGE_HTTP_TOKEN'})`;
  return {
    required: true,
    team: options.entries.length > 0 || oauth !== undefined,
    description: kinds.join(' and '),
    async authenticate(token) {
      if (token === undefined) {
        return {
          kind: 'refused',
          status: 401,
          message: `Unauthorized: send Authorization: Bearer <token> with ${askFor}.`,
          headers: { 'www-authenticate': challenge() },
        };
      }
      const found = matchStatic(credentials, token);
      if (found) return { kind: 'principal', principal: found };
      if (oauth && looksLikeJwt(token)) {
        const verdict = await oauth.verifier.verify(token);
        if (verdict.kind === 'principal') {
          return {
            kind: 'principal',
            principal: verdict.principal,
            ...(verdict.expiresAt !== undefined ? { expiresAt: verdict.expiresAt } : {}),
          };
        }
        const headers: Record<string, string> =
          verdict.status === 503
            ? { 'retry-after': '10' }
            : {
                'www-authenticate': challenge({
                  error: verdict.error,
                  error_description: verdict.description,
                }),
              };
        const what =
          verdict.status === 403 ? 'Forbidden' : verdict.status === 503 ? 'Unavailable' : 'Unauthorized';
        return {
          kind: 'refused',
          status: verdict.status,
          message: `${what}: ${verdict.description}.`,
          headers,
        };
      }
      return {
        kind: 'refused',
        status: 401,
        message: `Unauthorized: that token is not accepted; send ${askFor}.`,
        headers: { 'www-authenticate': challenge({ error: 'invalid_token' }) },
      };
    },
    publicDocument(pathname) {
      return oauth && isMetadataPath(pathname) ? protectedResourceMetadata(oauth.resource) : undefined;
    },
  };
}

/**
 * The principal whose token this is. Every credential is compared, in constant time, whatever
 * matched: neither the answer's timing nor its order tells a guesser how close a token came.
 */
function matchStatic(credentials: readonly StaticCredential[], token: string): Principal | undefined {
  const digest = tokenDigest(token);
  let found: Principal | undefined;
  for (const credential of credentials) {
    if (timingSafeEqual(credential.digest, digest) && found === undefined) found = credential.principal;
  }
  return found;
}

/** Three base64url segments: worth handing to the JWT verifier (anything else is refused at once). */
function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(token) && token.length <= 16_384;
}
