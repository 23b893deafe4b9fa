import type { ChildProcess } from 'node:child_process';

/**
 * SIGKILLs the process group of a child spawned with `detached: true` (it leads its own group), so
 * anything it started dies with it; falls back to the child alone where groups do not exist.
 */
export function killProcessGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.pid !== undefined && process.platform !== 'win32') {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // The group is gone or was never created: kill the child itself.
    }
  }
  child.kill('SIGKILL');
}

/** Whether a pid is running (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
