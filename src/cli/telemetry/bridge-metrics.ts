/**
 * Gauges and counters read from the bridge's parts at each scrape: the warm pool, the Monty tier's
 * workers, HTTP sessions, each configured upstream server's connection state and failures, and the
 * policy's decisions. Every label is bounded: states, kinds, actions and outcomes are fixed sets, and
 * `server` takes only configured names.
 */
import type { Meter } from '@opentelemetry/api';
import type { DecisionCount } from '../../engine/policy/decision-counts.js';
import { UPSTREAM_ERROR_KINDS, UPSTREAM_STATES, type UpstreamHealth } from '../../upstream/upstream-pool.js';

export interface BridgeMetricsSources {
  /** The pool's numbers now. */
  poolStats(): Promise<{ ready: number; starting: number; inUse: number; target: number }>;
  /** The Monty tier's workers now, when the bridge has the tier (rejects when it cannot run). */
  montyWorkers?(): Promise<{ fresh: number; idle: number; busy: number }>;
  /** MCP sessions open now (HTTP). */
  sessions?(): number;
  /** Each configured upstream server's connection state and failures so far. */
  upstreams?(): readonly UpstreamHealth[];
  /** The policy's decisions so far (none without a policy). */
  policyDecisions?(): readonly DecisionCount[];
}

export function observeBridge(meter: Meter, sources: BridgeMetricsSources): void {
  const pool = meter.createObservableGauge('codemode_pool_sandboxes', {
    description: 'Sandboxes of the warm pool, by state (ready, starting, in_use)',
  });
  const target = meter.createObservableGauge('codemode_pool_target', {
    description: 'Sandboxes the warm pool keeps ready now',
  });
  const alive = meter.createObservableGauge('codemode_sandboxes_alive', {
    description: 'Sandboxes alive: ready, starting and running',
  });
  const montyWorkers = meter.createObservableGauge('codemode_monty_workers', {
    description:
      "The Monty tier's worker processes, by state (fresh: never used; idle: kept for a client's next run; busy)",
  });
  const sessions = meter.createObservableGauge('codemode_http_sessions', {
    description: 'MCP sessions open over HTTP',
  });
  const upstreamState = meter.createObservableGauge('codemode_upstream_connection_state', {
    description:
      'Each configured upstream server: 1 for its connection state now (connected, connecting, failed, idle), 0 for the others',
  });
  const upstreamErrors = meter.createObservableCounter('codemode_upstream_errors', {
    description:
      'Upstream failures, by server and kind (connect, list_tools, timeout, closed, too_large, tool_error, call_failed)',
  });
  const decisions = meter.createObservableCounter('codemode_policy_decisions', {
    description:
      'Tool calls the policy decided, by the rule action (allow, ask, deny) and outcome (allowed, approved, denied, declined, budget, rate_limited, placeholder)',
  });
  meter.addBatchObservableCallback(
    async (result) => {
      const stats = await sources.poolStats().catch(() => undefined);
      if (stats) {
        result.observe(pool, stats.ready, { state: 'ready' });
        result.observe(pool, stats.starting, { state: 'starting' });
        result.observe(pool, stats.inUse, { state: 'in_use' });
        result.observe(target, stats.target);
        result.observe(alive, stats.ready + stats.starting + stats.inUse);
      }
      const workers = await sources.montyWorkers?.().catch(() => undefined);
      if (workers) {
        result.observe(montyWorkers, workers.fresh, { state: 'fresh' });
        result.observe(montyWorkers, workers.idle, { state: 'idle' });
        result.observe(montyWorkers, workers.busy, { state: 'busy' });
      }
      if (sources.sessions) result.observe(sessions, sources.sessions());
      for (const { server, state, errors } of sources.upstreams?.() ?? []) {
        for (const each of UPSTREAM_STATES) {
          result.observe(upstreamState, each === state ? 1 : 0, { server, state: each });
        }
        for (const kind of UPSTREAM_ERROR_KINDS)
          result.observe(upstreamErrors, errors[kind], { server, kind });
      }
      for (const { action, outcome, count } of sources.policyDecisions?.() ?? []) {
        result.observe(decisions, count, { action, outcome });
      }
    },
    [pool, target, alive, montyWorkers, sessions, upstreamState, upstreamErrors, decisions],
  );
}
