/** The upstream stdio transport against a real child process (a bare JSON-RPC fixture). */
import { fileURLToPath } from 'node:url';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../../src/shared/kill-group.js';
import {
  MESSAGE_TOO_LARGE_CODE,
  type OversizeMessage,
  StdioUpstreamTransport,
  type StdioUpstreamTransportOptions,
} from '../../../src/upstream/stdio-transport.js';
import { eventually } from '../../helpers/environment.js';

const RAW = fileURLToPath(new URL('../../fixtures/raw-jsonrpc-server.mjs', import.meta.url));
const LIMIT_BYTES = 64 * 1024;

interface Peer {
  transport: StdioUpstreamTransport;
  oversize: OversizeMessage[];
  stderr: string[];
  errors: Error[];
  closed: () => boolean;
  /** Sends a request and resolves with the message that has its id. */
  request(id: number | string, method: string, params?: Record<string, unknown>): Promise<JSONRPCMessage>;
}

const started: StdioUpstreamTransport[] = [];

function pidIn(message: JSONRPCMessage): number {
  if (!('result' in message)) throw new Error(`no result in ${JSON.stringify(message)}`);
  return (message.result as { pid: number }).pid;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((transport) => transport.kill()));
});

async function startPeer(
  args: string[] = [],
  options: Partial<StdioUpstreamTransportOptions> = {},
): Promise<Peer> {
  const waiting = new Map<number | string, (message: JSONRPCMessage) => void>();
  const peer: Omit<Peer, 'transport' | 'request' | 'closed'> = { oversize: [], stderr: [], errors: [] };
  let closed = false;
  const transport = new StdioUpstreamTransport({
    command: process.execPath,
    args: [RAW, ...args],
    maxMessageBytes: LIMIT_BYTES,
    closeGraceMs: 1000,
    onOversize: (message) => peer.oversize.push(message),
    onStderrLine: (line) => peer.stderr.push(line),
    ...options,
  });
  transport.onmessage = (message) => {
    if ('id' in message && message.id !== undefined) waiting.get(message.id)?.(message);
  };
  transport.onerror = (error) => peer.errors.push(error);
  transport.onclose = () => {
    closed = true;
  };
  started.push(transport);
  await transport.start();
  return {
    ...peer,
    transport,
    closed: () => closed,
    request(id, method, params = {}) {
      const answer = new Promise<JSONRPCMessage>((resolve) => waiting.set(id, resolve));
      return transport.send({ jsonrpc: '2.0', id, method, params }).then(() => answer);
    },
  };
}

describe('StdioUpstreamTransport', () => {
  it('frames messages split across many writes', async () => {
    const peer = await startPeer();
    const answer = await peer.request(1, 'chunked');
    expect(answer).toMatchObject({ id: 1, result: { text: 'x'.repeat(5000) } });
  });

  it.each(['oversize', 'oversize-id-first'])(
    'answers the request whose response (%s) is over the cap with an error, and the session goes on',
    async (method) => {
      const peer = await startPeer();
      const before = await peer.request(1, 'pid');
      const refused = await peer.request(2, method, { bytes: LIMIT_BYTES * 3 });
      expect(refused).toEqual({
        jsonrpc: '2.0',
        id: 2,
        error: {
          code: MESSAGE_TOO_LARGE_CODE,
          message: expect.stringMatching(/^response of \d+ bytes is over the limit of 65536 bytes$/),
          data: { bytes: expect.any(Number), limitBytes: LIMIT_BYTES },
        },
      });
      const bytes = (refused as { error: { data: { bytes: number } } }).error.data.bytes;
      expect(bytes).toBeGreaterThan(LIMIT_BYTES * 3);
      expect(peer.oversize).toEqual([{ bytes, limitBytes: LIMIT_BYTES, id: 2, answered: true }]);
      const after = await peer.request('three', 'pid');
      expect(after).toEqual({ ...before, id: 'three' });
      expect(peer.closed()).toBe(false);
    },
  );

  it('drops an oversize message it cannot attribute, and the session goes on', async () => {
    const peer = await startPeer();
    void peer.request(1, 'oversize-anonymous', { bytes: LIMIT_BYTES * 2 });
    const echo = await peer.request(2, 'echo', { n: 2 });
    expect(echo).toMatchObject({ id: 2, result: { echo: { n: 2 } } });
    expect(peer.oversize).toEqual([
      { bytes: expect.any(Number), limitBytes: LIMIT_BYTES, id: undefined, answered: false },
    ]);
  });

  it("does not mistake a server's own oversize request for the response to ours", async () => {
    const peer = await startPeer();
    const answer = await peer.request(1, 'oversize-request', { bytes: LIMIT_BYTES * 2 });
    expect(answer).toEqual({ jsonrpc: '2.0', id: 1, result: { fine: true } });
    expect(peer.oversize).toMatchObject([{ answered: false }]);
  });

  it('fails a request at once when the server has left 64 MiB of earlier ones unread', async () => {
    const peer = await startPeer();
    await peer.request(1, 'deafen');
    const padding = 'p'.repeat(8 * 1024 * 1024);
    const sends = Array.from({ length: 10 }, (_, index) =>
      peer.transport.send({ jsonrpc: '2.0', id: index + 2, method: 'echo', params: { padding } }).then(
        () => 'sent',
        (error: Error) => error.message,
      ),
    );
    // The first eight are buffered for a server that never reads them; the rest are refused.
    const refused = await Promise.race([
      sends[9],
      new Promise((resolve) => setTimeout(resolve, 5000, 'waiting')),
    ]);
    expect(refused).toBe('the server has not read 64 MiB of earlier requests; it is not reading its input');
    expect(await sends[8]).toMatch(/has not read 64 MiB/);
  });

  it('passes stderr on line by line', async () => {
    const peer = await startPeer();
    await peer.request(1, 'stderr', { line: 'first' });
    await peer.request(2, 'stderr', { line: 'second\r' });
    // stderr is a pipe of its own: its lines may arrive after the answer on stdout.
    expect(await eventually(() => peer.stderr.length === 2)).toBe(true);
    expect(peer.stderr).toEqual(['first', 'second']);
  });

  it('reports a line that is not JSON-RPC on onerror and keeps reading', async () => {
    const peer = await startPeer();
    expect(await peer.request(1, 'garbage')).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    expect(peer.errors.map((error) => error.name)).toEqual(['SyntaxError']);
    expect(peer.closed()).toBe(false);
  });

  it('ends the whole process group on close, also what the server left behind', async () => {
    const peer = await startPeer();
    const server = peer.transport.pid as number;
    const grandchild = pidIn(await peer.request(1, 'grandchild'));
    expect(isProcessAlive(grandchild)).toBe(true);
    await peer.transport.close();
    expect(isProcessAlive(server)).toBe(false);
    expect(isProcessAlive(grandchild)).toBe(false);
    expect(peer.closed()).toBe(true);
  });

  it('escalates to SIGKILL for a server that ignores stdin closing and SIGTERM', async () => {
    const peer = await startPeer(['--ignore-sigterm', '--ignore-stdin-end']);
    const server = peer.transport.pid as number;
    await peer.request(1, 'pid');
    await peer.transport.close();
    expect(isProcessAlive(server)).toBe(false);
    expect(peer.closed()).toBe(true);
  });

  it('kills what a server that exited on its own left in its group', async () => {
    const peer = await startPeer();
    const grandchild = pidIn(await peer.request(1, 'grandchild'));
    await peer.transport.send({ jsonrpc: '2.0', id: 2, method: 'exit' });
    expect(await eventually(() => peer.closed())).toBe(true);
    expect(await eventually(() => !isProcessAlive(grandchild))).toBe(true);
    await expect(peer.transport.send({ jsonrpc: '2.0', id: 3, method: 'echo' })).rejects.toThrow(
      'Not connected',
    );
  });

  it('rejects start for a command that does not exist, and close still reports closed', async () => {
    const transport = new StdioUpstreamTransport({ command: '/nonexistent/codemode-upstream' });
    let closed = 0;
    transport.onclose = () => closed++;
    await expect(transport.start()).rejects.toThrow(/ENOENT/);
    await transport.close();
    await transport.close();
    expect(closed).toBe(1);
  });
});
