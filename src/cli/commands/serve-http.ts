/**
 * `codemode-bridge serve --http PORT [--host H]` and `codemode-bridge console`: MCP over streamable
 * HTTP for several clients, one MCP session each, sandboxes from one shared pool; `/metrics` for
 * Prometheus; the web console at `/console`. Shutdown (SIGINT/SIGTERM) lets runs finish for
 * MCP_BRIDGE_HTTP_DRAIN, cancels the rest, removes every sandbox and flushes telemetry.
 */
import type { RunObserver } from '../../engine/run-observer.js';
import { combineObservers } from '../../engine/run-observer.js';
import type { HttpRoute } from '../../server/http/http-server.js';
import type { Logger } from '../../shared/logger.js';
import { VERSION } from '../context.js';
import { checkBindAllowed, loadHttpSettings } from '../http-settings.js';
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
  const sandboxes = createSandboxes(settings, logger);
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
  const feed = new RunFeed();
  const observer: RunObserver | undefined = combineObservers([telemetry?.observer, feed.observer]);
  const { bridgeServerOptions, composeBridge } = await import('../compose.js');
  const bridge = await composeBridge(settings, logger, {
    version: VERSION,
    sandboxes,
    ...(observer ? { observer } : {}),
  }).catch(async (error) => {
    await sandboxes.close();
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
      state: () => consoleState(bridge, http, server?.sessions() ?? [], telemetryDescription),
      search: consoleSearch(bridge, settings),
      logger,
    }),
  ];
  const metrics = telemetry?.metricsHandler;
  if (metrics) routes.push({ prefix: '/metrics', handle: (request, response) => metrics(request, response) });
  server = new BridgeHttpServer({
    host: args.host,
    port: args.port,
    token: http.token,
    allowedOrigins: http.allowedOrigins,
    maxSessions: http.maxSessions,
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
    createSession: () => {
      const session = createBridgeServer(bridgeServerOptions(bridge, settings, logger));
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
    auth: http.tokenSource ?? 'none (loopback only)',
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
    await telemetry?.shutdown();
  });
  await new Promise(() => {});
  return 0;
}
