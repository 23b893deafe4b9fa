/**
 * Who is calling `serve --http` (a real bridge, embedded sandbox): named tokens from a tokens file,
 * and OAuth access tokens from a real authorization server on loopback (oidc-provider), found by the
 * MCP SDK client's own OAuth support from the bridge's 401 and its protected resource metadata. A
 * session answers only its principal; a tokens file with a mistake stops the bridge naming the line;
 * no request without a credential, and no request another site starts, makes an upstream start.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tokenDigest } from '../../src/server/http/auth/tokens-file.js';
import {
  type HttpBridge,
  runPython,
  startHttpBridge,
  textOf,
  writeTokensFile,
} from '../helpers/http-bridge.js';
import { type OAuthIssuer, startIssuer } from '../helpers/oauth-issuer.js';
import { freePort } from '../helpers/upstreams.js';

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdefgh';
const ROOT = 'root-token-0123456789abcdefg';
const CI = 'ci-bot-token-0123456789abcdef';

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function me(base: string, token: string): Promise<unknown> {
  const response = await fetch(`${base}/console/api/me`, { headers: { authorization: `Bearer ${token}` } });
  return response.json();
}

describe('serve --http with named tokens', () => {
  let dir: string;
  let bridge: HttpBridge;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-team-auth-'));
    const tokens = join(dir, 'tokens.toml');
    writeFileSync(
      tokens,
      [
        '# one principal per entry',
        '[[tokens]]',
        'name = "alice"',
        `token = "${ALICE}"`,
        '',
        '[[tokens]]',
        'name = "bob"',
        'role = "user"',
        `sha256 = "${tokenDigest(BOB).toString('hex')}"`,
        '',
        '[[tokens]]',
        'name = "root"',
        'role = "admin"',
        `token = "${ROOT}"`,
        '',
      ].join('\n'),
    );
    bridge = await startHttpBridge(['serve', '--http', '0'], {
      HOME: dir,
      MCP_BRIDGE_HTTP_TOKENS_FILE: tokens,
    });
  }, 60_000);

  afterAll(async () => {
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('knows each principal by its token, and refuses an unknown one', async () => {
    expect(await me(bridge.base, ALICE)).toEqual({ id: 'alice', name: 'alice', role: 'user' });
    expect(await me(bridge.base, BOB)).toEqual({ id: 'bob', name: 'bob', role: 'user' });
    expect(await me(bridge.base, ROOT)).toEqual({ id: 'root', name: 'root', role: 'admin' });
    await expect(bridge.connect({ token: 'mallory-token-0123456789abc' })).rejects.toThrow(
      /401|Unauthorized/,
    );
    const refused = await fetch(`${bridge.base}/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: INITIALIZE,
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="codemode-bridge"');
    expect(bridge.stderr()).not.toContain(ALICE);
  });

  it("answers a session only to its principal: another's id is a session that does not exist", async () => {
    const alice = await bridge.connect({ token: ALICE, name: 'alice-client' });
    expect(textOf(await runPython(alice, { code: 'print(6 * 7)', timeout: 90 }))).toContain('42');
    const sessionId = (alice.transport as StreamableHTTPClientTransport).sessionId as string;
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    const asBob = await fetch(`${bridge.base}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${BOB}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
      },
      body: list,
    });
    expect(asBob.status).toBe(404);
    const asAlice = await fetch(`${bridge.base}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${ALICE}`,
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-06-18',
      },
      body: list,
    });
    expect(asAlice.status).toBe(200);
    await alice.close();
  }, 120_000);
});

describe('a tokens file with a mistake', () => {
  it('stops the bridge before it serves, naming the file, the line and the entry', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codemode-team-auth-'));
    try {
      const toml = join(dir, 'tokens.toml');
      writeFileSync(
        toml,
        `[[tokens]]\nname = "alice"\ntoken = "${ALICE}"\n\n[[tokens]]\nname = "bob"\nrole = "owner"\ntoken = "${BOB}"\n`,
      );
      await expect(
        startHttpBridge(['serve', '--http', '0'], { HOME: dir, MCP_BRIDGE_HTTP_TOKENS_FILE: toml }),
      ).rejects.toThrow(/tokens\.toml:7: tokens\[1\]\.role: expected "user" or "admin"/);
      const json = join(dir, 'tokens.json');
      writeFileSync(
        json,
        JSON.stringify(
          {
            tokens: [
              { name: 'alice', token: ALICE },
              { name: 'bob', sha256: 'abc' },
            ],
          },
          null,
          2,
        ),
      );
      await expect(
        startHttpBridge(['serve', '--http', '0'], { HOME: dir, MCP_BRIDGE_HTTP_TOKENS_FILE: json }),
      ).rejects.toThrow(/tokens\.json:9: tokens\[1\]\.sha256: expected 64 hex digits/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('serve --http as an OAuth resource server', () => {
  let dir: string;
  let issuer: OAuthIssuer;
  let bridge: HttpBridge;
  let resource: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-team-oauth-'));
    issuer = await startIssuer([
      { id: 'alice', name: 'Alice Liddell', roles: ['dev'] },
      { id: 'carol', name: 'Carol', roles: ['admin'] },
      { id: 'noscope', scope: 'other' },
    ]);
    const port = await freePort();
    resource = `http://127.0.0.1:${port}/mcp`;
    const tokens = writeTokensFile(dir, [{ name: 'ci-bot', token: CI }]);
    bridge = await startHttpBridge(['serve', '--http', String(port)], {
      HOME: dir,
      MCP_BRIDGE_HTTP_AUTH: 'oauth',
      MCP_BRIDGE_OAUTH_ISSUER: issuer.issuer,
      MCP_BRIDGE_OAUTH_RESOURCE: resource,
      MCP_BRIDGE_OAUTH_SCOPES: 'codemode',
      MCP_BRIDGE_HTTP_TOKENS_FILE: tokens,
    });
  }, 60_000);

  afterAll(async () => {
    await bridge?.stop();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 401 with the challenge MCP clients follow, and publishes its protected resource metadata', async () => {
    const refused = await fetch(`${bridge.base}/mcp`, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: INITIALIZE,
    });
    expect(refused.status).toBe(401);
    const metadataUrl = `${bridge.base}/.well-known/oauth-protected-resource/mcp`;
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${metadataUrl}", scope="codemode"`,
    );
    for (const url of [metadataUrl, `${bridge.base}/.well-known/oauth-protected-resource`]) {
      const metadata = await fetch(url, { headers: { origin: 'https://inspector.example' } });
      expect(metadata.status).toBe(200);
      expect(metadata.headers.get('access-control-allow-origin')).toBe('*');
      expect(await metadata.json()).toEqual({
        resource,
        authorization_servers: [issuer.issuer],
        scopes_supported: ['codemode'],
        bearer_methods_supported: ['header'],
        resource_name: 'codemode-bridge',
      });
    }
  });

  it("lets the SDK's OAuth client discover the issuer, get a token for this resource and run code", async () => {
    const provider = new ClientCredentialsProvider({
      clientId: 'alice',
      clientSecret: issuer.clientSecret,
      scope: 'codemode',
      expectedIssuer: issuer.issuer,
    });
    const client = await bridge.connect({ authProvider: provider, name: 'oauth-client' });
    expect(textOf(await runPython(client, { code: 'print("as alice", 6 * 7)', timeout: 90 }))).toContain(
      'as alice 42',
    );
    const token = provider.tokens()?.access_token as string;
    expect(await me(bridge.base, token)).toEqual({ id: 'alice', name: 'Alice Liddell', role: 'user' });
    await client.close();
  }, 120_000);

  it('maps the role claim, keeps the tokens file for scripts, and refuses the wrong audience or scope', async () => {
    expect(await me(bridge.base, await issuer.token('carol', { resource }))).toMatchObject({
      id: 'carol',
      role: 'admin',
    });
    expect(await me(bridge.base, CI)).toEqual({ id: 'ci-bot', name: 'ci-bot', role: 'user' });
    const elsewhere = await fetch(`${bridge.base}/mcp`, {
      method: 'POST',
      headers: {
        ...MCP_HEADERS,
        authorization: `Bearer ${await issuer.token('alice', { resource: 'https://other.example/mcp' })}`,
      },
      body: INITIALIZE,
    });
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="the token is not for this bridge/,
    );
    const scopeless = await fetch(`${bridge.base}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${await issuer.token('noscope', { resource })}` },
      body: INITIALIZE,
    });
    expect(scopeless.status).toBe(403);
    expect(scopeless.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="codemode"/);
  }, 60_000);
});

describe('no upstream starts for a request without a credential or started by another site', () => {
  let dir: string;
  let marker: string;
  let config: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-team-guard-'));
    marker = join(dir, 'started');
    config = join(dir, 'mcp.json');
    // An "upstream" that only records that it was started.
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: {
          tripwire: {
            command: process.execPath,
            args: [
              '-e',
              `require('node:fs').appendFileSync(${JSON.stringify(marker)}, 'x'); setTimeout(() => {}, 60000)`,
            ],
          },
        },
      }),
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('with tokens: refused requests start nothing', async () => {
    const bridge = await startHttpBridge(['serve', '--http', '0'], {
      HOME: dir,
      MCP_BRIDGE_CONFIG: config,
      MCP_BRIDGE_HTTP_TOKEN: ROOT,
    });
    try {
      for (const path of ['/console/api/search?q=anything', '/console/api/state', '/metrics']) {
        const response = await fetch(`${bridge.base}${path}`, { headers: { 'x-codemode-console': '1' } });
        expect(response.status, path).toBe(401);
      }
      expect(
        (await fetch(`${bridge.base}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE }))
          .status,
      ).toBe(401);
      expect(existsSync(marker)).toBe(false);
    } finally {
      await bridge.stop();
    }
  }, 60_000);

  it("without a token: another site's image, form or no-cors fetch starts nothing; the console itself does", async () => {
    const bridge = await startHttpBridge(['serve', '--http', '0'], { HOME: dir, MCP_BRIDGE_CONFIG: config });
    try {
      const search = `${bridge.base}/console/api/search?q=anything`;
      // An <img src> of the search from another site: the browser says so.
      const image = await fetch(search, {
        headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' },
      });
      expect(image.status).toBe(403);
      // A browser without Sec-Fetch-*: the request lacks the console's header.
      expect((await fetch(search)).status).toBe(403);
      // A link that navigates to the search.
      const link = await fetch(search, {
        headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
      });
      expect(link.status).toBe(403);
      // A form posting text/plain to /mcp.
      const form = await fetch(`${bridge.base}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: INITIALIZE,
      });
      expect(form.status).toBe(415);
      // A page on another port of localhost (same-site) posting JSON it may not read: no preflight is answered.
      const sameSite = await fetch(`${bridge.base}/console/api/run`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors' },
        body: '{"code": "print(1)"}',
      });
      expect(sameSite.status).toBe(403);
      expect(existsSync(marker)).toBe(false);
      // The console's own request (its header, from its own origin) does search, and starts the upstream.
      const own = await fetch(search, {
        headers: { 'x-codemode-console': '1', 'sec-fetch-site': 'same-origin' },
      });
      expect(own.status).toBe(200);
      expect(existsSync(marker)).toBe(true);
    } finally {
      await bridge.stop();
    }
  }, 60_000);
});
