/**
 * OpenTelemetry for the bridge, with the official packages, loaded only when used: traces go out over
 * OTLP/HTTP (JSON) when the standard variables name an endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn them off),
 * metrics are served for Prometheus at `/metrics` when the bridge serves HTTP. Without either, nothing
 * is loaded and runs carry no observer at all.
 *
 * This module puts the parts together: the providers and exporters (providers.ts), spans for runs
 * and tool calls (run-tracing.ts), metrics of runs (run-metrics.ts), of the bridge's parts
 * (bridge-metrics.ts) and of the process (process-metrics.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { combineObservers, type RunObserver } from '../../engine/run-observer.js';
import type { SandboxKind } from '../../sandbox/types.js';
import type { Logger } from '../../shared/logger.js';
import { type BridgeMetricsSources, observeBridge } from './bridge-metrics.js';
import { observeProcess } from './process-metrics.js';
import { bridgeResource, startPrometheusExport, startTracesExport } from './providers.js';
import { runMetrics } from './run-metrics.js';
import { runTracing } from './run-tracing.js';
import { tracesTarget } from './target.js';

export interface TelemetryOptions extends BridgeMetricsSources {
  env: NodeJS.ProcessEnv;
  version: string;
  /** Serve metrics for Prometheus (`metricsHandler`). */
  metrics: boolean;
  /** The full-Python sandbox backend, for the run spans' `codemode.sandbox.backend`. */
  backend(): Promise<string>;
  /** The Monty tier's description now, when the bridge has the tier: the backend of its runs. */
  instant?(): string;
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
  const resource = await bridgeResource(options.env, options.version);

  const observers: RunObserver[] = [];
  const stops: Array<() => Promise<void>> = [];
  let metricsHandler: Telemetry['metricsHandler'];
  if (traces) {
    const exported = await startTracesExport(resource, options.version);
    observers.push(runTracing(exported.tracer, { backend: backendDescription(options) }));
    stops.push(() =>
      exported.shutdown().catch((error) => options.logger.warn('flushing traces failed', { error })),
    );
  }
  if (options.metrics) {
    const exported = await startPrometheusExport(resource, options.version);
    observers.push(runMetrics(exported.meter, { servers: options.servers ?? (() => []) }));
    observeBridge(exported.meter, options);
    const stopProcess = observeProcess(exported.meter);
    metricsHandler = exported.handle;
    stops.push(() => {
      stopProcess();
      return exported.shutdown().catch(() => {});
    });
  }

  const parts = [
    traces
      ? `traces to ${target.endpoint} (OTLP/HTTP JSON)`
      : `no traces (${'off' in target ? target.off : ''})`,
    options.metrics ? 'metrics at /metrics' : 'no metrics endpoint',
  ];
  options.logger.info('telemetry on', { what: parts.join('; ') });
  return {
    // One observer needs no combining (over stdio: traces only).
    observer:
      observers.length === 1 ? (observers[0] as RunObserver) : (combineObservers(observers) as RunObserver),
    ...(metricsHandler ? { metricsHandler } : {}),
    description: parts.join('; '),
    async shutdown() {
      await Promise.all(stops.map((stop) => stop()));
    },
  };
}

/**
 * The description of what ran a run of `kind`: the Monty tier's, or the full-Python backend's once
 * known ('unknown' until then: a span never waits for it).
 */
function backendDescription(options: TelemetryOptions): (kind?: SandboxKind) => string {
  let backend = 'unknown';
  options.backend().then(
    (description) => {
      backend = description;
    },
    () => {},
  );
  return (kind) => (kind === 'monty' && options.instant ? options.instant() : backend);
}
