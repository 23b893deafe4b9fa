/**
 * The command line of one TypeScript sandbox (pure, unit-tested): Deno with no permission at all —
 * no read, write, net, env, run, ffi or sys — and no prompt, config, lockfile, npm or remote imports.
 * The runtime script is Deno's main module, which it loads without a read permission; the program
 * arrives on stdin and is imported from a blob URL, which needs none either.
 */
import { BridgeError } from '../../shared/errors.js';
import { parseSize } from '../embedded/limits.js';

const MIB = 1024 * 1024;
/** Below this Deno cannot start its runtime and a program. */
const MIN_TYPESCRIPT_MEMORY_BYTES = 64 * MIB;
/**
 * RLIMIT_DATA above the heap cap: V8 reserves address space up front (code range, young generation,
 * the sandbox's own cage) and ArrayBuffers live outside the JS heap; this bounds both together.
 */
export const TYPESCRIPT_DATA_HEADROOM_BYTES = 1024 * MIB;

export interface TypeScriptMemoryLimits {
  /** `--max-old-space-size`: the JS heap, MiB. Past it V8 ends the process ("out of memory"). */
  heapMb: number;
  /** RLIMIT_DATA for the whole process, bytes: the backstop for memory outside the JS heap. */
  dataLimitBytes: number;
}

/** How MCP_BRIDGE_MEMORY (e.g. `512m`) bounds a TypeScript sandbox. */
export function typescriptMemoryLimits(memory: string): TypeScriptMemoryLimits {
  const bytes = parseSize(memory);
  if (bytes < MIN_TYPESCRIPT_MEMORY_BYTES) {
    throw new BridgeError(
      'CONFIG_INVALID',
      `MCP_BRIDGE_MEMORY=${memory} is too small for the TypeScript sandbox: Deno needs at least ` +
        `${MIN_TYPESCRIPT_MEMORY_BYTES / MIB}m. Raise MCP_BRIDGE_MEMORY.`,
      { details: { variable: 'MCP_BRIDGE_MEMORY', value: memory } },
    );
  }
  return { heapMb: Math.floor(bytes / MIB), dataLimitBytes: bytes + TYPESCRIPT_DATA_HEADROOM_BYTES };
}

export interface SandboxCommandOptions {
  deno: string;
  /** runtime/typescript/sandbox.js. */
  script: string;
  limits: TypeScriptMemoryLimits;
  /** Deno's cache directory (its V8 code cache of the runtime script); the program cannot read it. */
  denoDir: string;
  /** Written as `--owner=<pid>` so sandboxes of a bridge that died can be found and reaped. */
  ownerPid?: number;
  platform?: NodeJS.Platform;
}

export interface SandboxCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export function buildSandboxCommand(options: SandboxCommandOptions): SandboxCommand {
  const { limits } = options;
  const denoArgs = [
    'run',
    '--no-prompt',
    '--no-config',
    '--no-lock',
    '--no-npm',
    '--no-remote',
    `--v8-flags=--max-old-space-size=${limits.heapMb}`,
    options.script,
    ...(options.ownerPid !== undefined ? [`--owner=${options.ownerPid}`] : []),
  ];
  // The program cannot read the environment (no --allow-env); these are for Deno itself.
  const env = { DENO_DIR: options.denoDir, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };
  if ((options.platform ?? process.platform) === 'win32') return { file: options.deno, args: denoArgs, env };
  // RLIMIT_DATA through the shell's `ulimit -d` (KiB), as the embedded sandbox does: `exec` keeps the
  // pid and the process group of the sandbox.
  const kib = Math.ceil(limits.dataLimitBytes / 1024);
  return {
    file: '/bin/sh',
    args: [
      '-c',
      `ulimit -d ${kib} 2>/dev/null || ulimit -S -d ${kib} 2>/dev/null; exec "$@"`,
      'codemode-typescript',
      options.deno,
      ...denoArgs,
    ],
    env,
  };
}
