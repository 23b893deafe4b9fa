/**
 * `codemode-bridge serve --http PORT [--host H]` and `codemode-bridge console`: MCP over streamable
 * HTTP for several clients, one MCP session each, sandboxes from one shared pool; `/metrics` for
 * Prometheus; the web console at `/console`. Shutdown (SIGINT/SIGTERM) lets runs finish for
 * MCP_BRIDGE_HTTP_DRAIN, cancels the rest, removes every sandbox and flushes telemetry.
 */
import type { RunObserver } from '../../engine/run-observer.js';
import { combineObservers } from '../../engine/run-observer.js';
import type { HttpAuth } from '../../server/http/auth/http-auth.js';
import type { HttpRoute } from '../../server/http/http-server.js';
import type { Logger } from '../../shared/logger.js';
import { VERSION } from '../context.js';
import { checkBindAllowed, describeAuth, type HttpSettings, loadHttpSettings } from '../http-settings.js';
import { handleProcessLifecycle } from '../lifecycle.js';
import { createSandboxes } from '../sandboxes.js';
import type { Settings } from '../settings.js';

/** Shutdown must finish; past the drain, removing sandboxes gets this long before the process exits anyway. */
const SHUTDOWN_EXTRA_MS = 15_000;

export interface HttpServeArgs {
  host: string;
  port: number;
  /** `console`: say where the console is rather than where MCP is. */
  console?: boolean;
}

export async function serveHttp(settings: Settings, logger: Logger, args: HttpServeArgs): Promise<number> {
  const http = loadHttpSettings();
  checkBindAllowed(args.host, http);
  const sandboxes = createSandboxes(settings, logger, undefined, {
    // Fair CPU between principals: only a team's bridge weighs its sandboxes.
    cpuWeights: http.team && settings.cpuShares === 'auto',
  });
  sandboxes.warm();
  let server: import('../../server/http/http-server.js').BridgeHttpServer | undefined;
  // Known once the bridge is composed, which needs the telemetry's observer first.
  let composed: Awaited<ReturnType<typeof import('../compose.js')['composeBridge']>> | undefined;
  const { startTelemetry } = await import('../telemetry/telemetry.js');
  const instant = sandboxes.instant;
  const telemetry = await startTelemetry({
    env: process.env,
    version: VERSION,
    metrics: true,
    backend: async () => (await sandboxes.backend()).description,
    ...(instant ? { instant: () => instant.description, montyWorkers: () => instant.stats() } : {}),
    poolStats: () => sandboxes.stats(),
    sessions: () => server?.sessions().length ?? 0,
    servers: () => composed?.upstreams.serverNames() ?? [],
    upstreams: () => composed?.upstreams.health() ?? [],
    policyDecisions: () => composed?.gate?.decisionCounts() ?? [],
    logger,
  });
  const { RunFeed } = await import('../../server/console/run-feed.js');
  const { openRunStore, runStorePath } = await import('../../server/console/run-store.js');
  const store =
    settings.consoleRuns > 0
      ? openRunStore(
          runStorePath(settings.stateDir),
          { maxRuns: settings.consoleRuns, maxBytes: settings.consoleRunsBytes },
          logger,
        )
      : undefined;
  const feed = new RunFeed({
    store,
    // The bridge is composed after the feed (its observer goes in): these are asked per call, later.
    redact: (server, text) => (composed ? composed.upstreams.redactorFor(server)(text) : text),
    policyFor: (server, tool) => composed?.gate?.toolPolicy(server, tool),
    logger,
  });
  const observer: RunObserver | undefined = combineObservers([telemetry?.observer, feed.observer]);
  const { bridgeServerOptions, composeBridge } = await import('../compose.js');
  const bridge = await composeBridge(settings, logger, {
    version: VERSION,
    sandboxes,
    team: http.team,
    ...(observer ? { observer } : {}),
  }).catch(async (error) => {
    await sandboxes.close();
    store?.close();
    throw error;
  });
  composed = bridge;
  const { createBridgeServer, forwardLogsToClient } = await import('../../server/server.js');
  const { BridgeHttpServer } = await import('../../server/http/http-server.js');
  const { consoleRoute } = await import('../../server/console/console-route.js');
  const { consoleSearch, consoleState } = await import('../console-state.js');
  const telemetryDescription = telemetry?.description ?? 'off';
  const routes: HttpRoute[] = [
    consoleRoute({
      engine: bridge.engine,
      feed,
      state: (viewer) =>
        consoleState(bridge, http, server?.sessions() ?? [], telemetryDescription, viewer, {
          store,
          settings,
        }),
      search: consoleSearch(bridge, settings),
      logger,
    }),
  ];
  const metrics = telemetry?.metricsHandler;
  if (metrics) routes.push({ prefix: '/metrics', handle: (request, response) => metrics(request, response) });
  const auth = await httpAuth(http, logger);
  const { LongRuns } = await import('../../server/long-runs.js');
  const { KEEP_FINISHED_RUN_MS, MAX_WAIT_HANDLES, TASK_LIMITS } = await import('../../server/run-handler.js');
  const { TaskRuns } = await import('../../server/task-runs.js');
  // Each principal's runs still going and MCP tasks, shared by its MCP sessions; ended when it has gone.
  const runTables = new Map<string, import('../../server/long-runs.js').LongRuns>();
  const taskTables = new Map<string, import('../../server/task-runs.js').TaskRuns>();
  server = new BridgeHttpServer({
    host: args.host,
    port: args.port,
    auth,
    ...(http.oauth ? { oauthIssuer: http.oauth.issuer } : {}),
    allowedOrigins: http.allowedOrigins,
    maxSessions: http.maxSessions,
    maxSessionsPerPrincipal: http.maxSessionsPerPrincipal,
    sessionIdleMs: http.sessionIdleMs,
    connections: {
      headersTimeoutMs: http.headersTimeoutMs,
      requestTimeoutMs: http.requestTimeoutMs,
      idleTimeoutMs: http.idleTimeoutMs,
      maxPerClient: http.maxConnectionsPerClient,
      maxTotal: http.maxConnections,
    },
    routes,
    logger,
    principalIdleMs: http.principalIdleMs,
    onPrincipalIdle: (principal) => {
      runTables.get(principal.id)?.close();
      runTables.delete(principal.id);
      taskTables.get(principal.id)?.close();
      taskTables.delete(principal.id);
      bridge.engine.closeOwner(principal.id);
    },
    createSession: (principal) => {
      let longRuns = runTables.get(principal.id);
      if (!longRuns) {
        longRuns = new LongRuns({
          maxHandles: MAX_WAIT_HANDLES,
          keepFinishedMs: KEEP_FINISHED_RUN_MS,
          maxOutputChars: settings.maxOutputChars,
        });
        runTables.set(principal.id, longRuns);
      }
      let tasks = taskTables.get(principal.id);
      if (!tasks) {
        tasks = new TaskRuns(TASK_LIMITS);
        taskTables.set(principal.id, tasks);
      }
      const session = createBridgeServer({
        ...bridgeServerOptions(bridge, settings, logger),
        principal,
        longRuns,
        tasks,
      });
      const stopForwarding = forwardLogsToClient(session, logger);
      session.server.onclose = stopForwarding;
      return session;
    },
  });
  let address: Awaited<ReturnType<typeof server.listen>>;
  try {
    address = await server.listen();
  } catch (error) {
    await bridge.close();
    await telemetry?.shutdown();
    throw new Error(`cannot listen on ${args.host}:${args.port}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const base = `http://${shown}:${address.port}`;
  logger.info('serving MCP over HTTP', {
    version: VERSION,
    mcp: `${base}/mcp`,
    console: `${base}/console`,
    auth: describeAuth(http),
  });
  // Whatever the log level: with `--http 0` this line is the only way to learn the port.
  process.stderr.write(
    args.console
      ? `codemode-bridge console: ${base}/console\n`
      : `codemode-bridge: serving MCP at ${base}/mcp\n`,
  );
  handleProcessLifecycle(logger, http.drainMs + SHUTDOWN_EXTRA_MS, async () => {
    await server?.close(http.drainMs);
    await bridge.close();
    store?.close();
    await telemetry?.shutdown();
  });
  await new Promise(() => {});
  return 0;
}

/** Who may call, from the settings: loaded only when serving HTTP, and `jose` only with OAuth. */
async function httpAuth(http: HttpSettings, logger: Logger): Promise<HttpAuth> {
  const { bearerAuth, noAuth } = await import('../../server/http/auth/http-auth.js');
  if (!http.authRequired) return noAuth();
  let oauth: Parameters<typeof bearerAuth>[0]['oauth'];
  if (http.oauth) {
    const { OAuthVerifier } = await import('../../server/http/auth/oauth-verifier.js');
    const { issuer, resource, audiences, scopes, jwksUrl, nameClaim, roleClaim, adminRoles, jwksCacheMs } =
      http.oauth;
    const verifier = new OAuthVerifier({
      issuer,
      audiences,
      scopes,
      ...(jwksUrl ? { jwksUrl } : {}),
      ...(nameClaim ? { nameClaim } : {}),
      roleClaim,
      adminRoles,
      jwksCacheMs,
      logger,
    });
    verifier.prepare();
    oauth = { verifier, resource: { resource, issuer, scopes } };
  }
  return bearerAuth({
    ...(http.token !== undefined && http.tokenSource
      ? { token: { value: http.token, source: http.tokenSource } }
      : {}),
    entries: http.tokens,
    ...(oauth ? { oauth } : {}),
  });
}
