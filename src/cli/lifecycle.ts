/**
 * How a serving command lives and ends, for stdio and HTTP alike: SIGINT/SIGTERM (or the caller)
 * stop it once, with a deadline past which the process exits anyway, and a failure in one run's
 * promise chain is logged, never fatal, since state is per run.
 */
import type { Logger } from '../shared/logger.js';

/**
 * Installs the signal and error handlers; returns `stop(reason)`, which runs `shutdown` once and
 * exits 0, or exits 1 when it has not finished after `deadlineMs`.
 */
export function handleProcessLifecycle(
  logger: Logger,
  deadlineMs: number,
  shutdown: () => Promise<void>,
): (reason: string) => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => {
    stopping ??= (async () => {
      logger.info('shutting down', { reason });
      setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting');
        process.exit(1);
      }, deadlineMs).unref();
      await shutdown();
      process.exit(0);
    })();
    return stopping;
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  // One bad run must not take the bridge (and every other run) down: state is per run, so log and serve on.
  process.on('unhandledRejection', (error) => logger.error('unhandled rejection', { error }));
  process.on('uncaughtException', (error) =>
    logger.error('uncaught exception', { error, stack: error.stack }),
  );
  return stop;
}
