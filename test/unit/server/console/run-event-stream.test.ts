/**
 * One console subscriber whose socket stops taking data (pure logic over a stand-in response whose
 * `write` says whether the kernel took it): deltas stop, the runs they changed are noted, each goes
 * out whole at its newest on `drain`; past 100 such runs the subscriber is dropped.
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RunEventStream } from '../../../../src/server/console/run-event-stream.js';
import type { FeedRun } from '../../../../src/server/console/run-feed.js';

class Socketish extends EventEmitter {
  written: string[] = [];
  full = false;
  destroyed = false;
  writeHead() {
    return this;
  }
  write(text: string) {
    this.written.push(text);
    return !this.full;
  }
  destroy() {
    this.destroyed = true;
  }
}

const run = (n: number, seq = 1): FeedRun => ({
  id: `run-${n}-x`,
  runId: `run-${n}`,
  code: '',
  servers: [],
  principal: { id: 'local', name: 'local' },
  startedAt: n,
  status: 'running',
  toolCalls: [],
  droppedCalls: 0,
  seq,
});

describe('console event stream', () => {
  it('sends deltas while the socket takes them, then the newest state of each changed run on drain', () => {
    const socket = new Socketish();
    const drops: string[] = [];
    const stream = new RunEventStream(socket as unknown as ServerResponse, {
      onDropped: (why) => drops.push(why),
    });
    stream.update(run(1), () => '{"type":"call","id":"run-1-x","seq":2}');
    expect(socket.written.at(-1)).toBe('data: {"type":"call","id":"run-1-x","seq":2}\n\n');
    socket.full = true;
    stream.update(run(1), () => '{"type":"call","seq":3}'); // taken by the kernel, but now it is full
    const first = run(1, 9);
    for (let seq = 4; seq <= 9; seq++) stream.update(first, () => '{"never":"sent"}');
    stream.update(run(2, 4), () => '{"never":"sent"}');
    expect(socket.written.some((text) => text.includes('never'))).toBe(false);
    socket.full = false;
    socket.emit('drain');
    const sent = socket.written.slice(-2).map((text) => JSON.parse(text.slice('data: '.length)));
    expect(sent).toMatchObject([
      { type: 'run', run: { id: 'run-1-x', seq: 9 } },
      { type: 'run', run: { id: 'run-2-x', seq: 4 } },
    ]);
    expect(drops).toEqual([]);
    stream.close();
  });

  it('drops a subscriber more than 100 runs behind', () => {
    const socket = new Socketish();
    const drops: string[] = [];
    const stream = new RunEventStream(socket as unknown as ServerResponse, {
      onDropped: (why) => drops.push(why),
    });
    socket.full = true;
    stream.update(run(0), () => '{}');
    for (let n = 1; n <= 101; n++) stream.update(run(n), () => '{}');
    expect(drops).toEqual(['more than 100 runs changed while its socket took nothing']);
    expect(socket.destroyed).toBe(true);
  });
});
