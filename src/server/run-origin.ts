/**
 * Where a `tools/call` came from, as its run's telemetry describes it (the engine's `RunOrigin`):
 * the caller's W3C trace context, from the request's `_meta` or else its HTTP headers (a malformed
 * one is ignored), its JSON-RPC id, the transport and the MCP protocol version. Reads what the SDK
 * hands the handler; never fails.
 */
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { RunOrigin } from '../engine/types.js';
import { callerTraceContext } from '../shared/trace-context.js';

/** A protocol version as MCP writes them (`2025-11-25`); a header saying anything else is not repeated. */
const PROTOCOL_VERSION = /^\d{4}-\d{2}-\d{2}$/;

export function runOrigin(
  extra: RequestHandlerExtra<ServerRequest, ServerNotification>,
  transport: Transport | undefined,
): RunOrigin {
  const headers = extra.requestInfo?.headers;
  const { parent, link } = callerTraceContext(extra._meta, headers);
  const version =
    headers?.['mcp-protocol-version'] ??
    (transport as { protocolVersion?: unknown } | undefined)?.protocolVersion;
  return {
    ...(parent ? { parent } : {}),
    ...(link ? { link } : {}),
    requestId: extra.requestId,
    // The SDK hands HTTP requests' headers over; stdio has none.
    transport: extra.requestInfo ? 'tcp' : 'pipe',
    ...(typeof version === 'string' && PROTOCOL_VERSION.test(version) ? { protocolVersion: version } : {}),
  };
}
