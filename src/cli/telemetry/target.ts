/** Where traces go under the standard OpenTelemetry variables; pure, read by `serve`, the telemetry module and `doctor`. */

/** Where traces go under these variables, or why none are exported. */
export function tracesTarget(env: NodeJS.ProcessEnv): { endpoint: string } | { off: string } {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return { off: 'OTEL_SDK_DISABLED=true' };
  const exporters = env.OTEL_TRACES_EXPORTER?.split(',').map((each) => each.trim().toLowerCase());
  if (exporters?.includes('none')) return { off: 'OTEL_TRACES_EXPORTER=none' };
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific) return { endpoint: specific };
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base) return { endpoint: `${base.replace(/\/+$/, '')}/v1/traces` };
  return { off: 'no OTEL_EXPORTER_OTLP_ENDPOINT' };
}
