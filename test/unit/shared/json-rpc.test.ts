import { describe, expect, it } from 'vitest';
import { parseJsonRpcMessage } from '../../../src/shared/json-rpc.js';

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
    ['[1,2]', 'expected an object, got an array'],
    ['"text"', 'expected an object, got "text"'],
    ['null', 'expected an object, got null'],
    ['{"id":1,"method":"ping"}', '"jsonrpc" is missing'],
    ['{"jsonrpc":"1.0","id":1,"method":"ping"}', '"jsonrpc" is "1.0"'],
    ['{"jsonrpc":"2.0","id":1}', 'either a "method" or a "result"/"error"'],
    ['{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}', 'either a "method" or a "result"/"error"'],
    ['{"jsonrpc":"2.0","id":1.5,"method":"ping"}', '"id" is number'],
    ['{"jsonrpc":"2.0","id":null,"method":"ping"}', '"id" is null'],
    ['{"jsonrpc":"2.0","id":{},"result":{}}', '"id" is object'],
  ])('refuses %s with a TypeError naming the problem', (line, problem) => {
    expect(() => parseJsonRpcMessage(line)).toThrow(TypeError);
    expect(() => parseJsonRpcMessage(line)).toThrow(problem);
  });
});
