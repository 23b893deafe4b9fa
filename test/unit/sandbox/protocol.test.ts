import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FrameDecoder, ProtocolViolation } from '../../../src/sandbox/protocol.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const framesOf = (decoded: Array<{ frame: unknown }>) => decoded.map(({ frame }) => frame);

describe('FrameDecoder', () => {
  it('splits frames across and within chunks', () => {
    const decoder = new FrameDecoder();
    expect(framesOf(decoder.push(bytes('{"type":"ready"}\n{"type":"out","stream":"stdout","da')))).toEqual([
      { type: 'ready' },
    ]);
    expect(framesOf(decoder.push(bytes('ta":"hé"}\n\n{"type":"done","ok":true}')))).toEqual([
      { type: 'out', stream: 'stdout', data: 'hé' },
    ]);
    expect(framesOf(decoder.push(bytes('\n')))).toEqual([{ type: 'done', ok: true }]);
  });

  it('joins a multi-byte character split between chunks', () => {
    const decoder = new FrameDecoder();
    const line = bytes('{"type":"out","stream":"stderr","data":"€"}\n');
    const euroStart = line.indexOf(0xe2);
    expect(framesOf(decoder.push(line.subarray(0, euroStart + 1)))).toEqual([]);
    expect(framesOf(decoder.push(line.subarray(euroStart + 1)))).toEqual([
      { type: 'out', stream: 'stderr', data: '€' },
    ]);
  });

  it('refuses a line over the size cap before it ends', () => {
    const decoder = new FrameDecoder(32);
    expect(() => decoder.push(bytes('{"type":"out","stream":"stdout","data":"'))).toThrow(
      /larger than 32 bytes/,
    );
  });

  it('refuses a complete line over the size cap', () => {
    const decoder = new FrameDecoder(16);
    expect(() => decoder.push(bytes('{"type":"ready","padding":1}\n'))).toThrow(ProtocolViolation);
  });
});

describe('decodeFrame', () => {
  it.each([
    ['{"type":"rpc","id":1,"server":"s","tool":"t","args":{"a":[1,{"b":null}]}}', 'rpc'],
    ['{"type":"call","id":7,"op":"search_tool_docs","args":{}}', 'call'],
    ['{"type":"done","ok":false,"error":"E: x","traceback":"tb"}', 'done'],
  ])('accepts %s', (line, type) => {
    expect(decodeFrame(line).type).toBe(type);
  });

  it.each([
    ['not json', /not JSON/],
    ['[1,2]', /invalid frame/],
    ['{"type":"rpc","id":-1,"server":"s","tool":"t","args":{}}', /invalid frame at id/],
    ['{"type":"rpc","id":1.5,"server":"s","tool":"t","args":{}}', /invalid frame at id/],
    ['{"type":"rpc","id":1,"server":"","tool":"t","args":{}}', /invalid frame at server/],
    ['{"type":"rpc","id":1,"server":"s","tool":"t","args":[]}', /invalid frame at args/],
    ['{"type":"out","stream":"stdin","data":""}', /invalid frame at stream/],
    [
      `{"type":"out","stream":"stdout","data":"","x":${'['.repeat(100)}${']'.repeat(100)}}`,
      /nested deeper than 64/,
    ],
  ])('refuses %s', (line, message) => {
    expect(() => decodeFrame(line)).toThrow(message);
  });
});

describe('encodeFrame', () => {
  it('writes one line of JSON', () => {
    expect(encodeFrame({ type: 'rpc_result', id: 3, ok: true, value: { a: 'x\ny' } })).toBe(
      '{"type":"rpc_result","id":3,"ok":true,"value":{"a":"x\\ny"}}\n',
    );
  });
});
