/**
 * Signals to the process group of a child spawned with `detached: true` (it leads its own group, so
 * anything it started — an `npx` launcher's node, a shell's pipeline — is signalled with it).
 * Shared by the sandbox backends and the upstream stdio transport.
 */
import type { ChildProcess } from 'node:child_process';

/**
 * Sends `signal` to the process group led by `pid`. Returns false where groups do not exist
 * (Windows) or the group is gone; the caller then falls back to the child alone.
 */
export function signalProcessGroup(pid: number | undefined, signal: NodeJS.Signals | 0): boolean {
  if (pid === undefined || process.platform === 'win32') return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the group led by `pid` is still running (always false on Windows). */
export function isProcessGroupAlive(pid: number | undefined): boolean {
  return signalProcessGroup(pid, 0);
}

/**
 * SIGKILLs the process group of a child spawned with `detached: true`, so anything it started dies
 * with it; falls back to the child alone where groups do not exist.
 */
export function killProcessGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // The group is gone or was never created: kill the child itself.
  if (!signalProcessGroup(child.pid, 'SIGKILL')) child.kill('SIGKILL');
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
