/**
 * Metrics of runs and their tool calls, recorded as they end: runs by status and the sandbox that ran
 * them (`podman`, `docker`, `embedded`, `monty`; `none` when none did), their duration and output, the time each waited for a run slot (`MCP_BRIDGE_MAX_CONCURRENT_RUNS`), and tool calls by
 * server and outcome. Labels take a few fixed values: a tool's name (the program's choice) is never
 * one, and `server` is a configured server or `other` (a forged frame can name anything).
 */
import type { Meter } from '@opentelemetry/api';
import type { RunObserver } from '../../engine/run-observer.js';

/** Histogram buckets of durations, seconds. */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Waits for a run slot: most are none at all. */
const WAIT_SECONDS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** The `server` label of a call to a server that is not configured. */
const OTHER_SERVER_LABEL = 'other';
/** The `sandbox` label of a run that reached no sandbox (refused, or none could be started). */
const NO_SANDBOX_LABEL = 'none';

export interface RunMetricsOptions {
  /** The configured servers, the only values the `server` label takes. */
  servers(): readonly string[];
}

export function runMetrics(meter: Meter, options: RunMetricsOptions): RunObserver {
  const runs = meter.createCounter('codemode_runs', {
    description: 'run_python runs, by status and the sandbox that ran them',
  });
  const runDuration = meter.createHistogram('codemode_run_duration_seconds', {
    description: 'run_python wall time, seconds, by status and the sandbox that ran them',
    unit: 's',
    advice: { explicitBucketBoundaries: SECONDS },
  });
  const queueWait = meter.createHistogram('codemode_run_queue_wait_seconds', {
    description: 'How long runs waited for a run slot (MCP_BRIDGE_MAX_CONCURRENT_RUNS), seconds',
    unit: 's',
    advice: { explicitBucketBoundaries: WAIT_SECONDS },
  });
  const toolDuration = meter.createHistogram('codemode_tool_call_duration_seconds', {
    description: 'Upstream tool calls made by runs, seconds, by server and outcome',
    unit: 's',
    advice: { explicitBucketBoundaries: SECONDS },
  });
  const outputBytes = meter.createCounter('codemode_run_output_bytes', {
    description: 'Bytes of stdout and stderr returned by runs',
    unit: 'By',
  });
  // The configured servers do not change once the bridge is composed (before that, there are no runs).
  let configured: ReadonlySet<string> | undefined;
  const serverLabel = (server: string): string => {
    const known = configured ?? new Set(options.servers());
    if (known.size > 0) configured = known;
    return known.has(server) ? server : OTHER_SERVER_LABEL;
  };
  return {
    runStarted() {
      const startedAt = performance.now();
      return {
        queued(waitMs) {
          queueWait.record(waitMs / 1000);
        },
        toolCall(server) {
          return (end) => {
            toolDuration.record(end.durationMs / 1000, {
              server: serverLabel(server),
              outcome: end.outcome,
            });
          };
        },
        ended(outcome) {
          const labels = { status: outcome.status, sandbox: outcome.sandbox ?? NO_SANDBOX_LABEL };
          runs.add(1, labels);
          runDuration.record(outcome.durationMs / 1000, labels);
          outputBytes.add(Buffer.byteLength(outcome.stdout) + Buffer.byteLength(outcome.stderr));
        },
        failed() {
          const labels = { status: 'not_started', sandbox: NO_SANDBOX_LABEL };
          runs.add(1, labels);
          runDuration.record((performance.now() - startedAt) / 1000, labels);
        },
      };
    },
  };
}
