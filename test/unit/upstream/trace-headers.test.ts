/** A traced message's `_meta` context copied into the HTTP request's headers, and nothing else. */
import { describe, expect, it } from 'vitest';
import { withTraceHeaders } from '../../../src/upstream/trace-headers.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** What the transport's fetch was given, captured by the base fetch the wrapper calls. */
async function sent(init: RequestInit): Promise<Headers> {
  let headers = new Headers();
  const fetch = withTraceHeaders(async (_url, given) => {
    headers = new Headers(given?.headers);
    return new Response('{}');
  });
  await fetch('http://127.0.0.1:1/mcp', init);
  return headers;
}

const call = (meta: unknown, args: unknown = {}) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id: 3,
    method: 'tools/call',
    params: { name: 'x', arguments: args, _meta: meta },
  });

describe('withTraceHeaders', () => {
  it("sends a message's _meta context as traceparent and tracestate headers, beside the others", async () => {
    const headers = await sent({
      method: 'POST',
      body: call({ traceparent: TRACEPARENT, tracestate: 'a=1' }),
      headers: { authorization: 'Bearer t', tracestate: 'stale=1' },
    });
    expect(headers.get('traceparent')).toBe(TRACEPARENT);
    expect(headers.get('tracestate')).toBe('a=1');
    expect(headers.get('authorization')).toBe('Bearer t');
  });

  it('adds nothing for a message without a context, a malformed one, or one only the arguments mention', async () => {
    for (const body of [
      call(undefined),
      call({ traceparent: 'broken\r\nx-injected: 1' }),
      call({}, { traceparent: TRACEPARENT }),
      '{"traceparent": not json',
      undefined,
    ]) {
      const headers = await sent({ method: 'POST', ...(body !== undefined ? { body } : {}) });
      expect(headers.get('traceparent'), String(body)).toBeNull();
      expect(headers.get('x-injected')).toBeNull();
    }
  });
});
