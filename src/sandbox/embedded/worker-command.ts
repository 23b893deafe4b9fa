/**
 * The command line of one embedded worker (pure, unit-tested). Least privilege, as measured in the
 * spike: read access to the Pyodide package, the runtime and the one snapshot file, nothing else —
 * no write, net, env, run, ffi or sys — and no prompt, config, lockfile, npm or remote imports.
 */
import type { EmbeddedMemoryLimits } from './limits.js';
import type { EmbeddedPaths } from './paths.js';

/** glibc returns freed memory at the top of its heap beyond this (its default grows up to 64 MiB). */
const MALLOC_TRIM_THRESHOLD_BYTES = 128 * 1024;

export interface SnapshotFile {
  file: string;
  size: number;
}

export interface WorkerCommandOptions {
  paths: EmbeddedPaths;
  limits: EmbeddedMemoryLimits;
  /** Deno's cache directory (V8 code cache: ~70 ms faster starts); user code cannot read it. */
  denoDir: string;
  snapshot?: SnapshotFile | undefined;
  /** Build a snapshot (stdout = its bytes) instead of serving a run. */
  makeSnapshot?: boolean;
  /** Written as `--owner=<pid>` so workers of a bridge that died can be found and reaped. */
  ownerPid?: number;
  /** A command prefix that kills the worker when the bridge dies (parent-death.ts); none by default. */
  parentDeath?: readonly string[] | undefined;
  platform?: NodeJS.Platform;
}

export interface WorkerCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export function buildWorkerCommand(options: WorkerCommandOptions): WorkerCommand {
  const { paths, limits, snapshot } = options;
  const readable = [paths.pyodideDir, paths.runtimeDir, ...(snapshot ? [snapshot.file] : [])];
  const denoArgs = [
    'run',
    '--no-prompt',
    '--no-config',
    '--no-lock',
    '--no-npm',
    '--no-remote',
    `--allow-read=${readable.join(',')}`,
    `--v8-flags=${limits.v8Flags.join(',')}`,
    paths.worker,
    `--pyodide=${paths.pyodideDir}`,
    `--runtime=${paths.runtimeDir}`,
    ...(snapshot ? [`--snapshot=${snapshot.file}`, `--snapshot-size=${snapshot.size}`] : []),
    ...(options.makeSnapshot ? ['--make-snapshot'] : []),
    ...(options.ownerPid !== undefined ? [`--owner=${options.ownerPid}`] : []),
  ];
  // glibc's malloc keeps what Deno frees of the large start-up reads (the ~30 MB snapshot, the wasm
  // binary, the stdlib zip) in its heap for good once its adaptive mmap threshold has grown; a fixed
  // trim threshold gives it back (measured: PSS of a ready worker ~151 → ~125 MB). Other platforms'
  // allocators ignore it; the program cannot read the environment (no --allow-env).
  const env = { DENO_DIR: options.denoDir, MALLOC_TRIM_THRESHOLD_: String(MALLOC_TRIM_THRESHOLD_BYTES) };
  if ((options.platform ?? process.platform) === 'win32') return { file: paths.deno, args: denoArgs, env };
  // RLIMIT_DATA through the shell's `ulimit -d` (KiB) rather than util-linux `prlimit`: /bin/sh exists
  // wherever Deno runs, and `exec` keeps the pid (and the process group) of the worker. Setting the
  // hard limit fails only when it is already lower than ours, and then the lower one already holds.
  const kib = Math.ceil(limits.dataLimitBytes / 1024);
  return {
    file: '/bin/sh',
    args: [
      '-c',
      `ulimit -d ${kib} 2>/dev/null || ulimit -S -d ${kib} 2>/dev/null; exec "$@"`,
      'codemode-worker',
      ...(options.parentDeath ?? []),
      paths.deno,
      ...denoArgs,
    ],
    env,
  };
}
