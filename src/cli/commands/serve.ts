/** `codemode-bridge [serve]`: MCP over stdio until the client goes away or a signal arrives. */
import { BridgeError, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { VERSION } from '../context.js';
import { handleProcessLifecycle } from '../lifecycle.js';
import { createSandboxes } from '../sandboxes.js';
import type { Settings } from '../settings.js';
import { tracesTarget } from '../telemetry/target.js';

/** Shutdown must finish; if removing sandboxes hangs, exit anyway after this long. */
const SHUTDOWN_DEADLINE_MS = 15_000;

/** Exit status of `serve` after serving only a configuration error, as for the other commands. */
const EXIT_CONFIG_INVALID = 2;
/** Exit status of `serve` after serving only another start-up failure. */
const EXIT_START_FAILED = 1;

export async function serve(settings: Settings, logger: Logger): Promise<number> {
  let bridge: Awaited<ReturnType<typeof import('../compose.js')['composeBridge']>>;
  let telemetry: Awaited<ReturnType<typeof import('../telemetry/telemetry.js')['startTelemetry']>>;
  let sandboxes: ReturnType<typeof createSandboxes> | undefined;
  try {
    // The runtime probe and the first sandboxes start now, while the rest of the bridge loads: the
    // first run_python then finds a sandbox ready instead of waiting ~0.2 s for one after the handshake.
    sandboxes = createSandboxes(settings, logger);
    sandboxes.warm();
    const warming = sandboxes;
    const instant = sandboxes.instant;
    // Traces only when the OTEL variables ask for them: otherwise no telemetry module loads.
    if ('endpoint' in tracesTarget(process.env)) {
      const { startTelemetry } = await import('../telemetry/telemetry.js');
      telemetry = await startTelemetry({
        env: process.env,
        version: VERSION,
        metrics: false,
        backend: async () => (await warming.backend()).description,
        ...(instant ? { instant: () => instant.description } : {}),
        poolStats: () => warming.stats(),
        logger,
      });
    }
    const { composeBridge } = await import('../compose.js');
    bridge = await composeBridge(settings, logger, {
      version: VERSION,
      sandboxes,
      ...(telemetry ? { observer: telemetry.observer } : {}),
    });
  } catch (error) {
    // Whatever stopped the start (an invalid policy, a file that cannot be opened, a module that
    // failed to load), the sandboxes already warming go first, then the client is told.
    await sandboxes?.close().catch((closeError: unknown) => {
      logger.warn('could not remove the sandboxes started before the failure', { error: closeError });
    });
    await telemetry?.shutdown().catch(() => {});
    return serveUnconfigured(error, logger);
  }
  const { bridgeServerOptions } = await import('../compose.js');
  const { createBridgeServer, forwardLogsToClient } = await import('../../server/server.js');
  const { BridgeStdioTransport } = await import('../../server/stdio-server-transport.js');
  const server = createBridgeServer(bridgeServerOptions(bridge, settings, logger));
  const transport = new BridgeStdioTransport();
  const stop = handleProcessLifecycle(logger, SHUTDOWN_DEADLINE_MS, async () => {
    await server.close().catch(() => {});
    await bridge.close();
    await telemetry?.shutdown();
  });
  // The transport closes when the client is gone (stdin ended or failed, stdout broken): so do we,
  // or the warm sandboxes would outlive every client.
  server.server.onclose = () => void stop('the client is gone');
  // stdout carries MCP frames: a stray console.log from any dependency would corrupt the channel.
  console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
  await server.connect(transport);
  forwardLogsToClient(
    server,
    logger,
    bridge.discovery.warnings.map((warning) => ({
      message: warning.message,
      fields: { file: warning.source },
    })),
  );
  logger.info('serving MCP on stdio', { version: VERSION });
  await new Promise(() => {});
  return 0;
}

/**
 * `serve` that could not start (an invalid configuration, or any other failure before serving):
 * completes the MCP handshake and answers with the error, so the client shows it instead of
 * "Connection closed" (see `createUnconfiguredServer`). The error also goes to stderr. Ends when the
 * client goes away: with status 2 for a configuration error (as the other commands exit), else 1.
 */
export async function serveUnconfigured(error: unknown, logger: Logger): Promise<number> {
  const configuration = error instanceof BridgeError && error.code === 'CONFIG_INVALID';
  // The message itself, unquoted: this line is what a user reading the client's server log sees.
  logger.error(`${errorMessage(error)} Serving only this error to the MCP client.`, {
    ...(configuration ? {} : { error }),
  });
  const { createUnconfiguredServer } = await import('../../server/degraded-server.js');
  const { BridgeStdioTransport } = await import('../../server/stdio-server-transport.js');
  const server = createUnconfiguredServer({
    version: VERSION,
    problem: errorMessage(error),
    kind: configuration ? 'configuration' : 'failure',
  });
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.connect(new BridgeStdioTransport());
  await closed;
  await server.close().catch(() => {});
  return configuration ? EXIT_CONFIG_INVALID : EXIT_START_FAILED;
}
