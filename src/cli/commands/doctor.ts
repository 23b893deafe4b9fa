/** `codemode-bridge doctor`: which runtimes are usable, which one is used and why, and what is configured. */
import { diagnoseSandboxes } from '../../sandbox/diagnose.js';
import { OPEN_FILE_LIMIT } from '../../shared/fd-exhaustion.js';
import type { Logger } from '../../shared/logger.js';
import type { DiscoveryResult } from '../../upstream/config/types.js';
import { discover, loadPolicy } from '../compose.js';
import { VERSION } from '../context.js';
import { describeAuth, loadHttpSettings } from '../http-settings.js';
import { containerLimits } from '../sandboxes.js';
import type { Settings } from '../settings.js';
import { tracesTarget } from '../telemetry/target.js';

export async function doctor(settings: Settings, logger: Logger): Promise<number> {
  const report = await diagnoseSandboxes({
    runtime: settings.runtime,
    image: settings.image,
    ociRuntime: settings.ociRuntime,
    containerChannel: settings.containerChannel,
    limits: containerLimits(settings),
    stateDir: settings.stateDir,
    cpuShares: settings.cpuShares,
    logger,
  });
  const discovery = await discover(logger);
  const policy = describePolicy(settings, discovery);
  const lines = [
    `codemode-bridge ${VERSION}`,
    `MCP_BRIDGE_RUNTIME=${settings.runtime}`,
    `MCP_BRIDGE_OCI_RUNTIME=${settings.ociRuntime ?? "(unset: the engine's default)"}`,
    ...report.lines,
    ...describeConfigFiles(discovery),
    ...policy.lines,
    ...describeServing(),
    await describeKeptRuns(settings),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  // A malformed policy stops `serve` and `run`: an invalid setting (2), not an unhealthy machine (1).
  if (!policy.valid) return 2;
  return report.healthy ? 0 : 1;
}

/** The policy `serve` would enforce and where audit records go; a malformed policy is reported. */
function describePolicy(settings: Settings, discovery: DiscoveryResult): { lines: string[]; valid: boolean } {
  const audit = `Audit log: ${settings.auditLog ?? 'off (MCP_BRIDGE_AUDIT_LOG unset)'}`;
  try {
    const policy = loadPolicy(settings, discovery);
    const described = policy
      ? `Policy: ${policy.source}${policy.entries.size > 0 ? `; config-entry policy blocks for ${[...policy.entries.keys()].join(', ')}` : ''}`
      : 'Policy: none (MCP_BRIDGE_POLICY unset and no config entry has a policy block): every call of a granted server is made';
    return { lines: [described, audit], valid: true };
  } catch (error) {
    return { lines: [(error as Error).message, audit], valid: false };
  }
}

function describeConfigFiles(discovery: DiscoveryResult): string[] {
  const lines = ['MCP config files read:'];
  for (const file of discovery.filesRead) {
    const servers = discovery.servers.filter((server) => server.source === file).map((server) => server.name);
    // Names this file defines too late to count: an earlier file (or section) defines them first.
    const shadowed = discovery.skipped
      .filter((skipped) => skipped.reason === 'duplicate' && skipped.source === file)
      .map((skipped) => skipped.name);
    const parts = [
      ...(servers.length > 0 ? [servers.join(', ')] : []),
      ...(shadowed.length > 0 ? [`shadowed by an earlier definition: ${shadowed.join(', ')}`] : []),
    ];
    lines.push(`  ${file}${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`);
  }
  if (discovery.filesRead.length === 0)
    lines.push('  none found (see docs/configuration.md, "Where servers are found")');
  for (const warning of discovery.warnings) lines.push(`  warning: ${warning.message}`);
  lines.push(`servers: ${discovery.servers.length} (codemode-bridge servers --check connects to each)`);
  return lines;
}

/** Where the console keeps runs across restarts, and whether the bridge can use it. */
async function describeKeptRuns(settings: Settings): Promise<string> {
  if (settings.consoleRuns === 0) return 'Console runs: in memory only (MCP_BRIDGE_CONSOLE_RUNS=0)';
  const { inspectRunStore, runStorePath } = await import('../../server/console/run-store.js');
  const bounds = `at most ${settings.consoleRuns} runs and ${Math.round(settings.consoleRunsBytes / 1048576)} MiB`;
  return `Console runs (${bounds}): ${inspectRunStore(runStorePath(settings.stateDir))}`;
}

/** serve --http and telemetry as configured now; a bad HTTP setting is reported, not thrown. Never the token. */
function describeServing(): string[] {
  const lines = ['HTTP serving (serve --http PORT, console):'];
  try {
    const http = loadHttpSettings();
    lines.push(
      `  auth: ${http.authRequired ? `${describeAuth(http)}; any address may be bound` : 'no token: loopback addresses only (Host checked)'}`,
      `  allowed origins: the server's own loopback origin${http.allowedOrigins.length > 0 ? `, ${http.allowedOrigins.join(', ')}` : ''}`,
      `  sessions: at most ${http.maxSessions}, ${http.maxSessionsPerPrincipal} per principal, closed after ${http.sessionIdleMs / 1000} s idle; shutdown drains runs for ${http.drainMs / 1000} s`,
      `  connections: at most ${http.maxConnectionsPerClient} per client and ${http.maxConnections} in all${OPEN_FILE_LIMIT !== undefined ? ` (open-file limit here: ${OPEN_FILE_LIMIT})` : ''}; request headers within ${http.headersTimeoutMs / 1000} s, whole requests within ${http.requestTimeoutMs / 1000} s, idle ones closed after ${http.idleTimeoutMs / 1000} s`,
      '  endpoints: /mcp, /console, /metrics (Prometheus), /healthz (no auth)',
    );
  } catch (error) {
    lines.push(`  invalid: ${(error as Error).message}`);
  }
  const traces = tracesTarget(process.env);
  lines.push(
    `Telemetry: ${'endpoint' in traces ? `traces to ${traces.endpoint} (OTLP/HTTP JSON)` : `no traces (${traces.off})`}; metrics at /metrics when serving HTTP`,
  );
  return lines;
}
