/**
 * `serve --http` as a real child process (embedded sandbox) with the SDK's streamable HTTP client:
 * two clients at once in sessions of their own, bearer-token auth, the Origin and Host checks, the
 * session limit, refusing a non-loopback address without a token or an invalid setting, and shutdown
 * with a run in flight.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BRIDGE_MAIN } from '../helpers/environment.js';
import { type HttpBridge, runPython, startHttpBridge, textOf } from '../helpers/http-bridge.js';

const TOKEN = 'test-token-0123456789abcdef';

describe('serve --http without a token (loopback)', () => {
  let bridge: HttpBridge;
  beforeAll(async () => {
    bridge = await startHttpBridge(['serve', '--http', '0'], { MCP_BRIDGE_HTTP_MAX_SESSIONS: '2' });
  }, 60_000);
  afterAll(async () => {
    await bridge?.stop();
  });

  it('serves two clients at once, each in its own MCP session', async () => {
    // The address, with the port `--http 0` chose, is printed whatever the log level.
    // (It follows the log line the helper waited for, maybe in a later read of the pipe.)
    await vi.waitFor(() =>
      expect(bridge.stderr()).toContain(`codemode-bridge: serving MCP at ${bridge.base}/mcp\n`),
    );
    const [a, b] = await Promise.all([bridge.connect({ name: 'a' }), bridge.connect({ name: 'b' })]);
    const transportA = a.transport as StreamableHTTPClientTransport;
    const transportB = b.transport as StreamableHTTPClientTransport;
    expect(transportA.sessionId).toBeTruthy();
    expect(transportA.sessionId).not.toBe(transportB.sessionId);
    const tools = await a.listTools();
    expect(tools.tools.map((tool) => tool.name)).toEqual(['run_python']);
    const [ra, rb] = await Promise.all([
      runPython(a, { code: 'import asyncio\nawait asyncio.sleep(0.3)\nprint("from a", 6 * 7)', timeout: 90 }),
      runPython(b, { code: 'print("from b", 2 + 2)', timeout: 90 }),
    ]);
    expect(textOf(ra)).toContain('from a 42');
    expect(textOf(rb)).toContain('from b 4');
    // The limit is 2 sessions: a third client is refused with 503 until one leaves.
    await expect(bridge.connect({ name: 'c' })).rejects.toThrow(/503|Too many MCP sessions/);
    await transportA.terminateSession();
    await a.close();
    const c = await bridge.connect({ name: 'c' });
    expect(textOf(await runPython(c, { code: 'print("c ok")', timeout: 90 }))).toContain('c ok');
    for (const client of [b, c]) {
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      await client.close();
    }
  }, 120_000);

  it('streams a long run: its progress reaches the client while the run goes, and a short reply comes whole', async () => {
    const client = await bridge.connect({ name: 'progress' });
    let settled = false;
    let pendingAfterProgress: boolean | undefined;
    let probing: Promise<void> | undefined;
    const run = client
      .callTool(
        {
          name: 'run_python',
          arguments: { code: 'import asyncio\nawait asyncio.sleep(3)\nprint("slept")', timeout: 90 },
        },
        undefined,
        {
          timeout: 120_000,
          onprogress: () => {
            // A round trip after the first progress, then: is the run still going? (It is, if the
            // response was streamed rather than held back until its end.)
            probing ??= client.ping().then(() => {
              pendingAfterProgress = !settled;
            });
          },
        },
      )
      .finally(() => {
        settled = true;
      });
    const result = (await run) as Awaited<ReturnType<typeof runPython>>;
    await probing;
    expect(textOf(result)).toContain('slept');
    expect(pendingAfterProgress).toBe(true);
    expect(textOf(await runPython(client, { code: 'print("short")', timeout: 90 }))).toContain('short');
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await client.close();
  }, 120_000);

  it('refuses a browser origin other than its own, and a Host that is not loopback', async () => {
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
      }),
    };
    const evil = await fetch(`${bridge.base}/mcp`, {
      ...init,
      headers: { ...init.headers, origin: 'http://evil.example' },
    });
    expect(evil.status).toBe(403);
    expect(await evil.text()).toMatch(/origin http:\/\/evil.example is not allowed/);
    const port = new URL(bridge.base).port;
    const own = await fetch(`${bridge.base}/mcp`, {
      ...init,
      headers: { ...init.headers, origin: `http://localhost:${port}` },
    });
    expect(own.status).toBe(200);
    // DNS rebinding: a name that resolves to 127.0.0.1 but is not a loopback name.
    const { request } = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        `${bridge.base}/healthz`,
        { headers: { host: `rebound.example:${port}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.once('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('answers a body that is not JSON with a parse error, and a batch or a non-message with an invalid request', async () => {
    const post = async (body: string) => {
      const response = await fetch(`${bridge.base}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body,
      });
      return { status: response.status, reply: (await response.json()) as Record<string, unknown> };
    };
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '0' } },
    };
    expect(await post('{"jsonrpc": "2.0", garbage')).toEqual({
      status: 400,
      reply: {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32700, message: 'Parse error: the body is not JSON.' },
      },
    });
    const batch = await post(JSON.stringify([initialize, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]));
    expect(batch).toEqual({
      status: 400,
      reply: {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32600, message: expect.stringContaining('JSON-RPC batch') },
      },
    });
    expect((batch.reply.error as { message: string }).message).toContain('2025-06-18');
    expect(await post('42')).toMatchObject({ status: 400, reply: { id: null, error: { code: -32600 } } });
    // None of them opened a session: a client still connects and works.
    const client = await bridge.connect({ name: 'after-garbage' });
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(['run_python']);
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await client.close();
  });
});

describe('serve --http with a token', () => {
  let bridge: HttpBridge;
  let tokenFile: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codemode-http-'));
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    bridge = await startHttpBridge(['serve', '--http', '0', '--host', '127.0.0.1'], {
      MCP_BRIDGE_HTTP_TOKEN_FILE: tokenFile,
    });
  }, 60_000);
  afterAll(async () => {
    await bridge?.stop();
  });

  it('refuses clients without the token or with a wrong one, accepts the right one', async () => {
    await expect(bridge.connect()).rejects.toThrow(/401|Unauthorized/);
    await expect(bridge.connect({ token: 'wrong-token-0123456789' })).rejects.toThrow(/401|Unauthorized/);
    const client = await bridge.connect({ token: TOKEN });
    expect(textOf(await runPython(client, { code: 'print(1 + 1)', timeout: 90 }))).toContain('2');
    const metrics = await fetch(`${bridge.base}/metrics`);
    expect(metrics.status).toBe(401);
    await client.close();
  }, 60_000);

  it('ends on SIGTERM with a run in flight: the run is answered or cancelled, the process exits 0', async () => {
    const client = await bridge.connect({ token: TOKEN });
    const code = 'import asyncio\nawait asyncio.sleep(1.5)\nprint("finished")';
    const run = runPython(client, { code, timeout: 90 }).then(
      (result) => textOf(result),
      (error: Error) => `failed: ${error.message}`,
    );
    // The signal goes out once the run is in flight: the console's feed lists it as running.
    await vi.waitFor(
      async () => {
        const response = await fetch(`${bridge.base}/console/api/runs`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        const { runs } = (await response.json()) as { runs: Array<{ code: string; status: string }> };
        expect(runs.find((each) => each.code === code)?.status).toBe('running');
      },
      { timeout: 30_000, interval: 20 },
    );
    const status = await bridge.stop();
    // The drain lets a short run finish before the sessions close.
    expect(bridge.stderr()).toContain('waiting for runs to finish');
    expect(await run).toContain('finished');
    expect(status).toBe(0);
  }, 60_000);
});

describe('serve --http while it shuts down', () => {
  /** GET on a connection of its own (no pooled keep-alive one): what a new probe sees. */
  function probe(url: string): Promise<{ status: number | undefined; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, { agent: false }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        response.on('end', () => resolve({ status: response.statusCode, body }));
      });
      request.once('error', reject);
      request.end();
    });
  }

  it('answers a new /healthz probe with 503 draining, and new work with 503, while runs drain', async () => {
    const bridge = await startHttpBridge(['serve', '--http', '0']);
    try {
      expect(await probe(`${bridge.base}/healthz`)).toEqual({ status: 200, body: 'ok\n' });
      const client = await bridge.connect();
      const run = runPython(client, {
        code: 'import asyncio\nprint("started", flush=True)\nawait asyncio.sleep(4)\nprint("finished")',
        timeout: 90,
      }).then(textOf);
      await vi.waitFor(
        async () => {
          // The console's API answers only what sends its header (console-route.ts).
          const response = await fetch(`${bridge.base}/console/api/runs`, {
            headers: { 'x-codemode-console': '1' },
          });
          const { runs } = (await response.json()) as { runs: Array<{ status: string }> };
          expect(runs.some((each) => each.status === 'running')).toBe(true);
        },
        { timeout: 30_000, interval: 20 },
      );
      const exited = once(bridge.child, 'exit');
      bridge.child.kill('SIGTERM');
      await vi.waitFor(() => expect(bridge.stderr()).toContain('waiting for runs to finish'), {
        timeout: 10_000,
        interval: 20,
      });
      expect(await probe(`${bridge.base}/healthz`)).toEqual({ status: 503, body: 'draining\n' });
      expect((await probe(`${bridge.base}/mcp`)).status).toBe(503);
      expect(await run).toContain('finished');
      expect((await exited)[0]).toBe(0);
    } finally {
      await bridge.stop();
    }
  }, 90_000);
});

describe('serve --http refuses to start', () => {
  it('on a non-loopback address without a token, saying why', async () => {
    await expect(startHttpBridge(['serve', '--http', '0', '--host', '0.0.0.0'])).rejects.toThrow(
      /Refusing to serve HTTP on 0\.0\.0\.0 without a token[\s\S]*MCP_BRIDGE_HTTP_TOKEN/,
    );
  }, 30_000);

  it('with an invalid setting, exiting 2 at once rather than serving the error on stdio', async () => {
    // stdin stays open, as under a terminal or a service manager: serving the error to an MCP
    // client on stdio would wait there for ever, with no port open.
    const child = spawn(process.execPath, [BRIDGE_MAIN, 'serve', '--http', '0'], {
      env: { ...process.env, MCP_BRIDGE_TIMEOUT: 'abc' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    child.stdin.end();
    expect(code).toBe(2);
    expect(stderr).toContain('MCP_BRIDGE_TIMEOUT="abc" is invalid');
  }, 30_000);

  it('with a token too short to be safe', async () => {
    await expect(
      startHttpBridge(['serve', '--http', '0'], { MCP_BRIDGE_HTTP_TOKEN: 'short' }),
    ).rejects.toThrow(/at least 16 characters/);
  }, 30_000);
});
