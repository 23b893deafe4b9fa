import { describe, expect, it } from 'vitest';
import { JsonRpcShapeError, parseJsonRpcMessage, repliesToUnreadable } from '../../../src/shared/json-rpc.js';

describe('parseJsonRpcMessage', () => {
  it('passes requests, notifications, results and errors through unchanged', () => {
    const messages = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'run_python', arguments: { code: '1' } },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'a', result: { content: [], extra: { kept: true } } },
      { jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'Method not found' } },
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
    ];
    for (const message of messages) expect(parseJsonRpcMessage(JSON.stringify(message))).toEqual(message);
  });

  it('throws SyntaxError for a line that is not JSON', () => {
    expect(() => parseJsonRpcMessage('this is not JSON')).toThrow(SyntaxError);
  });

  it.each([
    ['[1,2]', 'a JSON-RPC batch (an array of 2 messages); MCP takes no batches'],
    ['"text"', 'expected an object, got "text"'],
    ['null', 'expected an object, got null'],
    ['{"id":1,"method":"ping"}', '"jsonrpc" is missing'],
    ['{"jsonrpc":"1.0","id":1,"method":"ping"}', '"jsonrpc" is "1.0"'],
    ['{"jsonrpc":"2.0","id":1}', 'either a "method" or a "result"/"error"'],
    ['{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}', 'either a "method" or a "result"/"error"'],
    ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}', '"id" is number'],
    ['{"jsonrpc":"2.0","id":null,"method":"ping"}', '"id" is null'],
    ['{"jsonrpc":"2.0","id":{},"result":{}}', '"id" is object'],
    ['{"jsonrpc":"2.0","id":1,"method":"tools/list","note":"extra"}', 'it has a member "note"'],
    ['{"jsonrpc":"2.0","method":"notifications/initialized","id":null}', '"id" is null'],
    ['{"jsonrpc":"2.0","id":1,"result":{},"method2":"x"}', 'it has a member "method2"'],
    ['{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}', '"params" is an array; MCP takes an object'],
    ['{"jsonrpc":"2.0","method":"notifications/x","params":"p"}', '"params" is "p"'],
  ])('refuses %s with a TypeError naming the problem', (line, problem) => {
    expect(() => parseJsonRpcMessage(line)).toThrow(TypeError);
    expect(() => parseJsonRpcMessage(line)).toThrow(problem);
  });

  it.each([
    ['{"jsonrpc":"2.0","id":7,"method":"tools/list","note":"extra"}', 7],
    ['{"jsonrpc":"1.0","id":"a","method":"ping"}', 'a'],
    ['{"jsonrpc":"2.0","id":8,"method":"ping","params":null}', 8],
    ['{"jsonrpc":"2.0","method":"notifications/x","note":1}', undefined],
    ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}', undefined],
    ['{"jsonrpc":"2.0","id":9,"result":{},"note":1}', undefined],
  ])('names the id of a refused request, so it can be answered: %s', (line, requestId) => {
    const error = (() => {
      try {
        parseJsonRpcMessage(line);
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(JsonRpcShapeError);
    expect((error as JsonRpcShapeError).requestId).toBe(requestId);
  });
});

/** What `parseJsonRpcMessage` threw for `line`. */
function thrownBy(line: string): unknown {
  try {
    parseJsonRpcMessage(line);
  } catch (error) {
    return error;
  }
  throw new Error(`${line} parsed`);
}

describe('repliesToUnreadable', () => {
  it('answers text that is not JSON with a parse error and a null id', () => {
    expect(repliesToUnreadable(thrownBy('hello there'))).toEqual([
      {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32700, message: expect.stringMatching(/^Parse error: the message is not JSON \(/) },
      },
    ]);
  });

  it('answers a batch with an invalid-request error for each request in it, so none waits for ever', () => {
    const batch = JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 'b', method: 'tools/list' },
    ]);
    const replies = repliesToUnreadable(thrownBy(batch));
    expect(replies.map((reply) => [reply.id, reply.error.code])).toEqual([
      [1, -32600],
      ['b', -32600],
    ]);
    expect(replies[0]?.error.message).toBe(
      'Invalid request: a JSON-RPC batch (an array of 3 messages); MCP takes no batches since its ' +
        '2025-06-18 revision: send each message on its own.',
    );
  });

  it.each(['[]', '[{"jsonrpc":"2.0","method":"notifications/initialized"}]', '[1, "x"]'])(
    'answers a batch without requests (%s) with one invalid-request error and a null id',
    (line) => {
      expect(repliesToUnreadable(thrownBy(line))).toEqual([
        {
          jsonrpc: '2.0',
          id: null,
          error: { code: -32600, message: expect.stringContaining('JSON-RPC batch') },
        },
      ]);
    },
  );

  it('answers a malformed request for its id, other malformed messages with a null id', () => {
    expect(repliesToUnreadable(thrownBy('{"jsonrpc":"2.0","id":3,"method":"ping","x":1}'))).toEqual([
      {
        jsonrpc: '2.0',
        id: 3,
        error: { code: -32600, message: 'Invalid request: not a JSON-RPC message: it has a member "x".' },
      },
    ]);
    for (const line of [
      '42',
      '"text"',
      '{"hello":"world"}',
      '{"jsonrpc":"2.0","id":9,"result":{},"note":1}',
    ]) {
      expect(repliesToUnreadable(thrownBy(line))).toEqual([
        {
          jsonrpc: '2.0',
          id: null,
          error: { code: -32600, message: expect.stringMatching(/^Invalid request: /) },
        },
      ]);
    }
  });

  it('never answers a notification, as the spec says', () => {
    expect(repliesToUnreadable(thrownBy('{"jsonrpc":"2.0","method":"notifications/x","params":[]}'))).toEqual(
      [],
    );
  });
});
