/**
 * A {@link ProcessSandbox} around a child that leads its own process group (a Deno worker): ending it
 * kills the whole group, and `live` holds it until it exits, so its backend can end every one it
 * started when it closes.
 */
import type { ChildProcess } from 'node:child_process';
import { killProcessGroup } from '../../shared/kill-group.js';
import type { Logger } from '../../shared/logger.js';
import { ProcessSandbox } from '../process-sandbox.js';
import type { SandboxKind } from '../types.js';

export interface GroupSandboxOptions {
  id: string;
  kind: SandboxKind;
  child: ChildProcess;
  logger: Logger;
  /** The backend's set of sandboxes still running. */
  live: Set<ProcessSandbox>;
  /** What failed when the child cannot be spawned, for the log: "could not spawn …". */
  what: string;
}

export function startGroupSandbox(options: GroupSandboxOptions): ProcessSandbox {
  const { id, kind, child, logger, live, what } = options;
  const sandbox: ProcessSandbox = new ProcessSandbox({
    id,
    kind,
    child,
    logger,
    terminate: async () => {
      killProcessGroup(child);
      await sandbox.exited();
    },
  });
  live.add(sandbox);
  void sandbox.exited().then(() => live.delete(sandbox));
  child.once('error', (error) => logger.error(`could not spawn ${what}`, { error }));
  return sandbox;
}
