/**
 * What the console shows about the running bridge: sandbox backend and pool, MCP sessions, upstream
 * servers (name, alias, connected, the policy's one-line summary) and how it is served. Nothing
 * secret: no environment, headers, commands or tokens; auth is named by where the token comes from.
 */
import { toolSearch } from '../engine/host-operations/discovery.js';
import { mayAccess, type Principal } from '../engine/principal.js';
import type { ConsoleSearchHit } from '../server/console/console-route.js';
import type { SqliteRunStore } from '../server/console/run-store.js';
import type { HttpSessionInfo } from '../server/http/http-server.js';
import type { Bridge } from './compose.js';
import { createSkillNamespaces } from './compose.js';
import { VERSION } from './context.js';
import { describeAuth, type HttpSettings } from './http-settings.js';
import type { Settings } from './settings.js';

export async function consoleState(
  bridge: Bridge,
  http: HttpSettings,
  sessions: HttpSessionInfo[],
  telemetry: string,
  viewer: Principal,
  kept: { store: SqliteRunStore | undefined; settings: Pick<Settings, 'consoleRuns' | 'consoleRunsBytes'> },
): Promise<unknown> {
  const [backend, stats] = await Promise.all([
    bridge.sandboxes.backend().then(
      (each) => each.description,
      (error: Error) => `unavailable: ${error.message}`,
    ),
    bridge.sandboxes
      .stats()
      .catch(() => ({ ready: 0, starting: 0, target: 0, inUse: 0, hits: 0, misses: 0 })),
  ]);
  return {
    version: VERSION,
    sandbox: { backend, ...stats },
    me: { id: viewer.id, name: viewer.name, role: viewer.role },
    http: {
      // An admin sees every principal's MCP sessions, a user its own.
      sessions: sessions
        .filter((session) => mayAccess(viewer, session.principal.id))
        .map(({ id, client, createdAt, lastSeenAt, inFlight, principal }) => ({
          id: id.slice(0, 8),
          principal: { id: principal.id, name: principal.name },
          client,
          createdAt,
          lastSeenAt,
          inFlight,
        })),
      maxSessions: http.maxSessions,
      maxSessionsPerPrincipal: http.maxSessionsPerPrincipal,
      auth: describeAuth(http),
    },
    policy: bridge.policy ? bridge.policy.source : undefined,
    telemetry,
    runs: describeKeptRuns(kept.store, kept.settings, viewer.role === 'admin'),
    servers: bridge.upstreams.catalog().map((server) => ({
      name: server.name,
      alias: server.alias,
      connected: bridge.upstreams.isConnected(server.name),
      ...(bridge.gate && bridge.policy ? { policy: policySummary(bridge, server.name) } : {}),
    })),
  };
}

/** Where finished runs are kept, and how many now; or why they are not. */
function describeKeptRuns(
  store: SqliteRunStore | undefined,
  settings: Pick<Settings, 'consoleRuns' | 'consoleRunsBytes'>,
  admin: boolean,
): string {
  if (!store) return 'in memory only (MCP_BRIDGE_CONSOLE_RUNS=0)';
  const totals = store.working ? store.totals() : undefined;
  if (!totals) return `in memory only: ${store.reason ?? 'the database failed'}`;
  // How many everyone ran is an admin's to know.
  if (!admin) return 'kept across restarts';
  return `${totals.runs} kept across restarts (${Math.round(totals.bytes / 1024)} KiB; at most ${settings.consoleRuns} runs and ${Math.round(settings.consoleRunsBytes / 1048576)} MiB)`;
}

/**
 * One server's tools by the policy's decision (`deny: delete_file · ask: write_file · allow: 12
 * tools`): known once a run was granted the server (its tools' annotations decide), else its default.
 */
function policySummary(bridge: Bridge, server: string): string {
  const tools = bridge.gate?.describedPolicies().get(server);
  if (!tools) {
    const fallback = bridge.gate?.toolPolicy(server, '*');
    return fallback ? `${fallback.action} by default (${fallback.rule}); tools not listed yet` : '';
  }
  const byAction = new Map<string, string[]>();
  for (const [tool, policy] of tools) {
    const names = byAction.get(policy.action) ?? [];
    names.push(tool);
    byAction.set(policy.action, names);
  }
  return ['deny', 'ask', 'allow']
    .flatMap((action) => {
      const names = byAction.get(action);
      if (!names) return [];
      return [`${action}: ${names.length > 5 ? `${names.length} tools` : names.join(', ')}`];
    })
    .join(' · ');
}

/** The console's catalog search: the search behind `search_tool_docs`, so the ranking is the same. */
export function consoleSearch(
  bridge: Bridge,
  settings: Settings,
): (query: string, limit: number, signal: AbortSignal, viewer: Principal) => Promise<ConsoleSearchHit[]> {
  const search = toolSearch(bridge.port, createSkillNamespaces(settings));
  return async (query, limit, signal, viewer) => {
    const answer = await search(query, limit, signal, viewer);
    return answer.hits.flatMap((hit) =>
      'server' in hit
        ? [
            {
              server: hit.server.name,
              alias: hit.server.alias,
              tool: hit.tool.name,
              toolAlias: hit.tool.alias,
              ...(hit.tool.description ? { description: hit.tool.description } : {}),
              inputSchema: hit.tool.inputSchema,
              score: hit.score,
              ...(bridge.gate?.toolPolicy(hit.server.name, hit.tool.name)
                ? { policy: bridge.gate.toolPolicy(hit.server.name, hit.tool.name) }
                : {}),
            },
          ]
        : [],
    );
  };
}
