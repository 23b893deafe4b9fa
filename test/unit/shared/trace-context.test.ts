/** W3C trace context as MCP carries it: parsing `traceparent`/`tracestate`, `_meta` against headers, writing it out. */
import { describe, expect, it } from 'vitest';
import {
  callerTraceContext,
  parseTraceparent,
  parseTracestate,
  readTraceContext,
  traceCarrier,
} from '../../../src/shared/trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE}-${SPAN}-01`;

describe('trace context', () => {
  it('parses a version 00 traceparent, blanks around it allowed', () => {
    expect(parseTraceparent(VALID)).toEqual({ traceId: TRACE, spanId: SPAN, flags: 1 });
    expect(parseTraceparent(` ${VALID.replace(/01$/, '00')}\t`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      flags: 0,
    });
  });

  it('reads a later version as version 00, extra fields and all', () => {
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-09-what-comes-later`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      flags: 9,
    });
    expect(parseTraceparent(`cc-${TRACE}-${SPAN}-01`)).toBeDefined();
  });

  it('ignores every malformed traceparent', () => {
    for (const bad of [
      undefined,
      null,
      42,
      ['a', 'b'],
      '',
      'garbage',
      `ff-${TRACE}-${SPAN}-01`, // version ff is forbidden
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has four fields
      `00-${'0'.repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${'0'.repeat(16)}-01`, // all-zero parent id
      `00-${TRACE.toUpperCase()}-${SPAN}-01`, // uppercase hex
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-1`,
      `00_${TRACE}_${SPAN}_01`,
      `00-${TRACE}-${SPAN}-0g`,
      `cc-${TRACE}-${SPAN}-01extra`,
      `${VALID}\r\ninjected: header`,
      `00-${TRACE}-${SPAN}-01-${'x'.repeat(300)}`,
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeUndefined();
    }
  });

  it('keeps a well-formed tracestate, members trimmed, and drops a malformed one whole', () => {
    expect(parseTracestate('rojo=00f067aa0ba902b7, congo=t61rcWkgMzE')).toBe(
      'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    );
    expect(parseTracestate('tenant@vendor=x,,a-b*c/d=v v')).toBe('tenant@vendor=x,a-b*c/d=v v');
    expect(parseTracestate(['a=1', 'b=2'])).toBe('a=1,b=2');
    for (const bad of [
      undefined,
      7,
      '',
      ' , ',
      'Upper=1', // keys are lowercase
      'a=1,a=2', // a key twice
      'a=', // an empty value
      'a=b=c',
      'a=\u00e9',
      'a=1\nb=2',
      Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','), // more than 32 members
      `a=${'v'.repeat(600)}`, // longer than we keep
    ]) {
      expect(parseTracestate(bad), String(bad)).toBeUndefined();
    }
  });

  it('reads a context only when its traceparent is valid; a bad tracestate alone is dropped', () => {
    expect(readTraceContext({ traceparent: VALID, tracestate: 'a=1' })).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      flags: 1,
      tracestate: 'a=1',
    });
    expect(readTraceContext({ traceparent: VALID, tracestate: 'A=1' })).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      flags: 1,
    });
    expect(readTraceContext({ traceparent: 'nope', tracestate: 'a=1' })).toBeUndefined();
    // A header sent twice: two parents is no parent.
    expect(readTraceContext({ traceparent: [VALID, VALID] })).toBeUndefined();
    expect(readTraceContext(undefined)).toBeUndefined();
  });

  it("prefers _meta's context; falls back to the headers'; links the headers' when both differ", () => {
    const other = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`;
    const fromMeta = { traceId: TRACE, spanId: SPAN, flags: 1 };
    const fromHeaders = { traceId: '1'.repeat(32), spanId: '2'.repeat(16), flags: 0 };
    expect(callerTraceContext({ traceparent: VALID }, { traceparent: other })).toEqual({
      parent: fromMeta,
      link: fromHeaders,
    });
    expect(callerTraceContext({ traceparent: VALID }, { traceparent: VALID })).toEqual({ parent: fromMeta });
    expect(callerTraceContext({ traceparent: 'broken' }, { traceparent: other })).toEqual({
      parent: fromHeaders,
    });
    expect(callerTraceContext({ progressToken: 1 }, undefined)).toEqual({});
    expect(callerTraceContext(undefined, { traceparent: 'broken' })).toEqual({});
  });

  it('writes a context back as version 00', () => {
    expect(traceCarrier({ traceId: TRACE, spanId: SPAN, flags: 1 })).toEqual({ traceparent: VALID });
    expect(traceCarrier({ traceId: TRACE, spanId: SPAN, flags: 0, tracestate: 'a=1' })).toEqual({
      traceparent: `00-${TRACE}-${SPAN}-00`,
      tracestate: 'a=1',
    });
    const round = readTraceContext(traceCarrier({ traceId: TRACE, spanId: SPAN, flags: 3 }) as never);
    expect(round).toEqual({ traceId: TRACE, spanId: SPAN, flags: 3 });
  });
});
