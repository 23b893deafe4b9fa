import { describe, expect, it } from 'vitest';
import { ConsoleSessions } from '../../../../src/server/http/auth/console-sessions.js';
import {
  claimValue,
  grantedScopes,
  metadataUrls,
  principalFromClaims,
} from '../../../../src/server/http/auth/oauth-verifier.js';
import {
  bearerChallenge,
  isMetadataPath,
  protectedResourceMetadata,
  resourceMetadataUrl,
} from '../../../../src/server/http/auth/protected-resource.js';

const options = { roleClaim: 'roles', adminRoles: ['admin'] };

describe('principals from token claims', () => {
  it('takes sub as the id, a display name from the first claim that has one, the role from the role claim', () => {
    expect(principalFromClaims({ sub: 'u1', name: 'Ann', roles: ['dev', 'admin'] }, options)).toEqual({
      id: 'u1',
      name: 'Ann',
      role: 'admin',
    });
    expect(principalFromClaims({ sub: 'u2', preferred_username: 'bo', roles: 'dev' }, options)).toEqual({
      id: 'u2',
      name: 'bo',
      role: 'user',
    });
    expect(principalFromClaims({ sub: 'u3', email: ' \u202ee@x \u0007' }, options)).toMatchObject({
      name: 'e@x',
    });
    expect(principalFromClaims({ sub: 'u4' }, { ...options, nameClaim: 'nick' })).toMatchObject({
      name: 'u4',
    });
  });

  it("reads Keycloak's nested roles and Auth0's namespaced claims, and space- or comma-separated strings", () => {
    const keycloak = { sub: 'k', realm_access: { roles: ['offline_access', 'codemode-admin'] } };
    expect(
      principalFromClaims(keycloak, { roleClaim: 'realm_access.roles', adminRoles: ['codemode-admin'] }),
    ).toMatchObject({ role: 'admin' });
    const auth0 = { sub: 'auth0|1', 'https://codemode.example.com/roles': ['admin'] };
    expect(
      principalFromClaims(auth0, { roleClaim: 'https://codemode.example.com/roles', adminRoles: ['admin'] }),
    ).toMatchObject({
      id: 'auth0|1',
      role: 'admin',
    });
    expect(
      principalFromClaims(
        { sub: 's', scope: 'read codemode:admin' },
        { roleClaim: 'scope', adminRoles: ['codemode:admin'] },
      ),
    ).toMatchObject({
      role: 'admin',
    });
    expect(claimValue({ a: { b: { c: 1 } } }, 'a.b.c')).toBe(1);
    expect(claimValue({ a: 1 }, 'a.b')).toBeUndefined();
    expect(claimValue({ a: {} }, 'a.constructor')).toBeUndefined();
  });

  it('refuses a sub that cannot stand for a principal', () => {
    expect(principalFromClaims({ sub: '' }, options)).toMatch(/sub must be/);
    expect(principalFromClaims({ sub: 'a\nb' }, options)).toMatch(/sub must be/);
    expect(principalFromClaims({ sub: 'x'.repeat(256) }, options)).toMatch(/sub must be/);
  });

  it('reads scopes from scope or scp', () => {
    expect([...grantedScopes({ scope: 'a  b' })]).toEqual(['a', 'b']);
    expect([...grantedScopes({ scp: ['c', 1] })]).toEqual(['c']);
  });
});

describe('protected resource metadata', () => {
  it('is served under the resource path, and names the issuer and scopes', () => {
    expect(resourceMetadataUrl('https://b.example.com/mcp')).toBe(
      'https://b.example.com/.well-known/oauth-protected-resource/mcp',
    );
    expect(resourceMetadataUrl('https://b.example.com/')).toBe(
      'https://b.example.com/.well-known/oauth-protected-resource',
    );
    expect(isMetadataPath('/.well-known/oauth-protected-resource/tools/mcp')).toBe(true);
    expect(isMetadataPath('/.well-known/oauth-protected-resourcex')).toBe(false);
    expect(protectedResourceMetadata({ resource: 'https://b/mcp', issuer: 'https://i', scopes: [] })).toEqual(
      {
        resource: 'https://b/mcp',
        authorization_servers: ['https://i'],
        bearer_methods_supported: ['header'],
        resource_name: 'codemode-bridge',
      },
    );
  });

  it('quotes challenge parameters and drops what a quoted string cannot hold', () => {
    expect(
      bearerChallenge({ error: 'invalid_token', error_description: 'a "b"\\c\n', scope: undefined }),
    ).toBe('Bearer error="invalid_token", error_description="a bc"');
  });

  it("finds the issuer's metadata where RFC 8414 and OpenID discovery put it", () => {
    expect(metadataUrls('https://kc.example.com/realms/team')).toEqual([
      'https://kc.example.com/.well-known/oauth-authorization-server/realms/team',
      'https://kc.example.com/.well-known/openid-configuration/realms/team',
      'https://kc.example.com/realms/team/.well-known/openid-configuration',
    ]);
    expect(metadataUrls('https://tenant.auth0.com/')).toEqual([
      'https://tenant.auth0.com/.well-known/oauth-authorization-server',
      'https://tenant.auth0.com/.well-known/openid-configuration',
    ]);
  });
});

describe('console sign-ins', () => {
  it('last until the credential expires, at most a working day, and end on sign-out', () => {
    const signIns = new ConsoleSessions();
    const principal = { id: 'a', name: 'a', role: 'user' as const };
    const short = signIns.create(principal, 2_000, 1_000);
    expect(signIns.principal(short, 1_500)).toBe(principal);
    expect(signIns.principal(short, 2_000)).toBeUndefined();
    const long = signIns.create(principal, undefined, 0);
    expect(signIns.principal(long, 12 * 3600_000 - 1)).toBe(principal);
    expect(signIns.principal(long, 12 * 3600_000)).toBeUndefined();
    const other = signIns.create(principal, undefined);
    expect(other).toMatch(/^[A-Za-z0-9_-]{43}$/);
    signIns.delete(other);
    expect(signIns.principal(other)).toBeUndefined();
    expect(signIns.principal(undefined)).toBeUndefined();
  });
});
