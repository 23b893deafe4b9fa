/**
 * One line of a JSON-RPC stream as a message: parsed, and its envelope checked (`jsonrpc: "2.0"`,
 * a method or a result/error, an id of the right type, no member JSON-RPC does not define, `params`
 * an object). The SDK's `Protocol` checks the full shape of every message again (its type guards,
 * then each handler's schema), so a transport parsing with `JSONRPCMessageSchema` as well validates
 * everything twice. That second pass costs only ~2 µs on a warm process, but a bridge called at agent
 * pace runs each path cold, after idling: there it was ~130 µs of a session call's ~3 ms. The checks
 * here are the ones the SDK's guards would fail a request on (they drop it unanswered), so a
 * transport can answer such a request with an error instead of leaving its client waiting.
 */
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

const CALL_MEMBERS = new Set(['jsonrpc', 'id', 'method', 'params']);
const ANSWER_MEMBERS = new Set(['jsonrpc', 'id', 'result', 'error']);

/** A line that is JSON but not a JSON-RPC message; `requestId`: it has a method and an id to answer. */
export class JsonRpcShapeError extends TypeError {
  constructor(
    message: string,
    readonly requestId?: string | number,
  ) {
    super(message);
    this.name = 'JsonRpcShapeError';
  }
}

/**
 * Parses `line` as a JSON-RPC 2.0 message; throws `SyntaxError` for bad JSON, `JsonRpcShapeError`
 * (a `TypeError`) for another shape.
 */
export function parseJsonRpcMessage(line: string): JSONRPCMessage {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JsonRpcShapeError(`not a JSON-RPC message: expected an object, got ${describe(value)}`);
  }
  const message = value as Record<string, unknown>;
  const isCall = typeof message.method === 'string';
  const requestId = isCall && isId(message.id) ? (message.id as string | number) : undefined;
  const refuse = (problem: string) => new JsonRpcShapeError(problem, requestId);
  if (message.jsonrpc !== '2.0') {
    throw refuse(`not a JSON-RPC 2.0 message: "jsonrpc" is ${describe(message.jsonrpc)}`);
  }
  const isAnswer = 'result' in message || 'error' in message;
  if (isCall === isAnswer) {
    throw refuse('not a JSON-RPC message: it needs either a "method" or a "result"/"error"');
  }
  if ('id' in message && !isId(message.id) && !(isAnswer && message.id === null)) {
    throw refuse(`not a JSON-RPC message: "id" is ${describe(message.id)}`);
  }
  const members = isCall ? CALL_MEMBERS : ANSWER_MEMBERS;
  for (const key in message) {
    if (!members.has(key)) throw refuse(`not a JSON-RPC message: it has a member ${describe(key)}`);
  }
  const params = message.params;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    throw refuse(`not a JSON-RPC request: "params" is ${describe(params)}; MCP takes an object`);
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
