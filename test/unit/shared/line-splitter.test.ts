import { describe, expect, it } from 'vitest';
import {
  jsonRpcIdOf,
  LineSplitter,
  type OversizeLine,
  SNIPPET_BYTES,
} from '../../../src/shared/line-splitter.js';

const feed = (splitter: LineSplitter, ...chunks: string[]) =>
  chunks.flatMap((chunk) => splitter.push(Buffer.from(chunk)));

describe('LineSplitter', () => {
  it('splits lines across chunks and keeps a partial line for later', () => {
    const splitter = new LineSplitter(100);
    expect(feed(splitter, 'ab', 'c\nde', 'f\n\ng')).toEqual(['abc', 'def', '']);
    expect(splitter.pendingBytes).toBe(1);
    expect(feed(splitter, '\n')).toEqual(['g']);
  });

  it('does not split a multi-byte character cut between chunks', () => {
    const splitter = new LineSplitter(100);
    const bytes = Buffer.from('é\n');
    expect([...splitter.push(bytes.subarray(0, 1)), ...splitter.push(bytes.subarray(1))]).toEqual(['é']);
  });

  it('skips a line over the bound, reports its size, head and tail, and goes on', () => {
    const splitter = new LineSplitter(10);
    const out = feed(splitter, 'ok\n', 'x'.repeat(8), 'y'.repeat(20_000), 'z\nnext\n');
    expect(out[0]).toBe('ok');
    const oversize = out[1] as OversizeLine;
    expect(oversize.bytes).toBe(8 + 20_000 + 1);
    expect(oversize.head).toBe(`${'x'.repeat(8)}${'y'.repeat(SNIPPET_BYTES - 8)}`);
    expect(oversize.tail).toBe(`${'y'.repeat(SNIPPET_BYTES - 1)}z`);
    expect(out[2]).toBe('next');
  });

  it('reports a line being skipped before it ends', () => {
    const splitter = new LineSplitter(10);
    feed(splitter, 'x'.repeat(50));
    expect(splitter.skippingBytes).toBe(50);
    expect(splitter.pendingBytes).toBe(0);
  });

  it('stays linear: a 64 MiB line in 64 KiB chunks is skipped without holding it', () => {
    const splitter = new LineSplitter(1024 * 1024);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 1024; i++) splitter.push(chunk);
    expect(splitter.skippingBytes).toBe(64 * 1024 * 1024);
    const [line] = splitter.push(Buffer.from('\n')) as OversizeLine[];
    expect(line?.bytes).toBe(64 * 1024 * 1024);
  });
});

describe('jsonRpcIdOf', () => {
  const line = (text: string): OversizeLine => ({
    bytes: text.length,
    head: text.slice(0, 200),
    tail: text.slice(-200),
  });

  it.each([
    [
      'an id the TypeScript SDK writes last',
      `{"method":"tools/call","params":{"code":"${'x'.repeat(500)}"},"jsonrpc":"2.0","id":7}`,
      7,
    ],
    [
      'an id the Python SDK writes first',
      `{"jsonrpc":"2.0","id":"req-1","method":"tools/call","params":{"x":"${'y'.repeat(500)}"}}`,
      'req-1',
    ],
    [
      'a response',
      `{"result":{"content":[{"type":"text","text":"${'z'.repeat(500)}"}]},"jsonrpc":"2.0","id":12}\r`,
      12,
    ],
  ])('finds %s', (_name, text, id) => {
    expect(jsonRpcIdOf(line(text))).toBe(id);
  });

  it('refuses to guess from an id nested in the params', () => {
    expect(jsonRpcIdOf(line(`{"method":"x","params":{"id":3,"a":"${'q'.repeat(500)}"}}`))).toBeUndefined();
  });
});
