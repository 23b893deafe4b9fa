/** `notifications/progress` while a run goes, for a client that asked for it with a progress token. */
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';

const PROGRESS_INTERVAL_MS = 1000;

/** What progress is measured against: when the run started (`performance.now()`) and its deadline. */
export interface ProgressClock {
  readonly startedAt: number;
  readonly timeoutMs: number;
}

/**
 * Sends `notifications/progress` once a second: seconds since the run started, of its timeout. Returns
 * the function that stops it.
 */
export function startProgress(
  token: string | number | undefined,
  run: ProgressClock,
  send: (notification: ServerNotification) => Promise<void>,
): () => void {
  if (token === undefined) return () => {};
  const totalMs = run.timeoutMs;
  const timer = setInterval(() => {
    const elapsedMs = performance.now() - run.startedAt;
    send({
      method: 'notifications/progress',
      params: {
        progressToken: token,
        progress: Math.round(elapsedMs / 1000),
        total: Math.round(totalMs / 1000),
        message: `running for ${Math.round(elapsedMs / 1000)} s`,
      },
    }).catch(() => {});
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}
