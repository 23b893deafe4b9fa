// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config entries are the subject under test.
/** The upstream pool against real servers, without a sandbox: sessions, scrubbed errors, shutdown. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../../src/shared/kill-group.js';
import { createLogger } from '../../../src/shared/logger.js';
import { expandServer } from '../../../src/upstream/config/expand.js';
import type { UpstreamServerConfig } from '../../../src/upstream/config/types.js';
import { UpstreamPool } from '../../../src/upstream/upstream-pool.js';
import { eventually } from '../../helpers/environment.js';
import { startHttpEverything } from '../../helpers/upstreams.js';

const SECRET = 'pool-secret-0c4e2a';
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function poolOf(servers: UpstreamServerConfig[]): { pool: UpstreamPool; log: string[] } {
  const log: string[] = [];
  const pool = new UpstreamPool({
    servers,
    clientVersion: '0.0.0',
    idleTimeoutMs: 60_000,
    callTimeoutMs: 10_000,
    connectTimeoutMs: 10_000,
    logger: createLogger('debug', (line) => log.push(line)),
  });
  cleanups.push(() => pool.close());
  return { pool, log };
}

function expanded(server: UpstreamServerConfig): UpstreamServerConfig {
  const result = expandServer(server, { SOME_SECRET: SECRET });
  if (!result.server) throw new Error('expansion dropped the server');
  return result.server;
}

describe('UpstreamPool', () => {
  it('scrubs expanded secrets from a connection error', async () => {
    const { pool } = poolOf([
      expanded({
        name: 'ghost',
        source: 'test',
        transport: 'stdio',
        command: '/nonexistent/codemode-ghost',
        args: ['--token=${SOME_SECRET}'],
        env: {},
      }),
    ]);
    const error = await pool.describe('ghost', AbortSignal.timeout(10_000)).catch((caught: Error) => caught);
    expect(error).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect((error as Error).message).toBe(
      "Could not connect to MCP server 'ghost' (command: /nonexistent/codemode-ghost --token=[redacted]): spawn /nonexistent/codemode-ghost ENOENT",
    );
  });

  it('shows a remote URL without its credentials or query', async () => {
    const { pool } = poolOf([
      expanded({
        name: 'remote',
        source: 'test',
        transport: 'sse',
        url: 'http://bot:${SOME_SECRET}@127.0.0.1:9/sse?key=abc',
        headers: {},
      }),
    ]);
    const error = await pool.describe('remote', AbortSignal.timeout(10_000)).catch((caught: Error) => caught);
    expect((error as Error).message).toMatch(
      /^Could not connect to MCP server 'remote' \(sse http:\/\/127\.0\.0\.1:9\/sse\): /,
    );
    expect((error as Error).message).not.toContain(SECRET);
  });

  it('keeps one session to an `http` server that only speaks SSE', async () => {
    const sse = await startHttpEverything('sse');
    cleanups.push(() => sse.stop());
    const { pool, log } = poolOf([
      { name: 's', source: 'test', transport: 'http', url: sse.url, headers: {} },
    ]);
    const signal = AbortSignal.timeout(20_000);
    expect(await pool.callTool('s', 'echo', { message: 'one' }, signal)).toBe('Echo: one');
    expect(await pool.callTool('s', 'echo', { message: 'two' }, signal)).toBe('Echo: two');
    expect(log.filter((line) => line.includes('connected to upstream'))).toHaveLength(1);
    expect(log.join('')).not.toContain('reconnecting');
  });

  it('lets each dead session go: a server that crashes again and again leaves no listener behind', async () => {
    const { pool } = poolOf([
      {
        name: 'soak',
        source: 'test',
        transport: 'stdio',
        command: process.execPath,
        args: [fixture('soak-server.mjs'), tmpdir()],
        env: {},
      },
    ]);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    // A fresh signal per call, as each run has its own: only the pool's own signals live across calls.
    const signal = () => AbortSignal.timeout(30_000);
    const pids = new Set<string>();
    for (let round = 0; round < 12; round += 1) {
      pids.add(String(await pool.callTool('soak', 'pid', {}, signal())));
      await expect(pool.callTool('soak', 'crash', {}, signal())).rejects.toThrow();
    }
    expect(pids.size).toBe(12);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it("tells each server's connection state and counts its failures by kind", async () => {
    const { pool } = poolOf([
      {
        name: 'leaky',
        source: 'test',
        transport: 'stdio',
        command: process.execPath,
        args: [fixture('leaky-server.mjs')],
        env: {},
      },
      { name: 'ghost', source: 'test', transport: 'stdio', command: '/nonexistent/ghost', args: [], env: {} },
      {
        name: 'unused',
        source: 'test',
        transport: 'stdio',
        command: '/nonexistent/unused',
        args: [],
        env: {},
      },
    ]);
    const signal = () => AbortSignal.timeout(30_000);
    const health = () => Object.fromEntries(pool.health().map((each) => [each.server, each]));
    expect(health().leaky?.state).toBe('idle');
    const connecting = pool.describe('leaky', signal());
    expect(health().leaky?.state).toBe('connecting');
    await connecting;
    expect(health().leaky?.state).toBe('connected');
    await expect(pool.callTool('leaky', 'token_error', {}, signal())).rejects.toThrow();
    await expect(pool.callTool('leaky', 'token_throw', {}, signal())).rejects.toThrow();
    await expect(pool.callTool('leaky', 'crash', {}, signal())).rejects.toThrow();
    // Its session closed under the pool: failed, until the next use connects again.
    expect(health().leaky?.state).toBe('failed');
    await expect(pool.describe('ghost', signal())).rejects.toThrow();
    // A call the caller gave up on is no failure of the server's.
    const cancelled = new AbortController();
    const pending = pool.callTool('leaky', 'token_result', {}, cancelled.signal);
    cancelled.abort();
    await expect(pending).rejects.toThrow();

    const now = health();
    expect(now.leaky?.errors).toMatchObject({ tool_error: 1, call_failed: 1, closed: 1, connect: 0 });
    expect(now.ghost?.state).toBe('failed');
    expect(now.ghost?.errors).toMatchObject({ connect: 1, list_tools: 0 });
    expect(now.unused).toMatchObject({
      state: 'idle',
      errors: {
        connect: 0,
        list_tools: 0,
        timeout: 0,
        closed: 0,
        too_large: 0,
        tool_error: 0,
        call_failed: 0,
      },
    });
  });

  it('kills a server still starting when it closes, and settles only then', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'codemode-pool-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const pidFile = join(dir, 'pids');
    const { pool } = poolOf([
      {
        name: 'slow',
        source: 'test',
        transport: 'stdio',
        command: process.execPath,
        args: [fixture('slow-start-server.mjs'), pidFile],
        env: {},
      },
    ]);
    const describing = pool.describe('slow', new AbortController().signal).catch((error: Error) => error);
    expect(await eventually(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '))).toBe(
      true,
    );
    const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
    await pool.close();
    expect(pids.filter(isProcessAlive)).toEqual([]);
    expect(await describing).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
  });
});
