/**
 * Kills sandbox processes whose bridge is gone. A sandbox notices a closed channel only when its
 * program yields, so one stuck in `while (true)` outlives a bridge killed with SIGKILL; each sandbox
 * carries `--owner=<pid>` on its command line for this. Linux only (/proc).
 */
import { readdir, readFile } from 'node:fs/promises';
import { isProcessAlive } from '../../shared/kill-group.js';

const OWNER_FLAG = '--owner=';

/** SIGKILLs every process running `script` whose owner is dead; resolves with how many. */
export async function reapOrphans(script: string): Promise<number> {
  if (process.platform !== 'linux') return 0;
  let reaped = 0;
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const args = await readFile(`/proc/${entry}/cmdline`, 'utf8')
      .then((text) => text.split('\0'))
      .catch(() => [] as string[]);
    if (!args.includes(script)) continue;
    const owner = Number(args.find((arg) => arg.startsWith(OWNER_FLAG))?.slice(OWNER_FLAG.length));
    if (!Number.isInteger(owner) || owner <= 0 || isProcessAlive(owner)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      reaped++;
    } catch {
      // gone, or not ours to kill
    }
  }
  return reaped;
}
