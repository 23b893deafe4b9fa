/**
 * The bridge as an OAuth 2.1 resource server (MCP authorization): bearer JWTs from one issuer are
 * checked with `jose` (signature against the issuer's published keys, issuer, audience, expiry and
 * not-before with a small clock skew, the required scopes) and become a principal: `sub` is its id, the
 * display name and the role come from configurable claims.
 *
 * Keys: the JWKS URL is the configured one or the issuer's metadata's `jwks_uri` (RFC 8414, then OpenID
 * discovery), fetched once it is first needed and kept for `jwksCacheMs`; a token signed with a key not
 * in the cached set makes jose fetch the set again, at most once per cooldown, so a rotated-in key is
 * accepted within seconds while a flood of unknown `kid`s costs the issuer one request per cooldown.
 * Only asymmetric algorithms are accepted: no `alg: none`, and no HMAC (which would let anyone holding
 * the public key mint tokens).
 */
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { Principal } from '../../../engine/principal.js';
import { errorMessage } from '../../../shared/errors.js';
import type { Logger } from '../../../shared/logger.js';

/** Algorithms a token may be signed with: public-key signatures only. */
export const ACCEPTED_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
/** Clocks of the bridge and the issuer may disagree this much (expiry, not-before). */
export const CLOCK_SKEW_S = 5;
/** A JWKS or metadata request gives up after this long. */
const FETCH_TIMEOUT_MS = 5_000;
/** After the issuer's metadata could not be read, the next attempt waits this long (tokens get 503 meanwhile). */
const DISCOVERY_RETRY_MS = 10_000;
/** Most a refetch on an unknown key is held back; less when keys are kept for less. */
const MAX_COOLDOWN_MS = 30_000;
const MAX_NAME_CHARS = 100;
const MAX_SUB_CHARS = 255;
/** The claims tried for a display name when none is configured, in order; then `sub`. */
const DEFAULT_NAME_CLAIMS = ['name', 'preferred_username', 'email'];

export interface OAuthOptions {
  /** Must equal the tokens' `iss` exactly. */
  issuer: string;
  /** Accepted `aud` values: the bridge's resource URL unless configured otherwise. */
  audiences: readonly string[];
  /** Scopes every token must carry (`scope` or `scp`). */
  scopes: readonly string[];
  /** Where the keys are; undefined: from the issuer's metadata. */
  jwksUrl?: string;
  /** The display name's claim; undefined: name, preferred_username, email, then sub. */
  nameClaim?: string;
  /** The claim holding roles (a list, or a string of space- or comma-separated values; dotted for nesting). */
  roleClaim: string;
  /** Values of the role claim that make a principal an admin. */
  adminRoles: readonly string[];
  /** How long fetched keys are kept before they are fetched again. */
  jwksCacheMs: number;
  logger: Logger;
}

/** How a token was judged: a principal, or why not (the status, and RFC 6750's error). */
export type TokenVerdict =
  | { kind: 'principal'; principal: Principal; expiresAt: number | undefined }
  | {
      kind: 'refused';
      status: 401 | 403 | 503;
      error: 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable';
      description: string;
    };

export class OAuthVerifier {
  readonly #options: OAuthOptions;
  #keys: JWTVerifyGetKey | undefined;
  #discovery: Promise<JWTVerifyGetKey> | undefined;
  #discoveryFailedAt = 0;
  #discoveryError = '';

  constructor(options: OAuthOptions) {
    this.#options = options;
  }

  /** Looks up the keys now, so the first client does not wait for it; a failure is logged, retried later. */
  prepare(): void {
    this.#keySource().catch((error) =>
      this.#options.logger.warn(
        "cannot read the OAuth issuer's keys yet; tokens are refused until it works",
        {
          issuer: this.#options.issuer,
          error: errorMessage(error),
        },
      ),
    );
  }

  async verify(token: string): Promise<TokenVerdict> {
    const options = this.#options;
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.#keySource();
    } catch (error) {
      return unavailable(`the issuer's keys cannot be read: ${errorMessage(error)}`);
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: [...options.audiences],
        algorithms: ACCEPTED_ALGORITHMS,
        clockTolerance: CLOCK_SKEW_S,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      return refusalOf(error, options);
    }
    const granted = grantedScopes(claims);
    const missing = options.scopes.filter((scope) => !granted.has(scope));
    if (missing.length > 0) {
      return {
        kind: 'refused',
        status: 403,
        error: 'insufficient_scope',
        description: `the token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(' ')}`,
      };
    }
    const principal = principalFromClaims(claims, options);
    if (typeof principal === 'string') {
      return { kind: 'refused', status: 401, error: 'invalid_token', description: principal };
    }
    return {
      kind: 'principal',
      principal,
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
    };
  }

  /** The key resolver, made once the JWKS URL is known; a failed discovery is retried after a pause. */
  #keySource(): Promise<JWTVerifyGetKey> {
    if (this.#keys) return Promise.resolve(this.#keys);
    if (!this.#discovery) {
      if (Date.now() - this.#discoveryFailedAt < DISCOVERY_RETRY_MS) {
        return Promise.reject(new Error(this.#discoveryError));
      }
      const { jwksUrl, issuer, jwksCacheMs } = this.#options;
      this.#discovery = (async () => {
        const url = jwksUrl ?? (await discoverJwksUrl(issuer));
        this.#keys = createRemoteJWKSet(new URL(url), {
          cacheMaxAge: jwksCacheMs,
          cooldownDuration: Math.min(MAX_COOLDOWN_MS, jwksCacheMs),
          timeoutDuration: FETCH_TIMEOUT_MS,
        });
        return this.#keys;
      })();
      this.#discovery.catch((error) => {
        this.#discovery = undefined;
        this.#discoveryFailedAt = Date.now();
        this.#discoveryError = errorMessage(error);
      });
    }
    return this.#discovery;
  }
}

function unavailable(description: string): TokenVerdict {
  return { kind: 'refused', status: 503, error: 'temporarily_unavailable', description };
}

/** What was wrong with a token, in words a person can act on (never the token itself). */
function refusalOf(error: unknown, options: OAuthOptions): TokenVerdict {
  const refused = (description: string): TokenVerdict => ({
    kind: 'refused',
    status: 401,
    error: 'invalid_token',
    description,
  });
  if (error instanceof errors.JWTExpired) return refused('the token has expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return refused(`the token was not issued by ${options.issuer} (MCP_BRIDGE_OAUTH_ISSUER)`);
      case 'aud':
        return refused(
          `the token is not for this bridge: its audience is not ${options.audiences.join(' or ')} (request it with resource=${options.audiences[0]})`,
        );
      case 'nbf':
        return refused('the token is not valid yet (nbf)');
      default:
        return refused(
          `the token's ${error.claim} claim is ${error.reason === 'missing' ? 'missing' : 'invalid'}`,
        );
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return refused(`the token's algorithm is not accepted (only ${ACCEPTED_ALGORITHMS.join(', ')})`);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return refused('the token is signed with a key the issuer does not publish');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return refused("the token's signature does not verify");
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return unavailable(`the issuer's keys cannot be read: ${error.message}`);
  }
  if (error instanceof errors.JOSEError) return refused('not a valid JWT access token');
  // Anything else is the key fetch failing (a refused connection, a non-200 answer).
  return unavailable(`the issuer's keys cannot be read: ${errorMessage(error)}`);
}

/**
 * The JWKS URL from the issuer's metadata: RFC 8414 first, then OpenID Connect discovery, in the order
 * the MCP authorization spec gives clients; the document must name the configured issuer.
 */
export async function discoverJwksUrl(issuer: string): Promise<string> {
  const problems: string[] = [];
  for (const url of metadataUrls(issuer)) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
        redirect: 'error',
      });
    } catch (error) {
      problems.push(`${url}: ${errorMessage((error as Error).cause ?? error)}`);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      problems.push(`${url}: HTTP ${response.status}`);
      continue;
    }
    let metadata: { issuer?: unknown; jwks_uri?: unknown };
    try {
      metadata = (await response.json()) as typeof metadata;
    } catch {
      problems.push(`${url}: not JSON`);
      continue;
    }
    if (metadata.issuer !== issuer) {
      throw new Error(
        `${url} names the issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(issuer)}; set MCP_BRIDGE_OAUTH_ISSUER to exactly the issuer your tokens carry in \`iss\``,
      );
    }
    if (typeof metadata.jwks_uri !== 'string')
      throw new Error(`${url} has no jwks_uri; set MCP_BRIDGE_OAUTH_JWKS_URL`);
    return metadata.jwks_uri;
  }
  throw new Error(`no metadata for ${issuer} (${problems.join('; ')})`);
}

/** RFC 8414 section 3.1 (path inserted) and OpenID Connect Discovery (inserted, then appended). */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  if (path === '') {
    return [
      `${url.origin}/.well-known/oauth-authorization-server`,
      `${url.origin}/.well-known/openid-configuration`,
    ];
  }
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}/.well-known/openid-configuration${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/** The scopes a token grants: `scope` (a space-separated string, RFC 9068) or `scp` (a list or a string). */
export function grantedScopes(claims: JWTPayload): Set<string> {
  const granted = new Set<string>();
  for (const value of [claims.scope, claims.scp]) {
    const items = typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value : [];
    for (const item of items) if (typeof item === 'string' && item !== '') granted.add(item);
  }
  return granted;
}

/**
 * A claim by name, or by a dotted path into nested objects (`realm_access.roles`) when no claim has
 * that whole name (so a namespaced claim such as `https://example.com/roles` is found as it is).
 */
export function claimValue(claims: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value: unknown = claims;
  for (const part of name.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: controls are exactly what is refused or removed
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The principal a verified token stands for, or why it cannot stand for one. */
export function principalFromClaims(
  claims: JWTPayload,
  options: Pick<OAuthOptions, 'nameClaim' | 'roleClaim' | 'adminRoles'>,
): Principal | string {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUB_CHARS || sub.match(CONTROLS)) {
    return `the token's sub must be 1-${MAX_SUB_CHARS} printable characters`;
  }
  const record = claims as Record<string, unknown>;
  const candidates = options.nameClaim ? [options.nameClaim] : DEFAULT_NAME_CLAIMS;
  let name = sub;
  for (const claim of candidates) {
    const value = claimValue(record, claim);
    const clean = typeof value === 'string' ? value.replace(CONTROLS, '').trim() : '';
    if (clean !== '') {
      name = clean.slice(0, MAX_NAME_CHARS);
      break;
    }
  }
  const roles = claimValue(record, options.roleClaim);
  const held =
    typeof roles === 'string'
      ? roles.split(/[\s,]+/)
      : Array.isArray(roles)
        ? roles.filter((role): role is string => typeof role === 'string')
        : [];
  const admin = held.some((role) => options.adminRoles.includes(role));
  return { id: sub, name, role: admin ? 'admin' : 'user' };
}
