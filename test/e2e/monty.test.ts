/**
 * Issue 28 through the real bridge: the Monty tier under MCP_BRIDGE_RUNTIME=monty and under auto,
 * with the reference `everything` server as the upstream. Tool calls (awaited, gathered, through
 * `mcp.runtime`), refusals, timeouts, cancellation, output caps, memory, a worker killed mid-run, the
 * confinement of workers, and the routing of programs between Monty and full Python.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport, eventually } from '../helpers/environment.js';
import { createTestHome, serverEntry, type TestHome } from '../helpers/upstreams.js';

/** The `monty subprocess` processes under `bridgePid` (bubblewrap's children), by pid. */
function montyWorkers(bridgePid: number): number[] {
  const output = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  const rows = output
    .trim()
    .split('\n')
    .map((line) => {
      const [pid, ppid, ...args] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), args: args.join(' ') };
    });
  const descendants = new Set([bridgePid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const row of rows) {
      if (descendants.has(row.ppid) && !descendants.has(row.pid)) {
        descendants.add(row.pid);
        grew = true;
      }
    }
  }
  return (
    rows
      // The interpreter itself, not bubblewrap (whose command line ends with the same words).
      .filter((row) => descendants.has(row.pid) && /^\S*\/monty subprocess$/.test(row.args))
      .map((row) => row.pid)
  );
}

function configure(home: TestHome, policy?: string): Record<string, string> {
  home.write('.claude.json', {
    mcpServers: { everything: { command: process.execPath, args: [serverEntry('server-everything')] } },
  });
  return {
    HOME: home.home,
    ...(policy ? { MCP_BRIDGE_POLICY: home.write('policy.toml', policy) } : {}),
  };
}

describe('MCP_BRIDGE_RUNTIME=monty', () => {
  let home: TestHome;
  let bridge: RunningBridge;
  /** The bridge's own TMPDIR: nothing of it may appear there. */
  let tmp: string;

  beforeAll(async () => {
    home = createTestHome();
    tmp = join(home.home, 'tmp');
    mkdirSync(tmp);
    bridge = await startBridge({
      ...configure(home, '[servers.everything]\ndeny = ["get-env"]\n'),
      TMPDIR: tmp,
      MCP_BRIDGE_RUNTIME: 'monty',
      MCP_BRIDGE_MAX_OUTPUT_CHARS: '2000',
      MCP_BRIDGE_MEMORY: '64m',
    });
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it('runs a program on Monty and says so in structuredContent', async () => {
    const result = await bridge.runPython({ code: 'x = [i * i for i in range(5)]\nprint(sum(x))\nx' });
    expect(result.structured).toMatchObject({
      status: 'ok',
      stdout: '30\n[0, 1, 4, 9, 16]\n',
      sandbox: 'monty',
    });
  });

  it('calls tools of a real upstream: awaited, positional, gathered, and through mcp.runtime', async () => {
    const code = [
      'import asyncio',
      'import mcp.runtime as rt',
      'from mcp.servers.everything import echo',
      'print(await mcp_everything.echo(message="hi"))',
      'print(await echo("positional"))',
      'sums = await asyncio.gather(*[mcp_everything.get_sum(a=i, b=1) for i in range(4)])',
      'print(sums)',
      'print(await rt.call_tool("everything", "echo", {"message": "via call_tool"}))',
      'docs = await rt.query_tool_docs("everything", "echo")',
      'print(docs["signature"])',
      'hits = await rt.search_tool_docs("add two numbers", limit=3)',
      'print(any(hit["tool"] == "get-sum" for hit in hits))',
      'print(rt.discovered_servers(), LOADED_MCP_SERVERS)',
    ].join('\n');
    const result = await bridge.runPython({ code, servers: ['everything'] });
    expect(result.structured.status).toBe('ok');
    const lines = result.structured.stdout.trim().split('\n');
    expect(lines[0]).toContain('hi');
    expect(lines[1]).toContain('positional');
    expect(lines[2]).toMatch(/\[.*1.*2.*3.*4.*\]/);
    expect(lines[3]).toContain('via call_tool');
    expect(lines[4]).toBe('await mcp_everything.echo(message: str)');
    expect(lines[5]).toBe('True');
    expect(lines[6]).toBe("('everything',) ('everything',)");
    expect(result.structured.sandbox).toBe('monty');
  });

  it('raises tool failures as mcp.ToolError, and policy refusals too, with the rule', async () => {
    const caught = await bridge.runPython({
      code: [
        'try:',
        '    await mcp_everything.get_sum(a="x", b=1)',
        'except mcp.ToolError as error:',
        '    print("caught", isinstance(error, RuntimeError))',
      ].join('\n'),
      servers: ['everything'],
    });
    expect(caught.structured).toMatchObject({ status: 'ok', stdout: 'caught True\n' });
    const refused = await bridge.runPython({
      code: 'await mcp_everything.get_env()',
      servers: ['everything'],
    });
    expect(refused.structured.status).toBe('error');
    expect(refused.structured.error).toMatch(/^mcp\.PolicyError: .*\[rule: /);
  });

  it('refuses a program outside the subset by naming the construct and how to get full Python', async () => {
    const result = await bridge.runPython({ code: 'import csv\nprint(1)' });
    expect(result.structured.status).toBe('error');
    expect(result.structured.error).toMatch(
      /^import csv \(line 1\): the module csv is not in Monty's standard library/,
    );
    expect(result.structured.error).toContain('MCP_BRIDGE_RUNTIME=auto');
    const parsed = await bridge.runPython({ code: 'def g():\n    yield 1\nprint(list(g()))' });
    expect(parsed.structured.error).toMatch(/yield/);
    expect(parsed.structured.error).toContain('MCP_BRIDGE_RUNTIME=auto');
    const session = await bridge.runPython({ code: 'print(1)', session: 's' });
    expect(session.structured.error).toMatch(/^A session \(session="s"\) needs full Python/);
  });

  it('times a run out, cancels one, and the next run is unharmed', async () => {
    const timedOut = await bridge.runPython({ code: 'while True:\n    pass', timeout: 1 });
    expect(timedOut.structured.status).toBe('timeout');
    const controller = new AbortController();
    const cancelled = bridge.runPython({ code: 'while True:\n    pass' }, { signal: controller.signal });
    setTimeout(() => controller.abort(), 500);
    await expect(cancelled).rejects.toThrow();
    const next = await bridge.runPython({ code: 'print("fine")' });
    expect(next.structured).toMatchObject({ status: 'ok', stdout: 'fine\n', sandbox: 'monty' });
  });

  it('caps output and memory', async () => {
    const loud = await bridge.runPython({ code: 'for i in range(20000):\n    print("line", i)' });
    expect(loud.structured.status).toBe('ok');
    expect(loud.structured.truncated?.stdout).toBeGreaterThan(100_000);
    expect(loud.structured.stdout).toContain('line 19999');
    const big = await bridge.runPython({ code: 'x = "a" * (10 ** 9)\nprint(len(x))' });
    expect(big.structured.status).toBe('error');
    expect(big.structured.error).toMatch(/^MemoryError/);
  });

  it('fails only the run whose worker is killed', async () => {
    const victim = bridge.runPython({ code: 'print("started")\nwhile True:\n    pass', timeout: 60 });
    // The bystander is in the middle of a tool call when the victim's worker dies.
    const bystander = bridge.runPython({
      code: 'await mcp_everything.trigger_long_running_operation(duration=3, steps=1)\nprint("done")',
      servers: ['everything'],
      timeout: 60,
    });
    // Kill the worker running the endless loop: the one whose CPU time grows. The others (ready, the
    // bystander's waiting on its tool, the tier's warm-up's) stay still.
    await eventually(() => montyWorkers(bridge.pid).length >= 1, 20_000);
    const cpu = (pid: number) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11]);
      } catch {
        return 0;
      }
    };
    const before = new Map(montyWorkers(bridge.pid).map((pid) => [pid, cpu(pid)]));
    const grown = (pid: number) => cpu(pid) - (before.get(pid) ?? 0);
    expect(await eventually(() => [...before.keys()].some((pid) => grown(pid) > 1), 20_000)).toBe(true);
    const [spinning] = [...before.keys()].sort((a, b) => grown(b) - grown(a));
    process.kill(spinning as number, 'SIGKILL');
    const [first, second] = await Promise.all([victim, bystander]);
    expect(first.structured.status).toBe('killed');
    expect(first.structured.error).toMatch(/killed|ended/);
    expect(second.structured).toMatchObject({ status: 'ok', stdout: 'done\n' });
    const after = await bridge.runPython({ code: 'print("still serving")' });
    expect(after.structured).toMatchObject({ status: 'ok', stdout: 'still serving\n' });
  });

  it('confines its workers: no network namespace of the host, uid 65534, no environment', async () => {
    await bridge.runPython({ code: 'print(1)' });
    const [pid] = montyWorkers(bridge.pid);
    expect(pid).toBeDefined();
    const ns = (p: number | string, kind: string) => readlinkSync(`/proc/${p}/ns/${kind}`);
    expect(ns(pid as number, 'net')).not.toBe(ns('self', 'net'));
    expect(ns(pid as number, 'pid')).not.toBe(ns('self', 'pid'));
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Seccomp:\s+2$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    // bubblewrap sets PWD for the directory it starts in; nothing of the bridge's environment is there.
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)).toEqual(['PWD=/']);
  });

  // Last: it ends the bridge. The seccomp program reaches bubblewrap through a pipe; as a file it
  // was left in the temp directory by every bridge.
  it('writes nothing to its temp directory, while it runs or once it has exited', async () => {
    expect((await bridge.runPython({ code: 'print(1)' })).structured.status).toBe('ok');
    expect(readdirSync(tmp)).toEqual([]);
    const { pid } = bridge;
    await bridge.close();
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(await eventually(() => !alive(), 30_000)).toBe(true);
    expect(readdirSync(tmp)).toEqual([]);
  });
});

describe('MCP_BRIDGE_RUNTIME=auto: Monty when a program fits, full Python otherwise', () => {
  const skip = containerSupport().skipReason;
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    if (skip) return;
    home = createTestHome();
    bridge = await startBridge({ ...configure(home), MCP_BRIDGE_RUNTIME: 'auto' });
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it.skipIf(skip)(
    'routes a fitting program to Monty and the rest to a container, before either runs',
    async () => {
      const fast = await bridge.runPython({
        code: 'print(await mcp_everything.echo(message="m"))',
        servers: ['everything'],
      });
      expect(fast.structured).toMatchObject({ status: 'ok', sandbox: 'monty' });
      const full = await bridge.runPython({
        code: 'import csv, io\nprint(next(csv.reader(io.StringIO("a,b"))))',
      });
      expect(full.structured).toMatchObject({ status: 'ok', stdout: "['a', 'b']\n", sandbox: 'podman' });
      const session = await bridge.runPython({ code: 'x = 1\nprint(x)', session: 'kept' });
      expect(session.structured).toMatchObject({ status: 'ok', sandbox: 'podman' });
    },
  );

  it.skipIf(skip)(
    'gives a run-time subset failure to full Python when nothing observable happened yet',
    async () => {
      const result = await bridge.runPython({ code: 'print(int.from_bytes(b"\\x01\\x00", "big"))' });
      expect(result.structured).toMatchObject({ status: 'ok', stdout: '256\n', sandbox: 'podman' });
    },
  );

  it.skipIf(skip)(
    'does not retry one after a tool call, says so, and sends the program to full Python next time',
    async () => {
      const code = 'print(await mcp_everything.echo(message="once"))\nprint(int.from_bytes(b"\\x01", "big"))';
      const first = await bridge.runPython({ code, servers: ['everything'] });
      expect(first.structured).toMatchObject({ status: 'error', sandbox: 'monty' });
      expect(first.structured.stdout).toContain('once');
      expect(first.structured.error).toMatch(/^AttributeError: .*from_bytes/);
      expect(first.structured.error).toContain(
        'It was not retried on full Python because the program had already made a call',
      );
      const second = await bridge.runPython({ code, servers: ['everything'] });
      expect(second.structured).toMatchObject({ status: 'ok', sandbox: 'podman' });
      expect(second.structured.stdout).toMatch(/once[\s\S]*\n1\n$/);
    },
  );
});
