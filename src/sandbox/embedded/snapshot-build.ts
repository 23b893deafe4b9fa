/**
 * Building the embedded snapshot: a `--make-snapshot` worker (no user code) whose stdout is the
 * snapshot, written into the state directory under its digest's name.
 *
 * A serving bridge builds in its own process. A one-shot command (`codemode-bridge run`) hands the
 * build to a detached process of its own (`codemode-bridge __build-snapshot`), which finishes and
 * writes the file however soon the command exits: a build takes ~4.5 s on two cores and up to ~30 s
 * under load, and a command that stopped it after a grace left every later command starting cold
 * (~2.5 s each, 28 s under load), rebuilding and abandoning it again each time. One such build runs
 * per state directory at a time (a lock file holding its pid).
 */
import { spawn } from 'node:child_process';
import { open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive, killProcessGroup } from '../../shared/kill-group.js';
import type { Logger } from '../../shared/logger.js';
import { packagePath } from '../../shared/package-root.js';
import { summarizeDiagnostics } from '../diagnostics.js';
import { newestSnapshot, type SnapshotRecord, writeSnapshot } from './snapshot-store.js';
import type { WorkerCommand } from './worker-command.js';

const SNAPSHOT_BUILD_TIMEOUT_MS = 120_000;
const MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;
const DIAGNOSTICS_CHARS = 4096;
/** The internal command a detached build runs as (not listed in `--help`). */
export const BUILD_SNAPSHOT_COMMAND = '__build-snapshot';
/** Its exit status when another process holds the build lock: nothing to do, nothing went wrong. */
export const EXIT_BUILD_ELSEWHERE = 4;

/** Runs a `--make-snapshot` worker in its own process group and collects the bytes it writes. */
export function runSnapshotWorker(command: WorkerCommand, signal: AbortSignal): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // cwd '/': Deno.cwd() needs no permission and would otherwise reveal the bridge's directory.
    const child = spawn(command.file, command.args, {
      cwd: '/',
      env: command.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let diagnostics = '';
    let failure: Error | undefined;
    const stop = (error: Error) => {
      failure ??= error;
      killProcessGroup(child);
    };
    const timer = setTimeout(
      () => stop(new Error(`timed out after ${SNAPSHOT_BUILD_TIMEOUT_MS / 1000} s`)),
      SNAPSHOT_BUILD_TIMEOUT_MS,
    );
    timer.unref();
    const onAbort = () => stop(new Error('the bridge is shutting down'));
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdin?.end();
    child.stdout?.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_SNAPSHOT_BYTES) stop(new Error(`the snapshot exceeds ${MAX_SNAPSHOT_BYTES} bytes`));
      else chunks.push(chunk);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      diagnostics = (diagnostics + text).slice(-DIAGNOSTICS_CHARS);
    });
    child.once('error', (error) => stop(error));
    child.once('close', (code, exitSignal) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (!failure && code === 0 && bytes > 0) {
        resolve(Buffer.concat(chunks));
        return;
      }
      const how = failure?.message ?? (exitSignal ? `signal ${exitSignal}` : `exit code ${code}`);
      reject(
        new Error(
          `snapshot build failed (${how})${diagnostics.trim() ? `: ${summarizeDiagnostics(diagnostics)}` : ''}`,
        ),
      );
    });
  });
}

/**
 * Builds in this process, unless another holds the lock for `dir` (then undefined). What the detached
 * build command runs.
 */
export async function buildSnapshotHere(
  command: WorkerCommand,
  dir: string,
  key: string,
  signal: AbortSignal,
): Promise<SnapshotRecord | undefined> {
  const lock = await takeBuildLock(dir, key);
  if (!lock) return undefined;
  try {
    return await writeSnapshot(dir, key, await runSnapshotWorker(command, signal));
  } finally {
    await lock.release();
  }
}

export interface DetachedBuildOptions {
  dir: string;
  key: string;
  /** Settings of the build, as the bridge has them (passed in its environment). */
  stateDir: string;
  memory: string;
  logger: Logger;
}

/**
 * Builds in a detached process and resolves with the snapshot it wrote (undefined: another process
 * is building it). Aborting `signal` (the bridge is closing) does not stop it: the process goes on
 * alone, and this rejects at once.
 */
export function buildSnapshotDetached(
  options: DetachedBuildOptions,
  signal: AbortSignal,
): Promise<SnapshotRecord | undefined> {
  const { dir, key, logger } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [packagePath('dist', 'cli', 'main.js'), BUILD_SNAPSHOT_COMMAND], {
      cwd: '/',
      env: {
        ...process.env,
        MCP_BRIDGE_STATE_DIR: options.stateDir,
        MCP_BRIDGE_MEMORY: options.memory,
        MCP_BRIDGE_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let diagnostics = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      diagnostics = (diagnostics + text).slice(-DIAGNOSTICS_CHARS);
    });
    const onAbort = () => {
      child.removeAllListeners('close');
      child.stderr?.destroy();
      child.unref();
      logger.info('the embedded snapshot is still being built; a process of its own finishes it', {
        pid: child.pid,
        dir,
      });
      reject(new Error('the build goes on in the background'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    child.once('close', (code, exitSignal) => {
      signal.removeEventListener('abort', onAbort);
      if (code === EXIT_BUILD_ELSEWHERE) {
        resolve(undefined);
        return;
      }
      if (code !== 0) {
        const how = exitSignal ? `signal ${exitSignal}` : `exit code ${code}`;
        const why = diagnostics.trim() ? `: ${summarizeDiagnostics(diagnostics)}` : '';
        reject(new Error(`snapshot build failed (${how})${why}`));
        return;
      }
      newestSnapshot(dir, key).then(resolve, reject);
    });
  });
}

/** The lock one build per state directory holds: a file with its pid, taken over when that pid is gone. */
async function takeBuildLock(
  dir: string,
  key: string,
): Promise<{ release: () => Promise<void> } | undefined> {
  const path = join(dir, `.build-${key}.lock`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { release: () => unlink(path).catch(() => {}) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(path, 'utf8').catch(() => ''));
      if (Number.isInteger(holder) && holder > 0 && isProcessAlive(holder)) return undefined;
      await unlink(path).catch(() => {});
    }
  }
  return undefined;
}
