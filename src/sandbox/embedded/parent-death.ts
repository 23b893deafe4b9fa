/**
 * Ends embedded workers with the bridge, however the bridge ends. A worker busy in Python never
 * runs its event loop, so it cannot notice its stdin closing; Linux's parent-death signal
 * (`prctl(PR_SET_PDEATHSIG)`, set by util-linux `setpriv`, kept across `exec`) kills it when the
 * bridge dies, even of SIGKILL. Where there is no such `setpriv` (macOS, util-linux before 2.33) the
 * next bridge reaps what is left (`EmbeddedBackend.reapStale`).
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { runCommand } from '../process/run-command.js';

const SEARCHED_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];
const PROBE_TIMEOUT_MS = 10_000;

/**
 * The command prefix that gives the worker the parent-death signal (`[setpriv, --pdeathsig, KILL,
 * --]`), or undefined where the system cannot. Checked by running it once: an older `setpriv`
 * refuses the option, and a worker started through it would not start at all.
 */
export async function findParentDeathPrefix(
  platform: NodeJS.Platform = process.platform,
  path: string | undefined = process.env.PATH,
): Promise<string[] | undefined> {
  if (platform !== 'linux') return undefined;
  const dirs = [...(path ?? '').split(delimiter).filter((dir) => dir.startsWith('/')), ...SEARCHED_DIRS];
  for (const dir of new Set(dirs)) {
    const setpriv = join(dir, 'setpriv');
    const executable = await access(setpriv, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (!executable) continue;
    const options = ['--pdeathsig', 'KILL', '--'];
    const probe = await runCommand(setpriv, [...options, '/bin/sh', '-c', ':'], {
      timeoutMs: PROBE_TIMEOUT_MS,
      env: {},
    });
    return probe.exitCode === 0 ? [setpriv, ...options] : undefined;
  }
  return undefined;
}
