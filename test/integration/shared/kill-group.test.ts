/** Process and process-group liveness against real processes, zombies included (Linux reads /proc). */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isProcessAlive, isProcessGroupAlive, signalProcessGroup } from '../../../src/shared/kill-group.js';
import { eventually } from '../../helpers/environment.js';

/** A detached `sh` that leaves a child of its own exited but unreaped, and reports that child's pid. */
async function leaderWithZombie(): Promise<{ leader: number; zombie: number }> {
  // `exec sleep` replaces the shell with a process that never reaps the background child.
  const child = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  onTestFinished(() => {
    signalProcessGroup(child.pid, 'SIGKILL');
  });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  return { leader: child.pid as number, zombie: Number(chunk.toString().trim()) };
}

describe.skipIf(process.platform !== 'linux')('process liveness', () => {
  it('counts a zombie as dead, though kill(pid, 0) still finds it', async () => {
    const { leader, zombie } = await leaderWithZombie();
    expect(await eventually(() => !isProcessAlive(zombie))).toBe(true);
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(isProcessAlive(leader)).toBe(true);
  });

  it('sees a group alive while a member runs, and gone when only zombies are left', async () => {
    const { leader, zombie } = await leaderWithZombie();
    expect(await eventually(() => !isProcessAlive(zombie))).toBe(true);
    expect(isProcessGroupAlive(leader)).toBe(true);
    process.kill(leader, 'SIGKILL');
    expect(await eventually(() => !isProcessGroupAlive(leader))).toBe(true);
  });

  it('answers false for pids that cannot be processes', () => {
    expect(isProcessAlive(0)).toBe(false);
    expect(isProcessAlive(-1)).toBe(false);
    expect(isProcessGroupAlive(undefined)).toBe(false);
  });
});
