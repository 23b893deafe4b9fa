import { describe, expect, it } from 'vitest';
import {
  decodeEvent,
  decodeValue,
  encodeRequest,
  encodeValue,
  MAX_VALUE_DEPTH,
  type MontyValue,
} from '../../../../src/sandbox/monty/messages.js';
import { floatRepr, jsonRepr, stringRepr } from '../../../../src/sandbox/monty/python-repr.js';
import { fromJson, NotJson, toJson } from '../../../../src/sandbox/monty/values.js';
import { readFields, WireError, WireWriter } from '../../../../src/sandbox/monty/wire.js';

const bytesOf = (writer: WireWriter) => Buffer.concat(writer.finish());
const roundTrip = (value: MontyValue) => decodeValue(bytesOf(encodeValue(value)));

describe('the Monty protocol codec', () => {
  it.each<[string, MontyValue]>([
    ['None', { kind: 'none' }],
    ['True', { kind: 'bool', value: true }],
    ['a small int', { kind: 'int', value: -42n }],
    ['an int past 64 bits', { kind: 'int', value: -(2n ** 100n) + 7n }],
    ['a float', { kind: 'float', value: 0.1 }],
    ['a str with every plane', { kind: 'str', value: 'é\u200b😀\n' }],
    ['bytes', { kind: 'bytes', value: Buffer.from([0, 255, 10]) }],
    [
      'nested containers',
      {
        kind: 'dict',
        pairs: [
          [
            { kind: 'str', value: 'a' },
            {
              kind: 'list',
              items: [
                { kind: 'tuple', items: [] },
                { kind: 'set', items: [] },
              ],
            },
          ],
          [{ kind: 'int', value: 1n }, { kind: 'none' }],
        ],
      },
    ],
    ['a function', { kind: 'function', name: 'mcp_x.tool', docstring: 'Echo.' }],
    ['an output-only repr', { kind: 'repr', value: '<object>' }],
  ])('round-trips %s', (_name, value) => {
    expect(roundTrip(value)).toEqual(value);
  });

  it('refuses values nested past the depth limit, both ways', () => {
    let deep: MontyValue = { kind: 'none' };
    for (let level = 0; level < MAX_VALUE_DEPTH + 5; level++) deep = { kind: 'list', items: [deep] };
    expect(() => encodeValue(deep)).toThrow(/deeper than/);
    // Hand-built bytes: a list inside a list, MAX+5 levels.
    let bytes = bytesOf(new WireWriter().message(2, new WireWriter()));
    for (let level = 0; level < MAX_VALUE_DEPTH + 5; level++) {
      bytes = bytesOf(new WireWriter().message(11, new WireWriter().bytes(1, bytes)));
    }
    expect(() => decodeValue(bytes)).toThrow(/deeper than/);
  });

  it('refuses truncated and malformed bytes with a WireError, never another exception', () => {
    const good = bytesOf(encodeValue({ kind: 'str', value: 'hello' }));
    for (let cut = 1; cut < good.length; cut++) {
      expect(() => decodeValue(good.subarray(0, cut))).toThrow(WireError);
    }
    expect(() => [...readFields(Buffer.from([0x0b]))]).toThrow(/wire type/);
    expect(() => [
      ...readFields(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])),
    ]).toThrow(/varint/);
  });

  it('encodes a feed and a resume the way the worker reads them', () => {
    const feed = Buffer.concat(
      encodeRequest({ kind: 'feed', code: 'print(1)', inputs: [['x', { kind: 'int', value: 1n }]] }),
    );
    const [kind] = [...readFields(feed)];
    expect(kind?.field).toBe(3);
    const resume = Buffer.concat(
      encodeRequest({ kind: 'resume_futures', results: [[7, { value: { kind: 'none' } }]] }),
    );
    expect([...readFields(resume)][0]?.field).toBe(6);
  });

  it('decodes the events a worker sends', () => {
    const print = bytesOf(new WireWriter().message(1, new WireWriter().uint(1, 1).string(2, 'hi\n')));
    expect(decodeEvent(print)).toEqual({ kind: 'print', segments: [{ stream: 'stdout', text: 'hi\n' }] });
    const call = bytesOf(
      new WireWriter()
        .message(
          2,
          new WireWriter()
            .string(1, 'mcp_x.tool')
            .message(2, encodeValue({ kind: 'int', value: 5n }))
            .message(
              3,
              new WireWriter()
                .message(1, encodeValue({ kind: 'str', value: 'a' }))
                .message(2, encodeValue({ kind: 'bool', value: true })),
            )
            .uint(4, 3),
        )
        .uint(20, 99),
    );
    expect(decodeEvent(call)).toEqual({
      kind: 'function_call',
      name: 'mcp_x.tool',
      callId: 3,
      args: [{ kind: 'int', value: 5n }],
      kwargs: [
        [
          { kind: 'str', value: 'a' },
          { kind: 'bool', value: true },
        ],
      ],
      executionMicros: 99,
    });
    const futures = bytesOf(new WireWriter().message(5, new WireWriter().bytes(1, Buffer.from([1, 200, 1]))));
    expect(decodeEvent(futures)).toEqual({ kind: 'resolve_futures', pending: [1, 200] });
  });
});

describe('values across the boundary, as the container runtime converts them', () => {
  it('turns Python values into JSON as json.dumps does', () => {
    const dict: MontyValue = {
      kind: 'dict',
      pairs: [
        [
          { kind: 'int', value: 1n },
          { kind: 'tuple', items: [{ kind: 'float', value: 1.5 }] },
        ],
        [{ kind: 'bool', value: true }, { kind: 'none' }],
      ],
    };
    expect(toJson(dict)).toEqual({ '1': [1.5], true: null });
    expect(() => toJson({ kind: 'set', items: [] })).toThrow(
      new NotJson('TypeError', 'Object of type set is not JSON serializable'),
    );
    expect(() => toJson({ kind: 'float', value: Number.NaN })).toThrow(/Out of range float/);
  });

  it('gives Python ints for whole JSON numbers and floats for the rest', () => {
    expect(fromJson({ a: [1, 1.5, 1e21, null] })).toEqual({
      kind: 'dict',
      pairs: [
        [
          { kind: 'str', value: 'a' },
          {
            kind: 'list',
            items: [
              { kind: 'int', value: 1n },
              { kind: 'float', value: 1.5 },
              { kind: 'float', value: 1e21 },
              { kind: 'none' },
            ],
          },
        ],
      ],
    });
  });

  it('writes reprs as CPython does', () => {
    expect([1e16, 1e-5, 0.1, 3, 1e15, 1.5e-7, -0, 123456789.5].map(floatRepr)).toEqual([
      '1e+16',
      '1e-05',
      '0.1',
      '3.0',
      '1000000000000000.0',
      '1.5e-07',
      '-0.0',
      '123456789.5',
    ]);
    expect(stringRepr("it's")).toBe(`"it's"`);
    expect(stringRepr('a\'b"c\n\u200b\x7f')).toBe(`'a\\'b"c\\n\\u200b\\x7f'`);
    expect(jsonRepr({ a: [true, null, 2, 'x'] })).toBe("{'a': [True, None, 2, 'x']}");
  });
});
