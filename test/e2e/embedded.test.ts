/**
 * The embedded sandbox (Pyodide in a permissionless Deno) through the MCP surface: the same behaviour
 * as the container, every hostile case of issue 5, snapshot corruption and worker cleanup.
 * One state dir for the file, so the snapshot is built once; vitest runs other files alongside.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge, startRunning } from '../helpers/bridge.js';
import { BRIDGE_MAIN, eventually, isAlive } from '../helpers/environment.js';
import { createTestHome, standardServers, type TestHome } from '../helpers/upstreams.js';

const SECRET = 'embedded-secret-4711';
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Pids of embedded workers started by the bridge with pid `owner` (they carry `--owner=<pid>`). */
function workersOf(owner: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some((arg) => arg.endsWith('runtime/deno/worker.js')) && args.includes(`--owner=${owner}`)) {
        pids.push(Number(entry));
      }
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function snapshotFiles(stateDir: string): string[] {
  const dir = join(stateDir, 'embedded');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.snap'))
    .map((name) => join(dir, name));
}

/** True when a snapshot's contents match the digest in its name. */
function isIntact(file: string): boolean {
  const digest = /-([0-9a-f]{16})\.snap$/.exec(file)?.[1];
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return digest !== undefined && sha256.startsWith(digest);
}

const stateDir = mkdtempSync(join(tmpdir(), 'codemode-embedded-state-'));
const embeddedEnv = (extra: Record<string, string> = {}) => ({
  MCP_BRIDGE_RUNTIME: 'embedded',
  MCP_BRIDGE_STATE_DIR: stateDir,
  MCP_BRIDGE_MEMORY: '512m',
  ...extra,
});

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

describe('embedded sandbox through MCP stdio', () => {
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    home.write('.claude.json', { mcpServers: standardServers(home.home, SECRET) });
    home.write('secret.txt', SECRET);
    bridge = await startBridge(embeddedEnv({ HOME: home.home, SECRET_TOKEN: SECRET }), { cwd: home.project });
    // The first run loads its worker cold; the snapshot is built after it.
    const first = await bridge.runPython({ code: 'print("warm")', timeout: 60 });
    expect(first.text).toBe('warm');
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  async function expectHealthy(): Promise<void> {
    const result = await bridge.runPython({ code: 'print("alive")' });
    expect(result.text).toBe('alive');
  }

  describe('behaves like the container backend', () => {
    it('builds and keeps one snapshot in the state dir', async () => {
      expect(await eventually(() => snapshotFiles(stateDir).length === 1, 30_000)).toBe(true);
      const [file] = snapshotFiles(stateDir);
      expect(isIntact(file as string)).toBe(true);
    });

    it('returns stdout and stderr', async () => {
      const result = await bridge.runPython({
        code: 'import os, sys\nprint(6*7)\nprint("warn", file=sys.stderr)\n_ = os.write(1, b"raw\\n")',
      });
      expect(result.structured).toMatchObject({ status: 'ok', stdout: '42\nraw\n', stderr: 'warn\n' });
    });

    it('reports an exception with a short traceback', async () => {
      const result = await bridge.runPython({ code: 'print("before")\n1/0' });
      expect(result.isError).toBe(true);
      expect(result.structured).toMatchObject({
        status: 'error',
        stdout: 'before\n',
        error: 'ZeroDivisionError: division by zero',
      });
      expect(result.structured.traceback).toContain('File "<run_python>", line 2');
      expect(result.structured.traceback).not.toContain('codemode_runtime');
    });

    it('supports top-level await and shows a final expression', async () => {
      const result = await bridge.runPython({
        code: 'import asyncio\nawait asyncio.sleep(0.01)\nawait asyncio.gather(*(asyncio.sleep(0, i) for i in range(3)))',
      });
      expect(result.text).toBe('[0, 1, 2]');
    });

    it('calls upstream MCP tools through the same runtime package', async () => {
      const result = await bridge.runPython({
        servers: ['everything'],
        code: 'print(await mcp_everything.echo(message="via deno"))\nprint(await mcp_everything.get_sum(a=2, b=3))',
        timeout: 60,
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).toMatch(/via deno/);
      expect(result.structured.stdout).toMatch(/5/);
    });

    it('times out, kills the worker and replaces it', async () => {
      const result = await bridge.runPython({
        code: 'import js\nprint(js.Deno.pid, flush=True)\nwhile True:\n    pass',
        // Enough for the program to reach its first line on a loaded machine.
        timeout: 5,
      });
      expect(result.structured.status).toBe('timeout');
      const pid = Number(result.structured.stdout.trim());
      expect(pid).toBeGreaterThan(0);
      expect(await eventually(() => !isAlive(pid), 5000)).toBe(true);
      await expectHealthy();
    });

    it('caps a 100 MB print, keeping head and tail', async () => {
      const result = await bridge.runPython({
        code: 'print("HEAD")\nprint("x" * 100_000_000)\nprint("TAIL")',
        timeout: 60,
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout.startsWith('HEAD\n')).toBe(true);
      expect(result.structured.stdout.endsWith('TAIL\n')).toBe(true);
      expect(result.structured.truncated?.stdout).toBeGreaterThan(99_000_000);
      expect(JSON.stringify(result).length).toBeLessThan(100_000);
    });

    it('runs concurrent calls in separate workers without mixing their output', async () => {
      const runs = await Promise.all(
        [1, 2, 3, 4].map((n) =>
          bridge.runPython({
            code: `import asyncio, js\nfor i in range(3):\n    print("run${n}", i)\n    await asyncio.sleep(0.05)\nprint(js.Deno.pid)`,
            timeout: 30,
          }),
        ),
      );
      const pids = new Set<string>();
      runs.forEach((result, index) => {
        const lines = result.structured.stdout.trimEnd().split('\n');
        expect(lines.slice(0, 3)).toEqual([0, 1, 2].map((i) => `run${index + 1} ${i}`));
        pids.add(lines[3] as string);
      });
      expect(pids.size).toBe(4);
    });
  });

  describe('hostile programs', () => {
    let server: Server;
    let port = 0;
    let requests = 0;

    beforeAll(async () => {
      server = createServer((_request, response) => {
        requests++;
        response.end('reachable');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => {
      server?.close();
    });

    it('has no network: js.fetch, pyodide.http.pyfetch, sockets', async () => {
      const url = `http://127.0.0.1:${port}/`;
      const result = await bridge.runPython({
        code: `
import js, socket
from pyodide.http import pyfetch
for name, attempt in [("fetch", lambda: js.fetch("${url}")), ("pyfetch", lambda: pyfetch("${url}"))]:
    try:
        await attempt()
        print(name, "REACHED")
    except Exception as error:
        print(name, type(error).__name__, str(error)[:80])
try:
    socket.create_connection(("127.0.0.1", ${port}), timeout=2)
    print("socket REACHED")
except OSError as error:
    print("socket", type(error).__name__)
`,
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).not.toContain('REACHED');
      expect(result.structured.stdout).toMatch(/^fetch .*NotCapable.*net access/m);
      expect(result.structured.stdout).toMatch(/^pyfetch .*Requires net access/m);
      expect(result.structured.stdout).toMatch(/^socket OSError/m);
      expect(requests).toBe(0);
      await expectHealthy();
    });

    it("cannot read host files: /etc/passwd, the user's home, the bridge's own files", async () => {
      const targets = [
        '/etc/passwd',
        join(home.home, 'secret.txt'),
        join(REPO, 'package.json'),
        join(REPO, 'dist/cli/main.js'),
        stateDir,
      ];
      const result = await bridge.runPython({
        code: `
import js, os
for path in ${JSON.stringify(targets)}:
    try:
        open(path).read()
        print("python READ", path)
    except OSError as error:
        print("python", type(error).__name__)
    try:
        js.Deno.readTextFileSync(path) if not path.endswith("state") else js.Deno.readDirSync(path)
        print("deno READ", path)
    except Exception as error:
        print("deno", "NotCapable" if "NotCapable" in str(error) else str(error)[:100])
for url in ["file:///etc/passwd", "file://${join(home.home, 'secret.txt')}"]:
    try:
        await js.fetch(url)
        print("fetch READ", url)
    except Exception as error:
        print("fetch", "NotCapable" if "NotCapable" in str(error) else str(error)[:100])
print(sorted(os.listdir("/")))
`,
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).not.toContain('READ');
      expect(result.structured.stdout).not.toContain(SECRET);
      const lines = result.structured.stdout.trimEnd().split('\n');
      expect(
        lines.filter((line) => line.startsWith('deno ')).every((line) => line === 'deno NotCapable'),
      ).toBe(true);
      expect(
        lines.filter((line) => line.startsWith('fetch ')).every((line) => line === 'fetch NotCapable'),
      ).toBe(true);
      expect(lines.at(-1)).not.toMatch(/'etc'|'root'|'work'/);
      await expectHealthy();
    });

    it('sees no environment variables of the host', async () => {
      const result = await bridge.runPython({
        code: `
import js, os
print(dict(os.environ))
for attempt in (lambda: js.Deno.env.toObject(), lambda: js.Deno.env.get("SECRET_TOKEN"), lambda: js.process.env.SECRET_TOKEN):
    try:
        print("READ", attempt())
    except Exception as error:
        print("NotCapable" if "NotCapable" in str(error) else str(error)[:100])
`,
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).not.toContain(SECRET);
      expect(result.structured.stdout).not.toContain('READ');
      expect(result.structured.stdout).not.toContain(home.home);
      expect(result.structured.stdout).not.toContain('worker.js');
      expect(result.structured.stdout.match(/NotCapable/g)?.length).toBe(3);
    });

    it('cannot spawn processes', async () => {
      const marker = join(tmpdir(), `codemode-pwned-${process.pid}-${Date.now()}`);
      const result = await bridge.runPython({
        code: `
import js, os, subprocess
attempts = {
    "subprocess": lambda: subprocess.run(["/bin/sh", "-c", "touch ${marker}"]),
    "os.system": lambda: os.system("touch ${marker}"),
    "Deno.Command": lambda: js.Deno.Command.new("/bin/sh", js.JSON.parse('{"args":["-c","touch ${marker}"]}')).outputSync(),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "RAN")
    except Exception as error:
        print(name, "NotCapable" if "NotCapable" in str(error) else type(error).__name__)
`,
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).toBe(
        'subprocess OSError\nos.system OSError\nDeno.Command NotCapable\n',
      );
      // posix.system is Emscripten's, backed by node:child_process, which Deno refuses fatally:
      // the worker dies, nothing runs, and the run says so.
      const crashed = await bridge.runPython({ code: `import posix\nposix.system("touch ${marker}")` });
      expect(crashed.isError).toBe(true);
      expect(['killed', 'error']).toContain(crashed.structured.status);
      expect(existsSync(marker)).toBe(false);
      await expectHealthy();
    });

    it('ends `while True` at the timeout', async () => {
      const result = await bridge.runPython({ code: 'while True:\n    pass', timeout: 1 });
      expect(result.structured.status).toBe('timeout');
      await expectHealthy();
    });

    it('ends a memory bomb far beyond the limit with a clear status', async () => {
      const result = await bridge.runPython({
        code: 'blocks = []\nwhile True:\n    blocks.append(bytearray(10 * 1024 * 1024))',
        timeout: 30,
      });
      expect(result.isError).toBe(true);
      expect(result.structured).toMatchObject({
        status: 'error',
        error: expect.stringMatching(/^MemoryError/),
      });
      await expectHealthy();
    });

    it('ends a JavaScript-heap bomb reached through `js` with a clear status', async () => {
      const result = await bridge.runPython({
        code: 'import js\nkeep = js.Array.new()\nwhile True:\n    keep.push(js.Array.new(1_000_000).fill(1.5))',
        timeout: 30,
      });
      expect(result.isError).toBe(true);
      expect(['killed', 'error']).toContain(result.structured.status);
      await expectHealthy();
    });

    const forge = (payload: string) =>
      `import js, time\njs.Deno.stdout.writeSync(js.TextEncoder.new().encode(${payload}))\ntime.sleep(3)\nprint("not reached")`;

    it.each([
      ['a line that is not JSON', "'this is not json\\n'", /not JSON/],
      ['a frame of an unknown type', '\'{"type":"exec","cmd":"rm -rf /"}\\n\'', /invalid frame/],
      [
        'a frame with a wrong field type',
        '\'{"type":"out","stream":"stdout","data":42}\\n\'',
        /invalid frame at data/,
      ],
      ['a second ready', '\'{"type":"ready"}\\n\'', /ready' twice/],
      ['half a frame that the worker then completes', '\'{"type":"out"\'', /not JSON|invalid frame/],
    ])(
      'ends the run on %s forged through js.Deno.stdout and keeps serving',
      async (_name, payload, message) => {
        const code = _name.startsWith('half') ? `${forge(payload)}\nprint("flush")` : forge(payload);
        const result = await bridge.runPython({ code, timeout: 20 });
        expect(result.structured.status).toBe('protocol_error');
        expect(result.structured.error).toMatch(message);
        await expectHealthy();
      },
    );

    it('takes a forged done as the end of its own run only, and refuses forged tool calls', async () => {
      const done = await bridge.runPython({ code: forge('\'{"type":"done","ok":true}\\n\''), timeout: 20 });
      expect(done.structured.status).toBe('ok');
      expect(done.structured.stdout).not.toContain('not reached');
      const rpc = await bridge.runPython({
        code: `import js, asyncio\njs.Deno.stdout.writeSync(js.TextEncoder.new().encode('{"type":"rpc","id":99,"server":"memory","tool":"read_graph","args":{}}\\n'))\nawait asyncio.sleep(0.5)\nprint("done")`,
      });
      // The host answers the forged id with NOT_GRANTED; the runtime ignores an id it never sent.
      expect(rpc.structured).toMatchObject({ status: 'ok', stdout: 'done\n' });
      await expectHealthy();
    });

    it('leaves nothing behind for the next run: globals, modules, builtins, /tmp, JS globals', async () => {
      const first = await bridge.runPython({
        code: `
import builtins, json, sys, types, js
leaked_global = 1
json.leaked = 1
sys.modules["leaked_module"] = types.ModuleType("leaked_module")
builtins.leaked_builtin = 1
builtins.len = lambda value: 42
open("/tmp/leaked.txt", "w").write("x")
js.globalThis.leakedJs = 1
print(js.Deno.pid)
`,
      });
      expect(first.structured.status).toBe('ok');
      const second = await bridge.runPython({
        code: `
import builtins, json, os, sys, js
print("leaked_global" in globals(), hasattr(json, "leaked"), "leaked_module" in sys.modules)
print(hasattr(builtins, "leaked_builtin"), len([1, 2]), os.path.exists("/tmp/leaked.txt"))
print(hasattr(js.globalThis, "leakedJs"))
print(js.Deno.pid)
`,
      });
      const lines = second.structured.stdout.trimEnd().split('\n');
      expect(lines.slice(0, 3)).toEqual(['False False False', 'False 2 False', 'False']);
      expect(lines[3]).not.toBe(first.structured.stdout.trim());
    });
  });

  it('keeps only its warm worker once runs have ended, and leaves none when it exits', async () => {
    expect(await eventually(() => workersOf(bridge.pid).length <= 1, 10_000)).toBe(true);
    const pid = bridge.pid;
    await bridge.close();
    expect(await eventually(() => workersOf(pid).length === 0, 15_000)).toBe(true);
  });
});

describe('embedded worker cleanup and snapshot recovery', () => {
  it('ends busy workers of a bridge killed with SIGKILL, without waiting for another bridge', async () => {
    const first = await startBridge(embeddedEnv({ MCP_BRIDGE_POOL_SIZE: '0' }));
    // One spins in Python, one sleeps: neither returns to the worker's event loop.
    await startRunning(first, 'print("running", flush=True)\nwhile True:\n    pass');
    await startRunning(first, 'print("running", flush=True)\nimport time\ntime.sleep(1e9)');
    const orphans = workersOf(first.pid);
    expect(orphans.length).toBeGreaterThanOrEqual(2);
    process.kill(first.pid, 'SIGKILL');
    expect(await eventually(() => !isAlive(first.pid))).toBe(true);
    expect(await eventually(() => orphans.every((pid) => !isAlive(pid)), 10_000)).toBe(true);
  }, 180_000);

  it('kills workers left by a bridge that is gone when the next bridge starts', async () => {
    // Where the parent-death signal is missing (no setpriv), an orphan waits for the next bridge: one
    // is made here with a dead owner, as `reapStale` finds them (the worker script and --owner).
    const deadOwner = 4_000_000 + (process.pid % 100_000);
    const orphan = spawn(
      process.execPath,
      ['-e', 'setInterval(() => {}, 1000)', join(REPO, 'runtime/deno/worker.js'), `--owner=${deadOwner}`],
      { stdio: 'ignore', detached: true },
    );
    try {
      expect(await eventually(() => workersOf(deadOwner).length === 1)).toBe(true);
      const second = await startBridge(embeddedEnv());
      try {
        expect(await eventually(() => !isAlive(orphan.pid as number), 20_000)).toBe(true);
      } finally {
        await second.close();
      }
    } finally {
      orphan.kill('SIGKILL');
    }
  });

  it('with no snapshot yet, loads the first worker cold alone, then builds, and the next run waits for it', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'codemode-embedded-fresh-'));
    const bridge = await startBridge(
      embeddedEnv({ MCP_BRIDGE_STATE_DIR: fresh, MCP_BRIDGE_POOL_SIZE: '0', MCP_BRIDGE_LOG_LEVEL: 'debug' }),
    );
    try {
      expect((await bridge.runPython({ code: 'print(1)', timeout: 90 })).text).toBe('1');
      expect((await bridge.runPython({ code: 'print(2)', timeout: 90 })).text).toBe('2');
      const events = bridge
        .stderr()
        .split('\n')
        .flatMap((line) => {
          if (line.includes('embedded snapshot built')) return ['built'];
          const ready = / sandbox ready .*snapshot=(true|false)/.exec(line);
          return ready ? [`ready from snapshot: ${ready[1]}`] : [];
        });
      expect(events).toEqual(['ready from snapshot: false', 'built', 'ready from snapshot: true']);
    } finally {
      await bridge.close();
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 120_000);

  it('a one-shot run leaves its snapshot build to a process that finishes it; the next run starts from it', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'codemode-embedded-oneshot-'));
    const run = (code: string) =>
      spawnSync(process.execPath, [BRIDGE_MAIN, 'run', '-e', code], {
        env: {
          ...process.env,
          ...embeddedEnv({ MCP_BRIDGE_STATE_DIR: fresh, MCP_BRIDGE_LOG_LEVEL: 'debug' }),
        },
        encoding: 'utf8',
        timeout: 120_000,
      });
    try {
      const first = run('print(1)');
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toBe('1\n');
      // The run did not wait for the build (seconds, far more under load), nor stop it: a process of
      // its own goes on and writes the snapshot once done.
      expect(snapshotFiles(fresh)).toEqual([]);
      expect(first.stderr).toMatch(
        /the embedded snapshot is still being built; a process of its own finishes it pid=\d+/,
      );
      const lock = () => readdirSync(join(fresh, 'embedded')).filter((name) => name.endsWith('.lock'));
      expect(await eventually(() => snapshotFiles(fresh).length === 1 && lock().length === 0, 120_000)).toBe(
        true,
      );
      expect(isIntact(snapshotFiles(fresh)[0] as string)).toBe(true);
      const second = run('print(2)');
      expect(second.stdout).toBe('2\n');
      expect(second.stderr).toMatch(/ sandbox ready .*snapshot=true/);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 300_000);

  it('detects a corrupted snapshot at start, rebuilds it and serves cold meanwhile', async () => {
    const [file] = snapshotFiles(stateDir);
    expect(file).toBeDefined();
    const bytes = readFileSync(file as string);
    // Same size, different contents: only the digest check can notice.
    const middle = bytes.length >> 1;
    bytes.fill(0x5a, middle, middle + 4096);
    writeFileSync(file as string, bytes);
    const bridge = await startBridge(embeddedEnv({ MCP_BRIDGE_POOL_SIZE: '0' }));
    try {
      const result = await bridge.runPython({ code: 'print(sum(range(10)))', timeout: 60 });
      expect(result.text).toBe('45');
      expect(bridge.stderr()).toMatch(/snapshot is corrupt/);
      expect(
        await eventually(
          () => snapshotFiles(stateDir).length === 1 && isIntact(snapshotFiles(stateDir)[0] as string),
          40_000,
        ),
      ).toBe(true);
    } finally {
      await bridge.close();
    }
  });

  it('detects a snapshot truncated while the bridge runs, rebuilds it and never fails a run', async () => {
    const bridge = await startBridge(embeddedEnv({ MCP_BRIDGE_POOL_SIZE: '0' }));
    try {
      expect((await bridge.runPython({ code: 'print(1)', timeout: 60 })).text).toBe('1');
      const [file] = snapshotFiles(stateDir);
      truncateSync(file as string, 1024);
      const result = await bridge.runPython({ code: 'print(2)', timeout: 60 });
      expect(result.text).toBe('2');
      expect(bridge.stderr()).toMatch(/embedded snapshot rejected/);
      expect(await eventually(() => snapshotFiles(stateDir).some((f) => isIntact(f)), 40_000)).toBe(true);
      expect((await bridge.runPython({ code: 'print(3)', timeout: 60 })).text).toBe('3');
    } finally {
      await bridge.close();
    }
  });
});
