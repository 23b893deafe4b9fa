/**
 * Routes a connected transport's messages straight to the SDK `Protocol`'s handlers.
 *
 * `Protocol.connect` wraps the transport's `onmessage` in type guards that parse each message with
 * up to three zod schemas before routing it: as a result, as an error, then as a request. So every
 * request the bridge receives fails two full parses first, and a failing zod parse also builds its
 * issue messages. The handlers parse again what they need anyway: a request handler its request's
 * schema (`run_python` its arguments), a response its result schema. Measured with `perf` at agent
 * pace (a call every 500 ms, every path run cold), the guards were ~10% of the bridge's main-thread
 * CPU: more than the parse of `run_python`'s arguments.
 *
 * A message reaching `onmessage` has already passed its transport's envelope check (ours in
 * json-rpc.ts, the SDK's own transports parse with `JSONRPCMessageSchema`), so its kind is told by
 * the keys the guards would test: a method and an id make a request, a method alone a notification,
 * anything else a response. The three targets are the `Protocol`'s own routing methods, which its
 * typings mark private; if an SDK release renames them, the SDK's wrapper stays in place and only
 * the saving is lost (test/unit/shared/message-routing.test.ts fails then, so an upgrade sees it).
 */
import type { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type {
  JSONRPCErrorResponse,
  JSONRPCMessage,
  JSONRPCNotification,
  JSONRPCRequest,
  JSONRPCResultResponse,
  MessageExtraInfo,
} from '@modelcontextprotocol/sdk/types.js';

/** The routing methods `Protocol.connect`'s wrapper calls once its type guards have chosen one. */
interface ProtocolRoutes {
  _onrequest(request: JSONRPCRequest, extra?: MessageExtraInfo): void;
  _onnotification(notification: JSONRPCNotification): void;
  _onresponse(response: JSONRPCResultResponse | JSONRPCErrorResponse): void;
}

// biome-ignore lint/suspicious/noExplicitAny: any protocol's request, notification and result types
type AnyProtocol = Protocol<any, any, any>;

/**
 * Replaces the type-guarding wrapper `protocol.connect(transport)` installed with direct routing.
 * Call it right after `connect` resolves. False (and nothing changed) when this SDK's `Protocol` has
 * no such methods, or the transport was not connected to it. The wrapper also called an `onmessage`
 * the transport had before `connect`; that one is dropped (the bridge sets none).
 */
export function routeMessagesByShape(protocol: AnyProtocol, transport: Transport): boolean {
  const routes = protocol as unknown as Partial<ProtocolRoutes>;
  const { _onrequest: onRequest, _onnotification: onNotification, _onresponse: onResponse } = routes;
  if (
    typeof onRequest !== 'function' ||
    typeof onNotification !== 'function' ||
    typeof onResponse !== 'function' ||
    protocol.transport !== transport ||
    typeof transport.onmessage !== 'function'
  ) {
    return false;
  }
  transport.onmessage = (message: JSONRPCMessage, extra?: MessageExtraInfo): void => {
    if ('method' in message) {
      if ('id' in message) onRequest.call(protocol, message as JSONRPCRequest, extra);
      else onNotification.call(protocol, message as JSONRPCNotification);
    } else {
      onResponse.call(protocol, message as JSONRPCResultResponse | JSONRPCErrorResponse);
    }
  };
  return true;
}

/**
 * `protocol.connect(transport)`, then {@link routeMessagesByShape}: how the bridge connects each of
 * its servers (stdio, HTTP sessions, the one serving a configuration error). Upstream clients route
 * once their `connect`, which also initializes, has settled on a transport (upstream/connection.ts).
 */
export async function connectRoutedByShape(protocol: AnyProtocol, transport: Transport): Promise<void> {
  await protocol.connect(transport);
  routeMessagesByShape(protocol, transport);
}
