/**
 * `codemode-bridge __build-snapshot`, internal: builds the embedded snapshot of MCP_BRIDGE_STATE_DIR
 * in this process and exits. A one-shot command starts it detached (sandbox/embedded/snapshot-build.ts)
 * so the build finishes after the command has gone. Exit status 0 once written, 4 when another process
 * is building it, 1 when it failed (the reason on stderr).
 */
import { buildSnapshotAlone } from '../../sandbox/embedded/embedded-backend.js';
import { EXIT_BUILD_ELSEWHERE } from '../../sandbox/embedded/snapshot-build.js';
import type { Logger } from '../../shared/logger.js';
import type { Settings } from '../settings.js';

export async function buildSnapshot(settings: Settings, logger: Logger): Promise<number> {
  // Whoever started it may have gone, and its end of stderr with it: a failed write is not a failure.
  process.stderr.on('error', () => {});
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort());
  const record = await buildSnapshotAlone({
    stateDir: settings.stateDir,
    memory: settings.memory,
    signal: controller.signal,
  });
  if (!record) return EXIT_BUILD_ELSEWHERE;
  logger.info('embedded snapshot built', { file: record.file, bytes: record.size });
  return 0;
}
