/**
 * The console's live event stream against subscribers that never read: a real `serve --http`
 * (embedded sandbox, the `shapes` fixture server) runs a program of 500 tool calls while five
 * raw sockets subscribe to /console/api/events and read nothing. The bridge must bound what it holds
 * for each (its RSS stays near a baseline taken after the same run without them), keep serving a
 * subscriber that reads, and let the laggards find the run's end once they read (or end the stream
 * of one it dropped): the feed sends deltas, ~1 MB for the whole run, where it was over 100 MB when
 * each event repeated the run. What happens to a subscriber whose socket does fill up
 * (the newest state of each changed run, dropped past 100 runs or a keep-alive period) is
 * test/unit/server/console/run-event-stream.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/environment.js';
import { type HttpBridge, runPython, startHttpBridge, textOf } from '../helpers/http-bridge.js';
import { rssBytes } from '../helpers/sandbox-watch.js';

const SHAPES = fileURLToPath(new URL('../fixtures/shapes-server.mjs', import.meta.url));
const LAGGARDS = 5;
/**
 * What the bridge may gain over its baseline. Before subscribers were bounded, the run queued well
 * over 100 MB for every subscriber that did not read (each of its ~1,000 events repeats the run's
 * 20 KB of code and its timeline so far, 500 errors of 500 characters at the end). Garbage and V8's
 * heap swing by tens of MB.
 */
const RSS_TOLERANCE_BYTES = 100 * 1024 * 1024;

/**
 * A run of 500 tool calls that fail with long messages, whose code is ~20 KB (a comment pads it): its
 * events add up to more than a laggard's socket buffers hold (~36 MB on a Linux loopback with a 32 MB
 * tcp_rmem ceiling), so the bridge must decide what to do with the rest.
 */
const PROGRAM = `${'# padding to make every event of this run carry a large code field\n'.repeat(300)}
import asyncio
results = await asyncio.gather(*(mcp_shapes.fail(n=500) for i in range(500)), return_exceptions=True)
print(len(results), "calls made")
`;

interface Subscriber {
  socket: Socket;
  received: () => string;
  closed: () => boolean;
}

function subscribe(base: string, read: boolean): Promise<Subscriber> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    let closed = false;
    socket.once('error', () => {}); // a reset is how a dropped laggard may learn of it
    socket.once('close', () => {
      closed = true;
    });
    // A laggard's listener reads nothing while it is paused (from before the request goes out).
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.once('connect', () => {
      socket.write(`GET /console/api/events HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
      if (!read) socket.pause();
      resolve({ socket, received: () => text, closed: () => closed });
    });
    socket.once('error', reject);
  });
}

describe('console event stream', () => {
  let dir: string;
  let bridge: HttpBridge;
  let client: Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-console-events-'));
    const config = join(dir, 'mcp.json');
    writeFileSync(
      config,
      JSON.stringify({ mcpServers: { shapes: { command: process.execPath, args: [SHAPES] } } }),
    );
    bridge = await startHttpBridge(
      ['serve', '--http', '0'],
      { HOME: dir, MCP_BRIDGE_CONFIG: config },
      { cwd: dir },
    );
    client = await bridge.connect({ name: 'console-events' });
  }, 90_000);

  afterAll(async () => {
    await client?.close();
    await bridge?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const busyRun = async () => {
    const result = await runPython(client, { code: PROGRAM, servers: ['shapes'], timeout: 300 });
    expect(textOf(result)).toContain('500 calls made');
  };

  it('bounds what it holds for subscribers that never read; a reader stays; laggards find the end', async () => {
    const pid = bridge.child.pid ?? 0;
    await busyRun(); // warm-up: the sandbox, the upstream and V8's heap at their working size
    const baseline = rssBytes(pid);
    const reader = await subscribe(bridge.base, true);
    const laggards = await Promise.all(Array.from({ length: LAGGARDS }, () => subscribe(bridge.base, false)));
    await busyRun();
    const rss = rssBytes(pid);
    expect(
      rss,
      `RSS ${Math.round(rss / 2 ** 20)} MB, baseline ${Math.round(baseline / 2 ** 20)} MB`,
    ).toBeLessThan(baseline + RSS_TOLERANCE_BYTES);

    // The reader sees the run end: as its `end` delta, or (had its socket filled for a moment) as the
    // run sent whole at its newest once it drained.
    expect(await eventually(() => /"status":"ok"/.test(reader.received()), 30_000)).toBe(true);
    expect(reader.closed()).toBe(false);
    expect(reader.received()).toContain('data: {"type":"run"');
    // Reading at last, each laggard finds the run's end too, unless it fell so far behind that it was
    // dropped (its socket full for a keep-alive period), which then ends its stream.
    for (const laggard of laggards) laggard.socket.resume();
    for (const laggard of laggards) {
      expect(
        await eventually(() => /"status":"ok"/.test(laggard.received()) || laggard.closed(), 60_000),
      ).toBe(true);
    }
    reader.socket.destroy();
    for (const laggard of laggards) laggard.socket.destroy();
  }, 600_000);
});
