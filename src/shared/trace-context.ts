/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) as MCP carries it: `traceparent` and
 * `tracestate` keys, unprefixed, in a request's `params._meta` (SEP-414; OpenTelemetry's MCP
 * conventions), and over HTTP also as headers of the same names. Pure: parsing a caller's context,
 * choosing between `_meta` and headers, and writing a context out. A malformed value is ignored,
 * never an error: a caller's broken tracing must not fail its call.
 */

/** A validated trace context: whose child the next span is, and the vendors' state that travels with it. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string;
  /** The parent span's id: 16 lowercase hex digits, not all zero. */
  spanId: string;
  /** The trace flags byte (bit 0: sampled). */
  flags: number;
  /** The `tracestate` list as received, when it was well formed. */
  tracestate?: string;
}

/** A context as the `_meta` keys (and HTTP headers) carry it. */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/** What an upstream call learned of the connection it went out on (OpenTelemetry's client span attributes). */
export interface TracePeer {
  /** `pipe` for a stdio server, `tcp` for HTTP and SSE. */
  transport: 'pipe' | 'tcp';
  /** The HTTP server's host and port, as configured. */
  address?: string;
  port?: number;
  /** The MCP protocol version the session negotiated. */
  protocolVersion?: string;
  /** The HTTP session's id (`Mcp-Session-Id`), when the server gave one. */
  sessionId?: string;
}

/**
 * One outgoing tool call's tracing, passed along with it: the context to send (set by the telemetry
 * that traces the call) and the connection it went out on (set by the upstream pool).
 */
export interface OutgoingCallTrace {
  carrier?: TraceCarrier;
  peer?: TracePeer;
}

/** Header-like values: Node's incoming headers (a repeated header is an array). */
export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>;

// version "-" trace-id "-" parent-id "-" trace-flags, then, from a later version only, "-" and more.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
/** Longest `traceparent` looked at: version 00 is 55 characters; later versions may add fields. */
const MAX_TRACEPARENT_CHARS = 256;

/** At most 32 list members (W3C); a longer list is malformed, not cut. */
const MAX_TRACESTATE_MEMBERS = 32;
/** Longest `tracestate` kept (32 members of the longest keys and values run to ~16 KB). */
const MAX_TRACESTATE_CHARS = 512;
// A simple key, or tenant@system; a value of printable ASCII but `,` and `=`, not ending in a space.
const TRACESTATE_MEMBER =
  /^(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** `traceparent` parsed and checked, or undefined when it is not a valid one (leading and trailing blanks allowed). */
export function parseTraceparent(value: unknown): Omit<TraceContext, 'tracestate'> | undefined {
  if (typeof value !== 'string' || value.length > MAX_TRACEPARENT_CHARS) return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string | undefined,
  ];
  // ff is forbidden; version 00 has exactly four fields; a later version is read as 00 is.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/**
 * `tracestate` as a list of at most 32 well-formed `key=value` members with unique keys, blanks
 * around members dropped; undefined when it is not one (the whole list goes, as W3C allows).
 */
export function parseTracestate(value: unknown): string | undefined {
  const text = Array.isArray(value) ? value.join(',') : value;
  if (typeof text !== 'string' || text.length > MAX_TRACESTATE_CHARS) return undefined;
  const members = text
    .split(',')
    .map((member) => member.trim())
    .filter((member) => member !== '');
  if (members.length === 0 || members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  const keys = new Set<string>();
  for (const member of members) {
    if (!TRACESTATE_MEMBER.test(member)) return undefined;
    const key = member.slice(0, member.indexOf('='));
    if (keys.has(key)) return undefined;
    keys.add(key);
  }
  return members.join(',');
}

/** The context in a `_meta` object or in headers, if its `traceparent` is valid. */
export function readTraceContext(
  source: Readonly<Record<string, unknown>> | undefined,
): TraceContext | undefined {
  if (!source) return undefined;
  // A header sent twice arrives as an array: two parents is no parent.
  const parent = parseTraceparent(source.traceparent);
  if (!parent) return undefined;
  const tracestate = parseTracestate(source.tracestate);
  return tracestate === undefined ? parent : { ...parent, tracestate };
}

/**
 * The caller's context for a request: `_meta`'s when valid, else the HTTP headers'. When both are
 * valid and differ, the headers' is returned as `link` (the transport's context, which OpenTelemetry's
 * MCP conventions record as a link, since one HTTP request can carry several MCP messages).
 */
export function callerTraceContext(
  meta: Readonly<Record<string, unknown>> | undefined,
  headers: HeaderValues | undefined,
): { parent?: TraceContext; link?: TraceContext } {
  const fromMeta = readTraceContext(meta);
  const fromHeaders = readTraceContext(headers);
  if (!fromMeta) return fromHeaders ? { parent: fromHeaders } : {};
  if (!fromHeaders || sameSpan(fromMeta, fromHeaders)) return { parent: fromMeta };
  return { parent: fromMeta, link: fromHeaders };
}

/** The `traceparent` (version 00) and `tracestate` values for a context. */
export function traceCarrier(context: TraceContext): TraceCarrier {
  const traceparent = `00-${context.traceId}-${context.spanId}-${(context.flags & 0xff).toString(16).padStart(2, '0')}`;
  return context.tracestate ? { traceparent, tracestate: context.tracestate } : { traceparent };
}

function sameSpan(a: TraceContext, b: TraceContext): boolean {
  return a.traceId === b.traceId && a.spanId === b.spanId;
}
