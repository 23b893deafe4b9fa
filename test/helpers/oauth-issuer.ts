/**
 * A real OAuth 2.1 / OpenID authorization server on loopback for the bridge's resource-server tests:
 * `oidc-provider` (a certified OpenID provider) in this process, issuing JWT access tokens for a
 * resource indicator (RFC 8707) through the client-credentials grant. Clients stand for people: each
 * token's `sub` is the client id, with a display name and roles added as claims.
 *
 * Keys can be rotated (the provider is replaced on the same address with the new set), and the
 * server counts the requests for its key set, so a test can see when the bridge fetched it again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface IssuerClient {
  id: string;
  /** Display name claim (`name`). */
  name?: string;
  roles?: string[];
  /** Scopes the client may ask for (space-separated). Default: `codemode`. */
  scope?: string;
  /** Access token lifetime, seconds. Default 300. */
  ttlS?: number;
}

export interface OAuthIssuer {
  /** The issuer URL, `http://127.0.0.1:PORT`. */
  issuer: string;
  clientSecret: string;
  /** Requests for the key set so far. */
  jwksFetches(): number;
  /** A JWT access token for `client`, for `resource`, with `scope` (default: the client's). */
  token(client: string, options?: { resource?: string; scope?: string }): Promise<string>;
  /** A fresh signing key, first in the set (new tokens are signed with it); the old keys stay unless `drop`. */
  rotate(options?: { drop?: boolean }): Promise<void>;
  /** The private signing keys now published (public parts) and used, newest first. */
  keys(): JWK[];
  close(): Promise<void>;
}

const SECRET = 'test-client-secret-0123456789abcdef';

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: 'ES256', use: 'sig', kid: `key-${Math.random().toString(36).slice(2, 10)}` };
}

/**
 * Starts the issuer. `keys`: signing keys to use (another issuer with the same keys signs tokens the
 * bridge can verify, but with the wrong `iss`); default: one fresh key.
 */
export async function startIssuer(
  clients: IssuerClient[],
  options: { keys?: JWK[] } = {},
): Promise<OAuthIssuer> {
  let keys = options.keys ?? [await signingKey()];
  let fetches = 0;
  let provider: Provider | undefined;
  const server: Server = createServer((request, response) => {
    if (request.url?.startsWith('/jwks')) fetches++;
    if (!provider) {
      response.writeHead(503).end();
      return;
    }
    provider.callback()(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const byId = new Map(clients.map((client) => [client.id, client]));
  const build = () =>
    new Provider(issuer, {
      clients: clients.map((client) => ({
        client_id: client.id,
        client_secret: SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: client.scope ?? 'codemode',
        id_token_signed_response_alg: 'ES256',
      })),
      jwks: { keys: keys as Array<Record<string, unknown>> },
      scopes: ['codemode', 'other'],
      ttl: {
        ClientCredentials: (_context, token) => token.resourceServer?.accessTokenTTL ?? 300,
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => undefined,
          useGrantedResource: () => true,
          getResourceServerInfo: (_context, resource, client) => ({
            scope: 'codemode other',
            audience: resource,
            accessTokenTTL: byId.get(client.clientId)?.ttlS ?? 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          }),
        },
      },
      extraTokenClaims: (_context, token) => {
        const client = byId.get(token.clientId ?? '');
        return {
          ...(client?.name ? { name: client.name } : {}),
          ...(client?.roles ? { roles: client.roles } : {}),
        };
      },
    });
  provider = build();
  return {
    issuer,
    clientSecret: SECRET,
    jwksFetches: () => fetches,
    async token(client, tokenOptions = {}) {
      const body = new URLSearchParams({ grant_type: 'client_credentials' });
      if (tokenOptions.resource) body.set('resource', tokenOptions.resource);
      const scope = tokenOptions.scope ?? byId.get(client)?.scope ?? 'codemode';
      if (scope) body.set('scope', scope);
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client}:${SECRET}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body,
      });
      const answer = (await response.json()) as { access_token?: string; error_description?: string };
      if (!answer.access_token) throw new Error(`no token for ${client}: ${JSON.stringify(answer)}`);
      return answer.access_token;
    },
    async rotate({ drop = false } = {}) {
      keys = [await signingKey(), ...(drop ? [] : keys)];
      provider = build();
    },
    keys: () => keys,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
