/**
 * The OpenTelemetry SDK's providers and exporters, each package imported only when what it serves is
 * on: traces over OTLP/HTTP (JSON) to where the standard variables say, metrics for a Prometheus
 * scrape. The exporter reads the endpoint, headers, timeout and compression from those variables;
 * the tracer provider reads the sampler (`OTEL_TRACES_SAMPLER`) and batching settings.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter, Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';

const SCOPE = 'codemode-bridge';

/** The bridge as telemetry names it: `OTEL_SERVICE_NAME` (default codemode-bridge), its version, and `OTEL_RESOURCE_ATTRIBUTES`. */
export async function bridgeResource(env: NodeJS.ProcessEnv, version: string): Promise<Resource> {
  const { resourceFromAttributes, detectResources, envDetector } = await import('@opentelemetry/resources');
  return resourceFromAttributes({
    'service.name': env.OTEL_SERVICE_NAME?.trim() || 'codemode-bridge',
    'service.version': version,
  }).merge(detectResources({ detectors: [envDetector] }));
}

export interface TracesExport {
  tracer: Tracer;
  /** Flushes the spans still batched and stops the exporter. */
  shutdown(): Promise<void>;
}

export async function startTracesExport(resource: Resource, version: string): Promise<TracesExport> {
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  return { tracer: provider.getTracer(SCOPE, version), shutdown: () => provider.shutdown() };
}

export interface MetricsExport {
  meter: Meter;
  /** Answers a Prometheus scrape with every instrument's current value. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  shutdown(): Promise<void>;
}

export async function startPrometheusExport(resource: Resource, version: string): Promise<MetricsExport> {
  const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  // Served on the bridge's own HTTP server (behind its token), not on a port of the exporter's.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ resource, readers: [exporter] });
  return {
    meter: provider.getMeter(SCOPE, version),
    handle: (request, response) => exporter.getMetricsRequestHandler(request, response),
    shutdown: () => provider.shutdown(),
  };
}
