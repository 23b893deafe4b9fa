/** Hostile cases: Exhausting resources: memory, processes, disk, CPU, output, time. */
import { expect } from 'vitest';
import type { RunOutcome } from '../../../src/engine/types.js';
import {
  CONTAINERS,
  type HostileCase,
  killSelf,
  memoryBombOutcome,
  memoryHint,
  memoryLimitMessage,
  python,
} from './kit.js';

export const RESOURCES: HostileCase[] = [
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
