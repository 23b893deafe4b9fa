/**
 * What a connection may hold of `serve --http` before and without authenticating, against the real
 * bridge (embedded sandbox) over raw sockets: connections that never finish their headers or their
 * body are dropped after the timeouts (set short here), idle kept-alive ones are closed, connections
 * per client are capped with every loopback address counting as one client, and running out of file
 * descriptors is reported as that (not as a missing image) while the bridge serves on, with the
 * embedded sandbox and with podman.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerSupport, eventually } from '../helpers/environment.js';
import { type HttpBridge, startHttpBridge } from '../helpers/http-bridge.js';

/** A raw connection to the bridge: what it received, whether it is closed. */
interface RawConnection {
  socket: Socket;
  received(): string;
  closed(): boolean;
}

function open(base: string, options: { localAddress?: string } = {}): Promise<RawConnection> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ...options });
    let text = '';
    let closed = false;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    socket.once('close', () => {
      closed = true;
    });
    socket.once('connect', () => {
      socket.on('error', () => {}); // a reset is one way a refused connection ends
      resolve({ socket, received: () => text, closed: () => closed });
    });
    socket.once('error', reject);
  });
}

/** Polls an asynchronous check until it holds or `timeoutMs` passes; whether it held. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** One request on its own connection (`connection: close`), so nothing stays open afterwards. */
async function request(base: string, path: string, options: { localAddress?: string } = {}) {
  const connection = await open(base, options);
  const { host } = new URL(base);
  connection.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  await eventually(connection.closed, 30_000);
  return connection.received();
}

describe('serve --http: connection timeouts and caps', () => {
  let dir: string;
  let bridge: HttpBridge;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-http-connections-'));
    bridge = await startHttpBridge(
      ['serve', '--http', '0'],
      {
        HOME: dir,
        MCP_BRIDGE_STATE_DIR: join(dir, 'state'),
        MCP_BRIDGE_POOL_SIZE: '0',
        MCP_BRIDGE_HTTP_HEADERS_TIMEOUT: '1',
        MCP_BRIDGE_HTTP_REQUEST_TIMEOUT: '2',
        MCP_BRIDGE_HTTP_IDLE_TIMEOUT: '1',
        MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT: '6',
      },
      { cwd: dir },
    );
  }, 60_000);
  afterAll(async () => {
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('drops connections that never finish their headers or body, and idle kept-alive ones', async () => {
    const { host } = new URL(bridge.base);
    const silent = await open(bridge.base);
    const halfHeaders = await open(bridge.base);
    halfHeaders.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n`);
    const halfBody = await open(bridge.base);
    halfBody.socket.write(
      `POST /mcp HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"jsonrpc":`,
    );
    const keptAlive = await open(bridge.base);
    keptAlive.socket.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    // Meanwhile the bridge answers others as usual.
    expect(await request(bridge.base, '/healthz')).toMatch(/^HTTP\/1\.1 200 [\s\S]*\bok\n/);

    const all = [silent, halfHeaders, halfBody, keptAlive];
    expect(await eventually(() => all.every((connection) => connection.closed()), 30_000)).toBe(true);
    expect(silent.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(halfHeaders.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(halfBody.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(keptAlive.received()).toMatch(/^HTTP\/1\.1 200 [\s\S]*\bok\n/);
  }, 60_000);

  it('caps connections per client, every loopback address counting as the same client', async () => {
    // Six long-lived streams (the console's events: a finished request, so no timeout ends them).
    const { host } = new URL(bridge.base);
    const streams = await Promise.all(Array.from({ length: 6 }, () => open(bridge.base)));
    for (const stream of streams) {
      stream.socket.write(`GET /console/api/events HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    }
    expect(
      await eventually(() => streams.every((stream) => stream.received().includes(': connected')), 30_000),
    ).toBe(true);

    const seventh = await request(bridge.base, '/healthz');
    expect(seventh).toMatch(/^HTTP\/1\.1 503 /);
    expect(seventh).toContain(
      'Too many connections from this machine (loopback) (MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT=6)',
    );
    // Another loopback address is the same machine, not a new client.
    expect(await request(bridge.base, '/healthz', { localAddress: '127.0.0.2' })).toMatch(/^HTTP\/1\.1 503 /);
    expect(bridge.stderr()).toContain('refused connections over a limit');

    // One stream ends: a new connection is admitted again.
    streams[0]?.socket.destroy();
    const healthy = async () => (await request(bridge.base, '/healthz')).startsWith('HTTP/1.1 200');
    expect(await until(healthy, 30_000)).toBe(true);
    for (const stream of streams) stream.socket.destroy();
  }, 60_000);
});

const BACKENDS = [
  {
    name: 'embedded',
    env: { MCP_BRIDGE_RUNTIME: 'embedded' },
    sandbox: 'an embedded sandbox',
    skip: undefined,
  },
  {
    name: 'podman',
    env: { MCP_BRIDGE_RUNTIME: 'podman' },
    sandbox: 'a podman sandbox',
    skip: containerSupport().skipReason,
  },
];

describe.each(BACKENDS)('serve --http out of file descriptors ($name)', (backend) => {
  /** The bridge idles at ~21 descriptors with no pool: this leaves room for ~40 connections. */
  const OPEN_FILE_LIMIT = 64;
  let dir: string;
  let bridge: HttpBridge;
  beforeAll(async () => {
    if (backend.skip) return;
    dir = mkdtempSync(join(tmpdir(), 'codemode-http-fds-'));
    bridge = await startHttpBridge(
      ['serve', '--http', '0'],
      {
        HOME: dir,
        MCP_BRIDGE_STATE_DIR: join(dir, 'state'),
        ...backend.env,
        MCP_BRIDGE_POOL_SIZE: '0',
        MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT: '10000',
        MCP_BRIDGE_HTTP_MAX_CONNECTIONS: '10000',
        // The connection opened before the flood must outlast it, idle, and then carry a run.
        MCP_BRIDGE_HTTP_HEADERS_TIMEOUT: '60',
        MCP_BRIDGE_HTTP_REQUEST_TIMEOUT: '120',
        MCP_BRIDGE_HTTP_IDLE_TIMEOUT: '120',
      },
      { cwd: dir, openFileLimit: OPEN_FILE_LIMIT },
    );
  }, 60_000);
  afterAll(async () => {
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(backend.skip !== undefined)(
    `says so when a connection or a sandbox finds none left, and serves on once some close${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    async () => {
      const { host } = new URL(bridge.base);
      // Opened first, kept alive: the way in for a run once the descriptors are gone.
      const runner = await open(bridge.base);
      const flood: RawConnection[] = [];
      try {
        const exhausted = () => bridge.stderr().includes('out of file descriptors');
        while (!exhausted() && flood.length < 2 * OPEN_FILE_LIMIT) {
          flood.push(await open(bridge.base));
          // The bridge counts its descriptors every 5 s: libuv drops what it cannot accept silently.
          if (flood.length >= OPEN_FILE_LIMIT) await eventually(exhausted, 10_000);
        }
        expect(bridge.stderr()).toContain(
          `the bridge is out of file descriptors (ulimit -n ${OPEN_FILE_LIMIT}): new connections are dropped and sandboxes cannot start`,
        );

        const body = JSON.stringify({ code: 'print("never runs")' });
        runner.socket.write(
          `POST /console/api/run HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\n` +
            `x-codemode-console: 1\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        expect(await eventually(() => runner.received().includes('"error"'), 60_000)).toBe(true);
        const answer = runner.received();
        expect(answer).toMatch(
          new RegExp(
            `The bridge is out of file descriptors \\(ulimit -n ${OPEN_FILE_LIMIT}\\), so starting ${backend.sandbox} failed`,
          ),
        );
        expect(answer).not.toMatch(/image/i);
      } finally {
        for (const connection of [...flood, runner]) connection.socket.destroy();
      }
      // The bridge did not fall over: with descriptors back, it answers again.
      const healthy = async () => (await request(bridge.base, '/healthz')).startsWith('HTTP/1.1 200');
      expect(await until(healthy, 30_000)).toBe(true);
    },
    120_000,
  );
});
