/**
 * Running out of file descriptors shows up as whichever operation needed one failing: accepting a
 * connection, spawning a sandbox or a container engine, opening a socket. Reported as what it is
 * wherever it is caught, so it is never taken for what that operation was for (a missing image, an
 * engine that is not installed). EMFILE is this process's limit (`ulimit -n`), ENFILE the system's.
 */
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { BridgeError, errorMessage } from './errors.js';

/** How deep a chain of `cause`s is searched. */
const MAX_CAUSE_DEPTH = 8;
/** libuv's errnos, as a child process's exit code carries them after a failed spawn. */
const UV_EMFILE = -24;
const UV_ENFILE = -23;

/**
 * This process's soft limit on open files, read once at start-up: once descriptors run out, even
 * /proc/self/limits cannot be opened. Undefined where there is no /proc.
 */
export const OPEN_FILE_LIMIT: number | undefined = readOpenFileLimit();

export function readOpenFileLimit(limits?: string): number | undefined {
  let text = limits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const soft = /^Max open files\s+(\d+)/m.exec(text)?.[1];
  return soft === undefined ? undefined : Number(soft);
}

/**
 * How many descriptors this process holds now (Linux: /proc/self/fd), `exhausted` when not even the
 * directory can be opened for want of one, undefined where it cannot be known. Accept failures are
 * invisible otherwise: libuv closes the connections it cannot take without telling Node.
 */
export async function openDescriptorCount(): Promise<number | 'exhausted' | undefined> {
  try {
    // Less the descriptor reading the directory holds.
    return (await readdir('/proc/self/fd')).length - 1;
  } catch (error) {
    return isOutOfFileDescriptors(error) ? 'exhausted' : undefined;
  }
}

/** Whether `error`, or anything in its chain of causes, is a failure for want of a file descriptor. */
export function isOutOfFileDescriptors(error: unknown): boolean {
  return whichLimit(error) !== undefined;
}

/** "the bridge is out of file descriptors (ulimit -n 1024)"; the system's table for ENFILE. */
export function describeOutOfFileDescriptors(error?: unknown, limit = OPEN_FILE_LIMIT): string {
  if (whichLimit(error) === 'system')
    return "the system is out of file descriptors (ENFILE: the kernel's file table is full)";
  return `the bridge is out of file descriptors (ulimit -n ${limit ?? '?'})`;
}

/** What failed for want of a descriptor, and what to do about it; chains the original error. */
export function outOfFileDescriptorsError(failed: string, cause: unknown): BridgeError {
  const what = describeOutOfFileDescriptors(cause);
  return new BridgeError(
    'OUT_OF_FILE_DESCRIPTORS',
    `${what[0]?.toUpperCase()}${what.slice(1)}, so ${failed} failed. ` +
      'Close idle clients or sessions, lower MCP_BRIDGE_HTTP_MAX_CONNECTIONS, or raise the limit ' +
      '(ulimit -n, or LimitNOFILE= for a systemd service) and restart the bridge.',
    { cause, details: { limit: OPEN_FILE_LIMIT } },
  );
}

/** Which limit the first descriptor failure in the chain hit: this process's, or the system's. */
function whichLimit(error: unknown): 'process' | 'system' | undefined {
  let current = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined && current !== null; depth++) {
    const { code, errno } = current as { code?: unknown; errno?: unknown };
    if (code === 'EMFILE' || errno === UV_EMFILE) return 'process';
    if (code === 'ENFILE' || errno === UV_ENFILE) return 'system';
    const message = errorMessage(current);
    if (/\bENFILE\b|too many open files in system/i.test(message)) return 'system';
    if (/\bEMFILE\b|too many open files/i.test(message)) return 'process';
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
