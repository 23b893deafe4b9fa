/**
 * One line of a JSON-RPC stream as a message: parsed, and its envelope checked (`jsonrpc: "2.0"`,
 * a method or a result/error). The SDK's `Protocol` checks the full shape of every message again
 * (its type guards, then each handler's schema), so a transport parsing with `JSONRPCMessageSchema`
 * as well validates everything twice. That second pass costs only ~2 µs on a warm process, but a
 * bridge called at agent pace runs each path cold, after idling: there it was ~130 µs of a session
 * call's ~3 ms. What the envelope check refuses is what the SDK could not route at all.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** Parses `line` as a JSON-RPC 2.0 message; throws `SyntaxError` for bad JSON, `TypeError` for another shape. */
export function parseJsonRpcMessage(line: string): JSONRPCMessage {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`not a JSON-RPC message: expected an object, got ${describe(value)}`);
  }
  const message = value as Record<string, unknown>;
  if (message.jsonrpc !== '2.0') {
    throw new TypeError(`not a JSON-RPC 2.0 message: "jsonrpc" is ${describe(message.jsonrpc)}`);
  }
  const isCall = typeof message.method === 'string';
  const isAnswer = 'result' in message || 'error' in message;
  if (isCall === isAnswer) {
    throw new TypeError('not a JSON-RPC message: it needs either a "method" or a "result"/"error"');
  }
  if ('id' in message && !isId(message.id) && !(isAnswer && message.id === null)) {
    throw new TypeError(`not a JSON-RPC message: "id" is ${describe(message.id)}`);
  }
  return value as JSONRPCMessage;
}

function isId(value: unknown): boolean {
  return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value));
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
}
