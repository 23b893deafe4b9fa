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

/** JSON-RPC's "Parse error": the text is not JSON. */
export const PARSE_ERROR = -32700;
/** JSON-RPC's "Invalid Request": JSON, but not a message the receiver takes. */
export const INVALID_REQUEST = -32600;

/**
 * A line that is JSON but not a JSON-RPC message. `requestId`: it has a method and an id to answer;
 * `notification`: it has a method and no id, so the spec forbids any answer.
 */
export class JsonRpcShapeError extends TypeError {
  constructor(
    message: string,
    readonly requestId?: string | number,
    readonly notification = false,
  ) {
    super(message);
    this.name = 'JsonRpcShapeError';
  }
}

/**
 * A JSON array: a JSON-RPC batch, which MCP no longer takes (the 2025-06-18 revision removed it).
 * `requestIds`: the ids of the requests in it, each of which a client is waiting on.
 */
export class JsonRpcBatchError extends JsonRpcShapeError {
  constructor(
    readonly size: number,
    readonly requestIds: readonly (string | number)[],
  ) {
    super(
      `a JSON-RPC batch (an array of ${size} message${size === 1 ? '' : 's'}); MCP takes no batches ` +
        'since its 2025-06-18 revision: send each message on its own',
    );
    this.name = 'JsonRpcBatchError';
  }
}

/** An error response whose id may be null: the spec's answer when the request's id cannot be told. */
export interface JsonRpcErrorReply {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string };
}

/**
 * The answers JSON-RPC asks of a receiver that could not take a message (`error` is what
 * `parseJsonRpcMessage` threw): "Parse error" with a null id for text that is not JSON; "Invalid
 * Request" for a batch, one per request in it so no caller waits for ever (a null id when it holds
 * none), and for any other malformed message, for its id or a null one. None for a notification.
 */
export function repliesToUnreadable(error: unknown): JsonRpcErrorReply[] {
  const reply = (id: string | number | null, code: number, message: string): JsonRpcErrorReply => ({
    jsonrpc: '2.0',
    id,
    error: { code, message },
  });
  if (error instanceof JsonRpcBatchError) {
    const message = `Invalid request: ${error.message}.`;
    if (error.requestIds.length === 0) return [reply(null, INVALID_REQUEST, message)];
    return error.requestIds.map((id) => reply(id, INVALID_REQUEST, message));
  }
  if (error instanceof JsonRpcShapeError) {
    if (error.notification) return [];
    return [reply(error.requestId ?? null, INVALID_REQUEST, `Invalid request: ${error.message}.`)];
  }
  const detail = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
  return [
    reply(
      null,
      PARSE_ERROR,
      `Parse error: the message is not JSON (${detail}). Send one JSON-RPC message, as JSON, at a time.`,
    ),
  ];
}

/**
 * Parses `line` as a JSON-RPC 2.0 message; throws `SyntaxError` for bad JSON, `JsonRpcShapeError`
 * (a `TypeError`) for another shape.
 */
export function parseJsonRpcMessage(line: string): JSONRPCMessage {
  const value: unknown = JSON.parse(line);
  if (Array.isArray(value)) throw new JsonRpcBatchError(value.length, requestIdsOf(value));
  if (typeof value !== 'object' || value === null) {
    throw new JsonRpcShapeError(`not a JSON-RPC message: expected an object, got ${describe(value)}`);
  }
  const message = value as Record<string, unknown>;
  const isCall = typeof message.method === 'string';
  const requestId = isCall && isId(message.id) ? (message.id as string | number) : undefined;
  const notification = isCall && !('id' in message);
  const refuse = (problem: string) => new JsonRpcShapeError(problem, requestId, notification);
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

/** The ids of the requests (a method and an id) among a batch's members. */
function requestIdsOf(batch: unknown[]): (string | number)[] {
  const ids: (string | number)[] = [];
  for (const member of batch) {
    if (typeof member !== 'object' || member === null) continue;
    const { method, id } = member as Record<string, unknown>;
    if (typeof method === 'string' && isId(id)) ids.push(id as string | number);
  }
  return ids;
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
