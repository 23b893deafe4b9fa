/**
 * Calls the embedded sandbox (Pyodide in a permissionless Deno) cannot make (issue 9): each one used
 * to kill the worker with a fatal Pyodide error and a multi-kB ANSI-coloured dump. Now each raises a
 * plain Python exception the program can catch (or returns a documented value); what still ends the
 * worker says so in one short plain line; os._exit(n) ends the run like sys.exit(n). After each case
 * the same bridge must serve the next run normally.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, type RunResult, startBridge } from '../helpers/bridge.js';
import { eventually } from '../helpers/environment.js';

const stateDir = mkdtempSync(join(tmpdir(), 'codemode-embedded-syscalls-'));
/** "Plain" and "short": what the model reads instead of Pyodide's report and Deno's coloured dump. */
const MAX_ERROR_CHARS = 500;
/** Generous: a worker may start cold on a loaded machine; no assertion is about time. */
const RUN_TIMEOUT_S = 60;

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

function expectPlain(result: RunResult): void {
  const error = result.structured.error ?? '';
  expect(error).not.toContain('\x1b[');
  expect(error).not.toContain('Pyodide has suffered a fatal error');
  expect(error.length).toBeLessThan(MAX_ERROR_CHARS);
}

describe('embedded sandbox: calls Pyodide lacks', () => {
  let bridge: RunningBridge;

  beforeAll(async () => {
    bridge = await startBridge({
      MCP_BRIDGE_RUNTIME: 'embedded',
      MCP_BRIDGE_STATE_DIR: stateDir,
      MCP_BRIDGE_MEMORY: '512m',
    });
    // The first run starts cold while the snapshot is built; later workers start from it.
    expect((await bridge.runPython({ code: 'print("warm")', timeout: RUN_TIMEOUT_S })).text).toBe('warm');
    const snapshotDir = join(stateDir, 'embedded');
    const hasSnapshot = () =>
      existsSync(snapshotDir) && readdirSync(snapshotDir).some((name) => name.endsWith('.snap'));
    expect(await eventually(hasSnapshot, 90_000)).toBe(true);
  });

  afterAll(async () => {
    await bridge?.close();
  });

  function run(code: string): Promise<RunResult> {
    return bridge.runPython({ code, timeout: RUN_TIMEOUT_S });
  }

  async function expectHealthy(): Promise<void> {
    const result = await run('import os\nprint("alive", os.getpid())');
    expect(result.structured).toMatchObject({ status: 'ok', stdout: expect.stringMatching(/^alive \d+\n$/) });
  }

  it.each([
    [
      'posix.system',
      'import posix\nposix.system("true")',
      /^OSError: \[Errno \d+\] the embedded sandbox cannot start processes$/,
    ],
    [
      'os.kill(os.getpid(), SIGKILL)',
      'import os, signal\nos.kill(os.getpid(), signal.SIGKILL)',
      /^PermissionError: .*os\.kill: SIGKILL .*not available in the embedded sandbox/,
    ],
    [
      'os.kill(os.getpid(), SIGTERM)',
      'import os, signal\nos.kill(os.getpid(), signal.SIGTERM)',
      /^PermissionError: .*os\.kill: SIGTERM /,
    ],
    [
      'signal.raise_signal(SIGTERM)',
      'import signal\nsignal.raise_signal(signal.SIGTERM)',
      /^PermissionError: .*signal\.raise_signal: SIGTERM /,
    ],
    [
      'signal.raise_signal(SIGABRT)',
      'import signal\nsignal.raise_signal(signal.SIGABRT)',
      /^PermissionError: .*signal\.raise_signal: SIGABRT /,
    ],
    [
      'signal.raise_signal(SIGSEGV)',
      'import signal\nsignal.raise_signal(signal.SIGSEGV)',
      /^PermissionError: .*signal\.raise_signal: SIGSEGV /,
    ],
    [
      'socket listen()',
      'import socket\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\ns.listen()',
      /^OSError: \[Errno \d+\] Not supported$/,
    ],
    ['socket.socketpair()', 'import socket\nsocket.socketpair()', /^OSError: \[Errno \d+\] Not supported$/],
    [
      'a write into a read-only NODEFS mount',
      'import pyodide_js\npyodide_js.mountNodeFS("/mnt", pyodide_js._api.config.indexURL)\nopen("/mnt/x", "w")',
      /^PermissionError: \[Errno \d+\] Permission denied/,
    ],
  ])('%s raises a plain Python error and the worker lives on', async (_name, call, error) => {
    const result = await run(`print("before", flush=True)\n${call}\nprint("not reached")`);
    expect(result.structured).toMatchObject({
      status: 'error',
      stdout: 'before\n',
      error: expect.stringMatching(error),
    });
    expect(result.structured.traceback).toContain('File "<run_python>"');
    expectPlain(result);
    await expectHealthy();
  });

  it('lets a program catch those errors and carry on', async () => {
    const result = await run(`
import os, posix, signal, socket
for name, call in [
    ("system", lambda: posix.system("true")),
    ("kill", lambda: os.kill(os.getpid(), signal.SIGKILL)),
    ("listen", lambda: socket.socket().listen()),
]:
    try:
        call()
    except OSError as error:
        print(name, type(error).__name__)
`);
    expect(result.structured).toMatchObject({
      status: 'ok',
      stdout: 'system OSError\nkill PermissionError\nlisten OSError\n',
    });
  });

  it('reports uid 0 for getuid(), as Emscripten does outside Node, through os and ctypes', async () => {
    const result = await run(
      'import ctypes, os, posix\nprint(os.getuid(), posix.getuid(), ctypes.CDLL(None).getuid(), os.getgid())',
    );
    expect(result.structured).toMatchObject({ status: 'ok', stdout: '0 0 0 0\n' });
    await expectHealthy();
  });

  it('has no /dev/tty, so getpass and open("/dev/tty") fail instead of reading the frame channel', async () => {
    const result = await run(`
import getpass
try:
    open("/dev/tty")
except OSError as error:
    print(type(error).__name__)
try:
    getpass.getpass()
except EOFError:
    print("EOFError")
`);
    expect(result.structured).toMatchObject({ status: 'ok', stdout: 'FileNotFoundError\nEOFError\n' });
  });

  describe('os._exit ends the run like sys.exit, with the output flushed before it', () => {
    it.each([
      ['os._exit(0)', 'import os\nos._exit(0)', { status: 'ok' }],
      ['os._exit(3)', 'import os\nos._exit(3)', { status: 'error', error: 'SystemExit: 3' }],
      ['posix._exit(2)', 'import posix\nposix._exit(2)', { status: 'error', error: 'SystemExit: 2' }],
      ['sys.exit(3), for comparison', 'import sys\nsys.exit(3)', { status: 'error', error: 'SystemExit: 3' }],
    ])('%s', async (_name, exit, outcome) => {
      const result = await run(
        `import sys\nprint("out", flush=True)\nprint("err", file=sys.stderr, flush=True)\n${exit}\nprint("not reached")`,
      );
      expect(result.structured).toMatchObject({ ...outcome, stdout: 'out\n', stderr: 'err\n' });
      expectPlain(result);
      await expectHealthy();
    });
  });

  describe('an exception that escapes a callback ends the run as it would at top level', () => {
    it.each([
      [
        'sys.exit in an asyncio task',
        'import asyncio, sys\nasync def task():\n    sys.exit(6)\nawait asyncio.create_task(task())',
        'SystemExit: 6',
      ],
      [
        'KeyboardInterrupt in loop.call_soon',
        'import asyncio\ndef interrupt():\n    raise KeyboardInterrupt\nasyncio.get_event_loop().call_soon(interrupt)\nawait asyncio.sleep(1)',
        'KeyboardInterrupt',
      ],
      [
        'a Python exception in a JS timer callback',
        'import asyncio, js\nfrom pyodide.ffi import create_proxy\njs.setTimeout(create_proxy(lambda: 1 / 0), 0)\nawait asyncio.sleep(1)',
        'ZeroDivisionError: division by zero',
      ],
      [
        'a JS error thrown by a timer',
        'import asyncio, js\njs.setTimeout(js.Function.new("throw new Error(\'boom\')"), 0)\nawait asyncio.sleep(1)',
        'Uncaught JavaScript error: Error: boom',
      ],
      [
        'a JS error thrown by a microtask',
        'import asyncio, js\njs.queueMicrotask(js.Function.new("throw new Error(\'micro\')"))\nawait asyncio.sleep(1)',
        'Uncaught JavaScript error: Error: micro',
      ],
    ])('%s', async (_name, code, error) => {
      const result = await run(`print("before")\n${code}\nprint("not reached")`);
      expect(result.structured).toMatchObject({ status: 'error', stdout: 'before\n', error });
      expectPlain(result);
      await expectHealthy();
    });
  });

  describe('what still ends the worker says so in one short plain line', () => {
    it.each([
      [
        'js.Deno.exit(3)',
        'import js\njs.Deno.exit(3)',
        /the embedded sandbox's worker crashed: the program exited it through JavaScript/,
      ],
      [
        'js.process.exit(4)',
        'import js\njs.process.exit(4)',
        /the embedded sandbox's worker crashed: the program exited it through JavaScript/,
      ],
      [
        'os.abort()',
        'import os\nos.abort()',
        /the embedded sandbox's worker crashed: RuntimeError: unreachable \(a WebAssembly trap: abort\(\)/,
      ],
      [
        'recursion too deep for the WebAssembly stack (json.loads)',
        'import json\njson.loads("[" * 100_000 + "]" * 100_000)',
        /the embedded sandbox's worker crashed: RangeError: Maximum call stack size exceeded \(recursion too deep/,
      ],
    ])('%s', async (_name, code, error) => {
      const result = await run(`print("before", flush=True)\n${code}`);
      expect(result.isError).toBe(true);
      expect(result.structured.status).toBe('killed');
      expect(result.structured.error).toMatch(error);
      expect(result.structured.stdout).toBe('before\n');
      expectPlain(result);
      await expectHealthy();
    });
  });
});
