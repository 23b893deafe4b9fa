/**
 * The fetch of HTTP and SSE upstream transports: a message whose `_meta` carries a W3C trace context
 * is sent with the same context in `traceparent`/`tracestate` headers (what SEP-2028 proposes), so an
 * HTTP server, gateway or proxy that reads only headers joins the trace too. Only the bridge writes
 * those keys (a traced call's context; a program's arguments travel in `params.arguments`), and they
 * are parsed and written again here, so nothing else can reach a header this way.
 */
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { readTraceContext, type TraceCarrier, traceCarrier } from '../shared/trace-context.js';

export function withTraceHeaders(base: FetchLike = fetch): FetchLike {
  return (url, init) => {
    const body = init?.body;
    // Most messages carry no context: a search of the text costs less than parsing it.
    if (typeof body !== 'string' || !body.includes('"traceparent"')) return base(url, init);
    const carrier = carrierOf(body);
    if (!carrier) return base(url, init);
    const headers = new Headers(init?.headers);
    headers.set('traceparent', carrier.traceparent);
    if (carrier.tracestate) headers.set('tracestate', carrier.tracestate);
    else headers.delete('tracestate');
    return base(url, { ...init, headers });
  };
}

/** The context in a JSON-RPC message's `params._meta`, if it has a valid one. */
function carrierOf(body: string): TraceCarrier | undefined {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return undefined;
  }
  const meta = (message as { params?: { _meta?: unknown } } | null)?.params?._meta;
  if (typeof meta !== 'object' || meta === null) return undefined;
  const context = readTraceContext(meta as Record<string, unknown>);
  return context ? traceCarrier(context) : undefined;
}
