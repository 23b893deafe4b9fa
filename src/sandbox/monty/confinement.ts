/**
 * How a Monty worker is confined beyond Monty's own sandbox: bubblewrap gives it new namespaces (no
 * network, its own pid/ipc/uts/cgroup, uid 65534 in a user namespace), no capabilities, an empty
 * environment, and a root holding only the worker binary and the shared libraries it links,
 * read-only; a seccomp filter refuses the system calls it never needs (seccomp-filter.ts); and
 * RLIMIT_DATA bounds its memory. Where bubblewrap cannot run, workers run unconfined (still
 * crash-isolated, still under RLIMIT_DATA) and the reason is logged and shown by `doctor`.
 */
import { type ChildProcess, execFile, type StdioOptions, spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { buildSeccompFilter, REFUSED_SYSCALLS_X86_64 } from './seccomp-filter.js';

const run = promisify(execFile);
const PROBE_TIMEOUT_MS = 10_000;
/** Where the binary appears inside the confined root. */
const CONFINED_BINARY = '/monty';

/** A usable bubblewrap, with what the worker's root must hold. */
export interface Confinement {
  bwrap: string;
  version: string;
  /** Shared libraries the binary links (from `ldd`), bound read-only at the same paths. */
  libraries: string[];
  /**
   * The seccomp program, which bubblewrap reads from descriptor 3 of each worker (a pipe the bridge
   * writes it into, so no file of it outlives the bridge); absent: none.
   */
  seccomp?: Buffer;
  /** One line for logs and `doctor`. */
  description: string;
}

export type ConfinementProbe = { confinement: Confinement } | { problem: string };

/**
 * Whether workers can be confined here: bubblewrap present, the binary's libraries found, and a trial
 * run of the binary under the very flags workers get (namespaces can be refused by the kernel or a
 * container the bridge runs in).
 */
export async function probeConfinement(binary: string): Promise<ConfinementProbe> {
  if (process.platform !== 'linux') return { problem: 'bubblewrap confinement exists on Linux only' };
  const bwrap = ['/usr/bin/bwrap', '/bin/bwrap', '/usr/local/bin/bwrap'].find((path) => existsSync(path));
  if (!bwrap) {
    return { problem: 'bubblewrap is not installed (sudo apt-get install bubblewrap)' };
  }
  let version: string;
  let libraries: string[];
  try {
    version = (await run(bwrap, ['--version'], { timeout: PROBE_TIMEOUT_MS })).stdout.trim();
    libraries = linkedLibraries((await run('ldd', [binary], { timeout: PROBE_TIMEOUT_MS })).stdout);
  } catch (error) {
    return { problem: `bubblewrap or ldd failed: ${firstLine(error)}` };
  }
  const seccomp = process.arch === 'x64' ? buildSeccompFilter() : undefined;
  const confinement: Confinement = {
    bwrap,
    version,
    libraries,
    ...(seccomp ? { seccomp } : {}),
    description:
      `${version}: new user/pid/net/ipc/uts/cgroup namespaces, uid 65534, no capabilities, empty environment, ` +
      `read-only root of the binary and ${libraries.length} libraries` +
      (seccomp
        ? `, seccomp refusing ${Object.keys(REFUSED_SYSCALLS_X86_64).length} system calls`
        : ', no seccomp filter (only built for x86_64)'),
  };
  try {
    const command = workerCommand(binary, confinement, undefined, ['--version']);
    const { stdout } = await runWithSeccomp(command, confinement);
    if (!/monty/i.test(stdout)) return { problem: `a confined trial run printed ${JSON.stringify(stdout)}` };
  } catch (error) {
    return { problem: `bubblewrap cannot run the worker here: ${firstLine(error)}` };
  }
  return { confinement };
}

/** The paths `ldd` names (`libc.so.6 => /lib/…/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`). */
export function linkedLibraries(lddOutput: string): string[] {
  const paths = new Set<string>();
  for (const line of lddOutput.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match?.[1]) paths.add(match[1]);
  }
  return [...paths];
}

export interface WorkerCommand {
  file: string;
  args: string[];
  /** Pass the seccomp program as descriptor 3. */
  seccomp: boolean;
}

/**
 * The command line of one worker: `/bin/sh` sets RLIMIT_DATA (as `ulimit -d`, KiB) and execs
 * bubblewrap, which execs the binary in `subprocess` mode (or `extraArgs`); unconfined, the binary
 * directly after the limit.
 */
export function workerCommand(
  binary: string,
  confinement: Confinement | undefined,
  dataLimitBytes: number | undefined,
  extraArgs: string[] = ['subprocess'],
): WorkerCommand {
  const limit =
    dataLimitBytes === undefined
      ? []
      : [
          `ulimit -d ${Math.ceil(dataLimitBytes / 1024)} 2>/dev/null || ulimit -S -d ${Math.ceil(dataLimitBytes / 1024)} 2>/dev/null;`,
        ];
  const shell = (target: string[]) => ({
    file: '/bin/sh',
    args: ['-c', `${limit.join(' ')} exec "$@"`, 'codemode-monty', ...target],
  });
  if (!confinement) return { ...shell([binary, ...extraArgs]), seccomp: false };
  const binds = confinement.libraries.flatMap((path) => ['--ro-bind', realpathOr(path), path]);
  const bwrapArgs = [
    '--unshare-all',
    '--die-with-parent',
    '--new-session',
    '--clearenv',
    '--cap-drop',
    'ALL',
    '--uid',
    '65534',
    '--gid',
    '65534',
    ...binds,
    '--ro-bind',
    realpathOr(binary),
    CONFINED_BINARY,
    ...(confinement.seccomp ? ['--seccomp', '3'] : []),
    CONFINED_BINARY,
    ...extraArgs,
  ];
  return { ...shell([confinement.bwrap, ...bwrapArgs]), seccomp: confinement.seccomp !== undefined };
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Starts a worker command, its own process group leader (so a kill reaches bubblewrap and the
 * worker), with the seccomp program on descriptor 3 when it takes one: written into a pipe and the
 * pipe closed, so bubblewrap reads it to its end. (It was a file in the temp directory once, left
 * behind by every bridge.)
 */
export function spawnWorker(
  command: WorkerCommand,
  confinement: Confinement | undefined,
  stdio: StdioOptions = ['pipe', 'pipe', 'pipe'],
): ChildProcess {
  const seccomp = command.seccomp ? confinement?.seccomp : undefined;
  const streams = Array.isArray(stdio) ? stdio : [stdio, stdio, stdio];
  const child = spawn(command.file, command.args, {
    stdio: [...streams.slice(0, 3), ...(seccomp ? ['pipe' as const] : [])],
    env: {},
    detached: true,
  });
  const program = seccomp ? (child.stdio[3] as Writable | null) : null;
  if (seccomp && program) {
    // A worker that dies before reading it must not take the bridge with it (EPIPE). Closed once
    // written: the data waits in the pipe for bubblewrap, and nothing reads this end, so it would
    // never see its end and close by itself.
    program.on('error', () => {});
    program.end(seccomp, () => program.destroy());
  }
  return child;
}

async function runWithSeccomp(command: WorkerCommand, confinement: Confinement): Promise<{ stdout: string }> {
  const child = spawnWorker(command, confinement, ['ignore', 'pipe', 'pipe']);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), PROBE_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', resolve);
  });
  clearTimeout(timer);
  if (code !== 0) throw new Error(stderr.trim() || `exit code ${code}`);
  return { stdout };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((line) => line.trim()) ?? text;
}
