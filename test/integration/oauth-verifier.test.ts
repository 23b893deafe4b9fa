/**
 * The bridge's OAuth resource-server checks (oauth-verifier.ts, http-auth.ts) against a real
 * authorization server on loopback (oidc-provider, test/helpers/oauth-issuer.ts): a valid token, an
 * expired one, one for another audience, one from another issuer, one without the required scope,
 * key rotation (a new key is found by fetching the set again, at most once per cooldown; a removed key
 * is refused once the cached set expires), `alg: none`, an HMAC token keyed with the public key, and
 * garbage. Each refusal says what was wrong, with the challenge MCP clients follow.
 */
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth } from '../../src/server/http/auth/http-auth.js';
import { OAuthVerifier } from '../../src/server/http/auth/oauth-verifier.js';
import { createLogger } from '../../src/shared/logger.js';
import { type OAuthIssuer, startIssuer } from '../helpers/oauth-issuer.js';

const RESOURCE = 'http://127.0.0.1:8377/mcp';
const CACHE_MS = 1500;

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('OAuth access tokens against a real authorization server', () => {
  let issuer: OAuthIssuer;
  let other: OAuthIssuer;
  let verifier: OAuthVerifier;
  let auth: ReturnType<typeof bearerAuth>;

  beforeAll(async () => {
    issuer = await startIssuer([
      { id: 'alice', name: 'Alice Liddell', roles: ['dev'] },
      { id: 'carol', name: 'Carol', roles: ['dev', 'admin'] },
      { id: 'noscope', scope: 'other' },
      { id: 'brief', ttlS: 1 },
    ]);
    // Same keys, another issuer: the signature verifies, the issuer does not.
    other = await startIssuer([{ id: 'alice' }], { keys: issuer.keys() });
    verifier = new OAuthVerifier({
      issuer: issuer.issuer,
      audiences: [RESOURCE],
      scopes: ['codemode'],
      roleClaim: 'roles',
      adminRoles: ['admin'],
      jwksCacheMs: CACHE_MS,
      logger: createLogger('error'),
    });
    auth = bearerAuth({
      entries: [],
      oauth: { verifier, resource: { resource: RESOURCE, issuer: issuer.issuer, scopes: ['codemode'] } },
    });
  }, 30_000);

  afterAll(async () => {
    await issuer?.close();
    await other?.close();
  });

  it('accepts a valid token: sub is the principal, the name and role come from claims', async () => {
    const verdict = await verifier.verify(await issuer.token('alice', { resource: RESOURCE }));
    expect(verdict).toMatchObject({
      kind: 'principal',
      principal: { id: 'alice', name: 'Alice Liddell', role: 'user' },
    });
    const admin = await verifier.verify(await issuer.token('carol', { resource: RESOURCE }));
    expect(admin).toMatchObject({ kind: 'principal', principal: { id: 'carol', role: 'admin' } });
    expect(verdict.kind === 'principal' && verdict.expiresAt).toBeGreaterThan(Date.now());
  });

  it('refuses a token for another audience, from another issuer, or without the scope', async () => {
    const audience = await auth.authenticate(
      await issuer.token('alice', { resource: 'http://other.example/mcp' }),
    );
    expect(audience).toMatchObject({ kind: 'refused', status: 401 });
    expect(audience.kind === 'refused' && audience.message).toMatch(/not for this bridge.*audience/);
    expect(audience.kind === 'refused' && audience.headers['www-authenticate']).toMatch(
      /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="http:\/\/127\.0\.0\.1:8377\/\.well-known\/oauth-protected-resource\/mcp", scope="codemode"$/,
    );
    const foreign = await auth.authenticate(await other.token('alice', { resource: RESOURCE }));
    expect(foreign.kind === 'refused' && foreign.message).toMatch(/not issued by http:\/\/127\.0\.0\.1:\d+/);
    const scopeless = await auth.authenticate(await issuer.token('noscope', { resource: RESOURCE }));
    expect(scopeless).toMatchObject({ kind: 'refused', status: 403 });
    expect(scopeless.kind === 'refused' && scopeless.headers['www-authenticate']).toMatch(
      /error="insufficient_scope".*scope="codemode"/,
    );
  });

  it('refuses an expired token (past the clock skew)', async () => {
    const token = await issuer.token('brief', { resource: RESOURCE });
    expect((await verifier.verify(token)).kind).toBe('principal');
    await sleep(7_000);
    expect(await verifier.verify(token)).toMatchObject({
      kind: 'refused',
      description: 'the token has expired',
    });
  }, 20_000);

  it('refuses alg none, an HMAC token keyed with the public key, and garbage', async () => {
    const valid = await issuer.token('alice', { resource: RESOURCE });
    const [, payload] = valid.split('.');
    const none = `${base64url({ alg: 'none', typ: 'at+jwt' })}.${payload}.`;
    expect(await auth.authenticate(none)).toMatchObject({ kind: 'refused', status: 401 });
    expect(await verifier.verify(none)).toMatchObject({
      description: expect.stringMatching(/algorithm is not accepted/),
    });
    const key = issuer.keys()[0];
    const publicJwk = JSON.stringify({ kty: key?.kty, crv: key?.crv, x: key?.x, y: key?.y });
    const header = base64url({ alg: 'HS256', typ: 'at+jwt', kid: key?.kid });
    const mac = createHmac('sha256', publicJwk).update(`${header}.${payload}`).digest('base64url');
    expect(await verifier.verify(`${header}.${payload}.${mac}`)).toMatchObject({
      kind: 'refused',
      description: expect.stringMatching(/algorithm is not accepted/),
    });
    for (const garbage of ['garbage', 'a.b.c', `${valid}x`, `${valid.slice(0, -4)}AAAA`]) {
      expect(await auth.authenticate(garbage), garbage).toMatchObject({ kind: 'refused', status: 401 });
    }
    const missing = await auth.authenticate(undefined);
    expect(missing.kind === 'refused' && missing.headers['www-authenticate']).toBe(
      'Bearer resource_metadata="http://127.0.0.1:8377/.well-known/oauth-protected-resource/mcp", scope="codemode"',
    );
  });

  it('follows key rotation: a new key is fetched once per cooldown, a removed one refused once the cache expires', async () => {
    const before = await issuer.token('alice', { resource: RESOURCE });
    expect((await verifier.verify(before)).kind).toBe('principal');
    await issuer.rotate();
    const rotated = await issuer.token('alice', { resource: RESOURCE });
    expect(JSON.parse(Buffer.from(rotated.split('.')[0] ?? '', 'base64url').toString()).kid).toBe(
      issuer.keys()[0]?.kid,
    );
    // Once the cooldown since the last fetch has passed, the unknown key makes the bridge fetch the set.
    await sleep(CACHE_MS + 100);
    const fetches = issuer.jwksFetches();
    expect((await verifier.verify(rotated)).kind).toBe('principal');
    expect((await verifier.verify(before)).kind).toBe('principal');
    expect(issuer.jwksFetches()).toBe(fetches + 1);
    // A flood of tokens signed with keys nobody publishes costs the issuer at most one fetch per cooldown.
    const [header, payload, signature] = rotated.split('.');
    const claimed = JSON.parse(Buffer.from(header ?? '', 'base64url').toString());
    const unknownKid = `${base64url({ ...claimed, kid: 'nobody-publishes-this' })}.${payload}.${signature}`;
    const floodStart = issuer.jwksFetches();
    for (let i = 0; i < 20; i++) {
      expect(await verifier.verify(unknownKid)).toMatchObject({ kind: 'refused', status: 401 });
    }
    expect(issuer.jwksFetches() - floodStart).toBeLessThanOrEqual(1);
    // The old key is removed: its tokens stay valid until the cached set expires, then are refused.
    await issuer.rotate({ drop: true });
    await sleep(CACHE_MS + 200);
    expect(await verifier.verify(before)).toMatchObject({
      kind: 'refused',
      description: 'the token is signed with a key the issuer does not publish',
    });
    expect((await verifier.verify(await issuer.token('alice', { resource: RESOURCE }))).kind).toBe(
      'principal',
    );
  }, 30_000);
});
