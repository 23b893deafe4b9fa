import { expect } from 'vitest';
import type { RunOutcome, RunStatus } from '../../../src/engine/types.js';
import type { RunningBridge, RunResult } from '../../helpers/bridge.js';

export type Backend = 'runc' | 'runsc' | 'embedded' | 'monty';
export type Category =
  | 'escape'
  | 'network'
  | 'resources'
  | 'protocol'
  | 'host-ops'
  | 'upstream'
  | 'bridge'
  | 'policy';

/** Starts the line on which a program reports its sandbox (see the harness). */
export const SANDBOX_MARKER = '\x1e';

/** What one case did: its run(s), and the sandboxes (container hostnames, worker pids) they ran in. */
export interface CaseRun {
  result?: RunResult;
  /** The run's outcome, its stderr without the harness's sandbox line. */
  outcome?: RunOutcome;
  /** Why the client's request failed (cancelled, timed out), when it did. */
  rejection?: Error;
  sandboxes: string[];
  /** The other runs of a case that makes several (their sandboxes are in `sandboxes` too). */
  others?: CaseRun[];
}

export interface Expectation {
  /** `refused`: run_python answered with an error before any program ran; `rejected`: the request failed. */
  status: RunStatus | readonly RunStatus[] | 'refused' | 'rejected';
  error?: RegExp;
  stdout?: string | RegExp;
  check?: (run: CaseRun, context: CaseContext) => void | Promise<void>;
}

export interface RunArgs {
  code: string;
  servers?: string[];
  timeout?: number;
  /** A named session of the suite's client. */
  session?: string;
}

export interface CaseContext {
  backend: Backend;
  container: boolean;
  gvisor: boolean;
  secret: string;
  poolSize: number;
  bridgePid: number;
  /** A TCP listener on the host's loopback (the harness counts connections to every listener). */
  hostPort: number;
  /** The host's own non-loopback IPv4 address, listening on `hostPort` too, when it has one. */
  hostAddress: string | undefined;
  /** The name of an abstract Unix socket the host listens on (without the leading NUL). */
  abstractSocket: string;
  /** A Unix socket file the host listens on. */
  hostSocket: string;
  hostConnections(): number;
  /** Directories of the host: the repository, the suite's temporary root, HOME, the bridge's cwd. */
  hostPaths: string[];
  /** A host file holding the secret. */
  secretFile: string;
  stateDir: string;
  /** The bridge's audit log (MCP_BRIDGE_AUDIT_LOG; the harness's policy concerns the `trust` server only). */
  auditLog: string;
  /** The runtime's entry point that containers mount read-only (in the bridge's private directory). */
  runtimeEntry: string;
  bridge: RunningBridge;
  /** Runs a program that reports its sandbox first. */
  run(
    args: RunArgs,
    options?: { signal?: AbortSignal; requestTimeoutMs?: number; anonymous?: boolean },
  ): Promise<CaseRun>;
  /**
   * What a program wrote through the `soak` server's `announce(token, host)`, once it has; undefined
   * when it has not within a minute.
   */
  announced(token: string): Promise<string | undefined>;
  /** Kills a sandbox from outside: `<engine> kill`, or a signal to the worker. */
  killSandbox(sandbox: string, signal?: string): void;
  /** Runs the container engine's CLI. */
  engine(args: string[]): string;
  /** The pid of the engine client (`podman run`) of a container, by its hostname. */
  containerClientOf(sandbox: string): number | undefined;
  /** Names under `<state dir>/skills`. */
  skillFiles(): string[];
  sha256(path: string): string;
  /** Makes the `stall` server hang in its handshake from its next start on (or start normally again). */
  setStall(stalled: boolean): void;
}

export interface HostileCase {
  name: string;
  category: Category;
  /** Default: every backend. */
  backends?: readonly Backend[];
  servers?: string[];
  /** run_python's timeout, seconds. Default 20. */
  timeout?: number;
  code?: string | ((context: CaseContext) => string);
  /** Runs the case itself (several runs, a fault from outside) instead of `code`. */
  drive?: (context: CaseContext) => Promise<CaseRun>;
  expect: Expectation | ((context: CaseContext) => Expectation);
  /** The program cannot say which sandbox ran it (it does not even compile). */
  anonymous?: boolean;
  /** A bug this case found, per backend: the case runs as `it.fails` there until it is fixed. */
  knownBug?: Partial<Record<Backend, string>>;
}

export const CONTAINERS = ['runc', 'runsc'] as const;
export const EMBEDDED = ['embedded'] as const;
export const python = String.raw;
export const literal = (value: unknown) => JSON.stringify(value);

/** The JSON object a program printed on its last line. */
export function report(run: CaseRun): Record<string, unknown> {
  const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
  return JSON.parse(lines.at(-1) ?? 'null');
}

/**
 * `attempt(action)`: what became of an action, as one word — "ok", an errno name (`EPERM`), a refusal
 * of Deno's (`NotCapable`), or the exception's type. Awaits what the action returns when it can.
 */
export const ATTEMPT = python`
import errno as _errno, json, os
async def attempt(action):
    try:
        value = action()
        if hasattr(value, "then") or hasattr(value, "__await__"):
            value = await value
        return "ok"
    except BaseException as error:
        text = str(error)
        for word in ("NotCapable", "PermissionDenied"):
            if word in text:
                return word
        if isinstance(error, OSError) and error.errno and type(error).__name__ != "gaierror":
            return _errno.errorcode.get(error.errno, str(error.errno))
        return type(error).__name__
`;

/** `sc(nr, *args)`: a raw system call through libc, "ok" or the errno's name. x86-64 numbers. */
export const SYSCALL = python`
import ctypes, errno as _errno, json, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result = _libc.syscall(ctypes.c_long(nr), *converted)
    return "ok" if result >= 0 else _errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
`;

/** `channel`: the runtime's request channel, found as hostile code can: it shares the interpreter. */
export const GRAB_CHANNEL =
  'import gc\nchannel = next(o for o in gc.get_objects() if type(o).__name__ == "HostChannel")';

/**
 * `forge(data)`: writes raw bytes where the runtime writes its frames. Container: the runtime's
 * protocol fd, found through its writer (looping, as gVisor may write short to the stdio pipe);
 * embedded: the worker's stdout, through `js`.
 */
export function forge(context: CaseContext): string {
  if (!context.container) {
    return python`
import js
from pyodide.ffi import to_js
def forge(data):
    view = to_js(data)
    while view.length:
        view = view.subarray(js.Deno.stdout.writeSync(view))
`;
  }
  return python`
import gc, os
writer = next(o for o in gc.get_objects() if type(o).__name__ == "FrameWriter")
proto = writer._fd
def forge(data):
    view = memoryview(data)
    while view:
        view = view[os.write(proto, view):]
`;
}

/** Ends the program's own process at once, without a `done` frame. */
export const killSelf = (context: CaseContext) =>
  context.container
    ? 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)'
    : 'import js\njs.Deno.kill(js.Deno.pid, "SIGKILL")';

export const EROFS = 30;
export const EACCES = 13;

export const memoryLimitMessage = /memory limit \(MCP_BRIDGE_MEMORY=128m\)/;

/** A memory bomb ends with MemoryError, or (containers) with the kernel's kill naming the limit. */
export function memoryBombOutcome(context: CaseContext): Expectation {
  // Embedded: the heap is capped exactly; when the runtime itself then fails to report, the worker
  // reports it as `InternalError: MemoryError`.
  if (!context.container) return { status: 'error', error: /^(InternalError: )?MemoryError/ };
  return {
    status: ['error', 'killed'],
    check: ({ outcome }) => {
      if (outcome?.status === 'killed') expect(outcome.error).toMatch(memoryLimitMessage);
      else expect(outcome?.error).toMatch(/^MemoryError/);
    },
  };
}

/** How the bridge describes a sandbox killed with SIGKILL: as the kernel's OOM killer would. */
export function memoryHint(context: CaseContext): RegExp {
  const limit = context.container ? '128m' : '256m';
  return new RegExp(
    `killed by the system, most likely for exceeding its memory limit \\(MCP_BRIDGE_MEMORY=${limit}\\)`,
  );
}

export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The program's first lines: announce the sandbox through the `soak` server, so the test can act on it. */
export function announce(token: string, context: CaseContext): string {
  const host = context.container ? '__import__("socket").gethostname()' : 'str(__import__("js").Deno.pid)';
  return `await mcp_soak.announce(token=${literal(token)}, host=${host})\n`;
}
