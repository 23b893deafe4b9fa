/**
 * Spans for runs and their tool calls, after OpenTelemetry's conventions for MCP and GenAI tool
 * execution. A run is the server side of the `tools/call` that asked for it: span `tools/call
 * run_python` (kind SERVER), the child of the caller's span when its request carried a trace context
 * (`_meta`, else HTTP headers), with `mcp.method.name`, `gen_ai.tool.name`, `gen_ai.operation.name`
 * `execute_tool`, `jsonrpc.request.id`, `mcp.session.id`, `mcp.protocol.version`, `network.transport`,
 * and `error.type` `tool_error` when it fails. Each tool call is the client side of a `tools/call` to
 * an upstream server: span `tools/call` (kind CLIENT), whose context goes to the server with the
 * call, so the caller's trace, the bridge's and the servers' form one tree.
 *
 * Span names are fixed: the tool a program calls is any string it likes (made up or hostile), so it
 * is an attribute, escaped and cut (text.ts), never part of a name.
 */
import {
  type Attributes,
  createTraceState,
  type Link,
  ROOT_CONTEXT,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { RunObserver } from '../../engine/run-observer.js';
import type { SandboxKind } from '../../sandbox/types.js';
import { errorMessage } from '../../shared/errors.js';
import { type TraceContext, type TracePeer, traceCarrier } from '../../shared/trace-context.js';
import { telemetryText } from './text.js';

/** `{mcp.method.name} {target}`: the target is the bridge's own tool, a fixed name. */
const RUN_SPAN = 'tools/call run_python';
/** `{mcp.method.name}` alone: no tool name a program chooses is low-cardinality. */
const TOOL_CALL_SPAN = 'tools/call';
/** Longest tool or server name kept in an attribute, and longest status message. */
const MAX_NAME_CHARS = 128;
const MAX_MESSAGE_CHARS = 500;
/** Servers named in a run span: the client's list, bounded. */
const MAX_RUN_SERVERS = 32;

export interface RunTracingOptions {
  /**
   * What runs programs of this kind now, for `codemode.sandbox.backend`: the Monty tier for `monty`,
   * else the full-Python backend (also for a run that never reached a sandbox, `kind` undefined).
   */
  backend(kind?: SandboxKind): string;
}

export function runTracing(tracer: Tracer, options: RunTracingOptions): RunObserver {
  return {
    runStarted(run) {
      const origin = run.origin;
      const parent = origin?.parent
        ? trace.setSpanContext(ROOT_CONTEXT, remoteSpanContext(origin.parent))
        : ROOT_CONTEXT;
      const links: Link[] = origin?.link ? [{ context: remoteSpanContext(origin.link) }] : [];
      const span = tracer.startSpan(
        RUN_SPAN,
        {
          // A run started from the console or `codemode-bridge run` served no MCP request.
          kind: origin ? SpanKind.SERVER : SpanKind.INTERNAL,
          startTime: run.startedAt,
          links,
          attributes: {
            'mcp.method.name': 'tools/call',
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': 'run_python',
            ...(origin?.requestId !== undefined
              ? { 'jsonrpc.request.id': telemetryText(String(origin.requestId), MAX_NAME_CHARS) }
              : {}),
            ...(run.session !== undefined ? { 'mcp.session.id': run.session } : {}),
            ...(origin?.protocolVersion ? { 'mcp.protocol.version': origin.protocolVersion } : {}),
            ...(origin?.transport ? { 'network.transport': origin.transport } : {}),
            'codemode.run.id': run.runId,
            'codemode.run.servers': run.servers
              .slice(0, MAX_RUN_SERVERS)
              .map((server) => telemetryText(server, MAX_NAME_CHARS)),
            'codemode.run.code_bytes': Buffer.byteLength(run.code),
          },
        },
        parent,
      );
      const runContext = trace.setSpan(ROOT_CONTEXT, span);
      return {
        queued(waitMs) {
          span.setAttribute('codemode.run.queue_wait_ms', round(waitMs));
        },
        toolCall(server, tool, outgoing) {
          const child = tracer.startSpan(
            TOOL_CALL_SPAN,
            {
              kind: SpanKind.CLIENT,
              attributes: {
                'mcp.method.name': 'tools/call',
                'gen_ai.operation.name': 'execute_tool',
                'gen_ai.tool.name': telemetryText(tool, MAX_NAME_CHARS),
                'codemode.tool.server': telemetryText(server, MAX_NAME_CHARS),
              },
            },
            runContext,
          );
          outgoing.carrier = traceCarrier(traceContextOf(child.spanContext()));
          return (end) => {
            if (outgoing.peer) child.setAttributes(peerAttributes(outgoing.peer));
            child.setAttributes({
              'codemode.tool.outcome': end.outcome,
              'codemode.tool.duration_ms': round(end.durationMs),
            });
            if (end.outcome !== 'ok') {
              child.setAttribute('error.type', end.errorType ?? '_OTHER');
              child.setStatus({
                code: SpanStatusCode.ERROR,
                message: telemetryText(end.error ?? end.outcome, MAX_MESSAGE_CHARS),
              });
            }
            child.end();
          };
        },
        ended(outcome) {
          span.setAttributes({
            'codemode.run.status': outcome.status,
            'codemode.run.duration_ms': outcome.durationMs,
            'codemode.run.bytes_out': Buffer.byteLength(outcome.stdout) + Buffer.byteLength(outcome.stderr),
            // Under MCP_BRIDGE_RUNTIME=auto a run goes to Monty or to full Python: say which.
            ...(outcome.sandbox ? { 'codemode.sandbox.kind': outcome.sandbox } : {}),
            'codemode.sandbox.backend': options.backend(outcome.sandbox),
          });
          if (outcome.status !== 'ok') {
            // The client gets a result with `isError`: the conventions' `tool_error`.
            span.setAttribute('error.type', 'tool_error');
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: telemetryText(outcome.error ?? outcome.status, MAX_MESSAGE_CHARS),
            });
          }
          span.end();
        },
        failed(error) {
          span.setAttributes({
            'codemode.run.status': 'not_started',
            'codemode.sandbox.backend': options.backend(),
            'error.type': 'tool_error',
          });
          // Name and message only: the message may quote what the client or program sent.
          const message = telemetryText(errorMessage(error), MAX_MESSAGE_CHARS);
          span.recordException({ name: error instanceof Error ? error.name : 'Error', message });
          span.setStatus({ code: SpanStatusCode.ERROR, message });
          span.end();
        },
      };
    },
  };
}

/** The caller's span as the parent (or link) of one of ours. */
function remoteSpanContext(context: TraceContext): SpanContext {
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.flags,
    isRemote: true,
    ...(context.tracestate ? { traceState: createTraceState(context.tracestate) } : {}),
  };
}

/** A span's context as it is sent on: its trace, its id as the parent, its flags and the caller's `tracestate`. */
function traceContextOf(span: SpanContext): TraceContext {
  const tracestate = span.traceState?.serialize();
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    flags: span.traceFlags,
    ...(tracestate ? { tracestate } : {}),
  };
}

/** The connection a call went out on, as the conventions' client span names it. */
function peerAttributes(peer: TracePeer): Attributes {
  return {
    'network.transport': peer.transport,
    ...(peer.address !== undefined ? { 'server.address': peer.address } : {}),
    ...(peer.port !== undefined ? { 'server.port': peer.port } : {}),
    ...(peer.protocolVersion ? { 'mcp.protocol.version': peer.protocolVersion } : {}),
    ...(peer.sessionId ? { 'mcp.session.id': peer.sessionId } : {}),
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
