/**
 * OpenTelemetry for the bridge, with the official packages, loaded only when used: traces go out over
 * OTLP/HTTP (JSON) when the standard variables name an endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn them off),
 * metrics are served for Prometheus at `/metrics` when the bridge serves HTTP. Without either, nothing
 * is loaded and runs carry no observer at all.
 *
 * A run is a span `run_python` (status, duration, backend, bytes out); each tool call a child span
 * `tools/call`, after OpenTelemetry's conventions for MCP (`mcp.method.name`, `gen_ai.operation.name`
 * `execute_tool`, `gen_ai.tool.name`, `error.type`) plus server, duration and outcome. Span names are
 * fixed: the tool is the program's to name (any string, made up or hostile), so it is an attribute,
 * escaped and cut (telemetry-text.ts); metrics label calls by configured server and outcome only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunObserver } from '../engine/run-observer.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { tracesTarget } from './telemetry-target.js';
import { telemetryText } from './telemetry-text.js';

/** The name of every tool call's span: OpenTelemetry's `{mcp.method.name}` with no target, since no tool name is low-cardinality here. */
const TOOL_CALL_SPAN = 'tools/call';
/** Longest tool or server name kept in an attribute, and longest status message. */
const MAX_NAME_CHARS = 128;
const MAX_MESSAGE_CHARS = 500;
/** Servers named in a run span: the client's list, bounded. */
const MAX_RUN_SERVERS = 32;
/** The `server` label of a call to a server that is not configured (a forged frame can name anything). */
const OTHER_SERVER_LABEL = 'other';

export interface TelemetryOptions {
  env: NodeJS.ProcessEnv;
  version: string;
  /** Serve metrics for Prometheus (`metricsHandler`). */
  metrics: boolean;
  /** The sandbox backend, for the run spans' `codemode.sandbox.backend`. */
  backend(): Promise<string>;
  /** The pool's numbers now, for the gauges. */
  poolStats(): Promise<{ ready: number; starting: number; inUse: number; target: number }>;
  /** MCP sessions open now (HTTP), for a gauge. */
  sessions?(): number;
  /** The configured servers, the only values the metrics' `server` label takes (others are `other`). */
  servers?(): readonly string[];
  logger: Logger;
}

export interface Telemetry {
  observer: RunObserver;
  /** Answers a Prometheus scrape; present when metrics are on. */
  metricsHandler?: (request: IncomingMessage, response: ServerResponse) => void;
  /** What is exported where, for logs and `doctor` (no secrets: header values are not shown). */
  description: string;
  /** Flushes spans still batched and stops the exporters. */
  shutdown(): Promise<void>;
}

/** Starts what the settings ask for; undefined when they ask for nothing (no package is loaded then). */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry | undefined> {
  const target = tracesTarget(options.env);
  const traces = 'endpoint' in target;
  if (!traces && !options.metrics) return undefined;
  const api = await import('@opentelemetry/api');
  const { resourceFromAttributes, detectResources, envDetector } = await import('@opentelemetry/resources');
  const resource = resourceFromAttributes({
    'service.name': options.env.OTEL_SERVICE_NAME?.trim() || 'codemode-bridge',
    'service.version': options.version,
  }).merge(detectResources({ detectors: [envDetector] }));

  let tracer: import('@opentelemetry/api').Tracer | undefined;
  let shutdownTraces = async () => {};
  if (traces) {
    const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    // The exporter reads the endpoint, headers, timeout and compression from the standard variables.
    const provider = new BasicTracerProvider({
      resource,
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
    });
    tracer = provider.getTracer('codemode-bridge', options.version);
    shutdownTraces = () => provider.shutdown();
  }

  let metricsHandler: Telemetry['metricsHandler'];
  let shutdownMetrics = async () => {};
  let instruments:
    | {
        runs: import('@opentelemetry/api').Counter;
        runDuration: import('@opentelemetry/api').Histogram;
        toolDuration: import('@opentelemetry/api').Histogram;
        outputBytes: import('@opentelemetry/api').Counter;
      }
    | undefined;
  if (options.metrics) {
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const provider = new MeterProvider({ resource, readers: [exporter] });
    const meter = provider.getMeter('codemode-bridge', options.version);
    const seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    instruments = {
      runs: meter.createCounter('codemode_runs', { description: 'run_python runs, by status' }),
      runDuration: meter.createHistogram('codemode_run_duration_seconds', {
        description: 'run_python wall time, seconds',
        unit: 's',
        advice: { explicitBucketBoundaries: seconds },
      }),
      toolDuration: meter.createHistogram('codemode_tool_call_duration_seconds', {
        description: 'Upstream tool calls made by runs, seconds, by server and outcome',
        unit: 's',
        advice: { explicitBucketBoundaries: seconds },
      }),
      outputBytes: meter.createCounter('codemode_run_output_bytes', {
        description: 'Bytes of stdout and stderr returned by runs',
        unit: 'By',
      }),
    };
    const pool = meter.createObservableGauge('codemode_pool_sandboxes', {
      description: 'Sandboxes of the warm pool, by state (ready, starting, in_use)',
    });
    const target = meter.createObservableGauge('codemode_pool_target', {
      description: 'Sandboxes the warm pool keeps ready now',
    });
    const alive = meter.createObservableGauge('codemode_sandboxes_alive', {
      description: 'Sandboxes alive: ready, starting and running',
    });
    const sessions = meter.createObservableGauge('codemode_http_sessions', {
      description: 'MCP sessions open over HTTP',
    });
    meter.addBatchObservableCallback(
      async (result) => {
        const stats = await options.poolStats().catch(() => undefined);
        if (stats) {
          result.observe(pool, stats.ready, { state: 'ready' });
          result.observe(pool, stats.starting, { state: 'starting' });
          result.observe(pool, stats.inUse, { state: 'in_use' });
          result.observe(target, stats.target);
          result.observe(alive, stats.ready + stats.starting + stats.inUse);
        }
        if (options.sessions) result.observe(sessions, options.sessions());
      },
      [pool, target, alive, sessions],
    );
    metricsHandler = (request, response) => exporter.getMetricsRequestHandler(request, response);
    shutdownMetrics = () => provider.shutdown();
  }

  let backend = 'unknown';
  options.backend().then(
    (description) => {
      backend = description;
    },
    () => {},
  );

  const observer: RunObserver = {
    runStarted(run) {
      const span = tracer?.startSpan('run_python', {
        kind: api.SpanKind.INTERNAL,
        startTime: run.startedAt,
        attributes: {
          'codemode.run.id': run.runId,
          'codemode.run.servers': run.servers
            .slice(0, MAX_RUN_SERVERS)
            .map((server) => telemetryText(server, MAX_NAME_CHARS)),
          'codemode.run.code_bytes': Buffer.byteLength(run.code),
          ...(run.session !== undefined ? { 'mcp.session.id': run.session } : {}),
        },
      });
      const parent = span ? api.trace.setSpan(api.context.active(), span) : undefined;
      const startedAt = performance.now();
      return {
        toolCall(server, tool) {
          const child = tracer?.startSpan(
            TOOL_CALL_SPAN,
            {
              kind: api.SpanKind.CLIENT,
              attributes: {
                'mcp.method.name': 'tools/call',
                'gen_ai.operation.name': 'execute_tool',
                'gen_ai.tool.name': telemetryText(tool, MAX_NAME_CHARS),
                'codemode.tool.server': telemetryText(server, MAX_NAME_CHARS),
              },
            },
            parent,
          );
          return (end) => {
            instruments?.toolDuration.record(end.durationMs / 1000, {
              server: options.servers?.().includes(server) ? server : OTHER_SERVER_LABEL,
              outcome: end.outcome,
            });
            if (!child) return;
            child.setAttributes({
              'codemode.tool.outcome': end.outcome,
              'codemode.tool.duration_ms': Math.round(end.durationMs * 1000) / 1000,
            });
            if (end.outcome !== 'ok') {
              child.setAttribute('error.type', end.outcome);
              child.setStatus({
                code: api.SpanStatusCode.ERROR,
                message: telemetryText(end.error ?? end.outcome, MAX_MESSAGE_CHARS),
              });
            }
            child.end();
          };
        },
        ended(outcome) {
          const bytesOut = Buffer.byteLength(outcome.stdout) + Buffer.byteLength(outcome.stderr);
          instruments?.runs.add(1, { status: outcome.status });
          instruments?.runDuration.record(outcome.durationMs / 1000, { status: outcome.status });
          instruments?.outputBytes.add(bytesOut);
          if (!span) return;
          span.setAttributes({
            'codemode.run.status': outcome.status,
            'codemode.run.duration_ms': outcome.durationMs,
            'codemode.run.bytes_out': bytesOut,
            'codemode.sandbox.backend': backend,
          });
          if (outcome.status !== 'ok') {
            span.setStatus({
              code: api.SpanStatusCode.ERROR,
              message: telemetryText(outcome.error ?? outcome.status, MAX_MESSAGE_CHARS),
            });
          }
          span.end();
        },
        failed(error) {
          instruments?.runs.add(1, { status: 'not_started' });
          instruments?.runDuration.record((performance.now() - startedAt) / 1000, { status: 'not_started' });
          if (!span) return;
          span.setAttributes({ 'codemode.run.status': 'not_started', 'codemode.sandbox.backend': backend });
          // Name and message only: the message may quote what the client or program sent.
          const message = telemetryText(errorMessage(error), MAX_MESSAGE_CHARS);
          span.recordException({ name: error instanceof Error ? error.name : 'Error', message });
          span.setStatus({ code: api.SpanStatusCode.ERROR, message });
          span.end();
        },
      };
    },
  };
  const parts = [
    traces
      ? `traces to ${target.endpoint} (OTLP/HTTP JSON)`
      : `no traces (${'off' in target ? target.off : ''})`,
    options.metrics ? 'metrics at /metrics' : 'no metrics endpoint',
  ];
  options.logger.info('telemetry on', { what: parts.join('; ') });
  return {
    observer,
    ...(metricsHandler ? { metricsHandler } : {}),
    description: parts.join('; '),
    async shutdown() {
      await Promise.all([
        shutdownTraces().catch((error) => options.logger.warn('flushing traces failed', { error })),
        shutdownMetrics().catch(() => {}),
      ]);
    },
  };
}
