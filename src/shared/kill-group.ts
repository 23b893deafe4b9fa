/**
 * Signals to the process group of a child spawned with `detached: true` (it leads its own group, so
 * anything it started — an `npx` launcher's node, a shell's pipeline — is signalled with it).
 * Shared by the sandbox backends and the upstream stdio transport.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * Whether any process of the group led by `pid` is still running (always false on Windows). A zombie
 * (exited, not yet reaped) still counts as a group member for kill(2), and where nothing reaps
 * orphans — a container or VM whose init does not — it stays one for good; so on Linux the members'
 * states are read from /proc.
 */
export function isProcessGroupAlive(pid: number | undefined): boolean {
  if (!signalProcessGroup(pid, 0)) return false;
  return process.platform !== 'linux' || hasRunningMember(pid as number);
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

/**
 * Whether a pid is running (EPERM: it exists but belongs to someone else). A zombie is not, though
 * kill(2) still finds it (see {@link isProcessGroupAlive}).
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return process.platform !== 'linux' || readStat(String(pid))?.state !== 'Z';
}

function hasRunningMember(group: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  return entries.some((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    const stat = readStat(entry);
    return stat !== undefined && stat.group === group && stat.state !== 'Z';
  });
}

/** State and process group of a Linux process, from /proc; undefined when it cannot be read. */
function readStat(pid: string): { state: string; group: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile, or /proc is not there
  }
  // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses, so split after the last ')'.
  const [state = '', , group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, group: Number(group) };
}
