/**
 * Hostile cases for the Monty tier (issue 28), written in the subset it runs: escapes through the
 * `mcp` objects and the names Monty asks the host for, resource bombs inside its limits, values that
 * cross the boundary at their worst, host operations with bad input, and faults from outside (a
 * worker killed or stopped mid-run). The full-Python cases of the other files are listed for this
 * backend with the reason they do not apply (the harness computes it: the tier refuses them before
 * they run, and full Python, where auto sends them, has its own suites).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { eventually } from '../../helpers/environment.js';
import type { CaseContext, CaseRun, HostileCase } from './kit.js';

const MONTY = ['monty'] as const;
const REFUSED_BEFORE_IT_RUNS = /needs full Python/;

/** The `monty subprocess` processes of the bridge (not bubblewrap, whose command line ends the same). */
export function montyWorkersOf(bridgePid: number): number[] {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => {
      const [pid, ppid, ...args] = line.trim().split(/\s+/);
      return { pid: Number(pid), ppid: Number(ppid), args: args.join(' ') };
    });
  const mine = new Set([bridgePid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const row of rows) {
      if (mine.has(row.ppid) && !mine.has(row.pid)) {
        mine.add(row.pid);
        grew = true;
      }
    }
  }
  return rows
    .filter((row) => mine.has(row.pid) && /^\S*\/monty subprocess$/.test(row.args))
    .map((row) => row.pid);
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return -1;
  }
}

/** Starts an endless loop and returns the pid of the worker running it (the one burning CPU). */
async function loopingWorker(
  context: CaseContext,
  timeout: number,
): Promise<{ pending: Promise<CaseRun>; pid: number }> {
  const pending = context.run({ code: 'n = 0\nwhile True:\n    n += 1', timeout });
  let pid = 0;
  await eventually(() => {
    const before = new Map(montyWorkersOf(context.bridgePid).map((worker) => [worker, cpuTicks(worker)]));
    execFileSync('sleep', ['0.3']);
    for (const [worker, ticks] of before) if (cpuTicks(worker) > ticks + 5) pid = worker;
    return pid !== 0;
  }, 30_000);
  return { pending, pid };
}

export const MONTY_CASES: HostileCase[] = [
  // escape
  {
    name: 'open() of a host file is refused before the program runs',
    category: 'escape',
    backends: MONTY,
    code: (context) => `print(open(${JSON.stringify(context.secretFile)}).read())`,
    expect: { status: 'error', error: REFUSED_BEFORE_IT_RUNS },
  },
  {
    name: 'os, subprocess, socket and ctypes are refused before the program runs',
    category: 'escape',
    backends: MONTY,
    code: 'import os\nos.system("id")',
    expect: { status: 'error', error: /^import os \(line 1\)/ },
  },
  {
    name: '__import__, eval, exec and compile are refused before the program runs',
    category: 'escape',
    backends: MONTY,
    code: 'print(__import__("os").listdir("/"))',
    expect: { status: 'error', error: /^__import__ \(line 1\)/ },
  },
  {
    name: 'the host objects answer attribute probes with AttributeError, not host internals',
    category: 'escape',
    backends: MONTY,
    servers: ['shapes'],
    code: [
      'found = []',
      'for name in ["__class__", "__dict__", "__globals__", "constructor", "__proto__", "prototype", "_state"]:',
      '    for target in [mcp, mcp.runtime, mcp_shapes, mcp.servers]:',
      '        try:',
      '            found.append(str(getattr(target, name))[:40])',
      '        except AttributeError:',
      '            pass',
      'print(len(found), found[:3])',
    ].join('\n'),
    expect: {
      status: ['ok', 'error'],
      check: (run) => expect(run.outcome?.stdout ?? '').not.toMatch(/function|Object|process|require/),
    },
  },
  {
    name: 'a forged host function name is a NameError, and so is an ungranted server',
    category: 'escape',
    backends: MONTY,
    servers: ['shapes'],
    code: [
      'outcomes = []',
      'for attempt in ["mcp_leaky.token_result()", "mcp_shapes_quick(1)", "__codemode_host_call()"]:',
      '    outcomes.append(attempt)',
      'try:',
      '    mcp_leaky.token_result()',
      'except NameError:',
      '    print("NameError")',
    ].join('\n'),
    expect: { status: 'error', error: /not in Monty|NameError/ },
  },
  {
    name: 'call_tool and a rebound mcp_servers entry cannot reach an ungranted server',
    category: 'escape',
    backends: MONTY,
    servers: ['shapes'],
    code: [
      'import mcp.runtime as rt',
      'try:',
      '    await rt.call_tool("leaky", "token_result", {})',
      'except mcp.ToolError as error:',
      '    print("refused:", "not granted" in str(error))',
      'mcp_servers["leaky"] = mcp_servers["shapes"]',
      'print(await mcp_servers["leaky"]["quick"](n=2))',
    ].join('\n'),
    expect: { status: 'ok', stdout: /^refused: True\n/ },
  },
  {
    name: 'the worker runs confined: its own namespaces, seccomp, no capabilities, uid 65534',
    category: 'escape',
    backends: MONTY,
    drive: async (context) => {
      const run = await context.run({ code: 'print("confined")' });
      const [pid] = montyWorkersOf(context.bridgePid);
      expect(pid).toBeDefined();
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      expect(status).toMatch(/^Seccomp:\s+2$/m);
      expect(status).toMatch(/^CapEff:\s+0+$/m);
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(readFileSync(`/proc/${pid}/uid_map`, 'utf8')).toMatch(/^\s*65534\s/);
      return run;
    },
    expect: { status: 'ok', stdout: 'confined\n' },
  },
  // resources
  {
    name: 'kills an endless loop at its timeout',
    category: 'resources',
    backends: MONTY,
    timeout: 2,
    code: 'while True:\n    pass',
    expect: { status: 'timeout' },
  },
  {
    name: 'a doubling bytes object meets the memory limit as MemoryError',
    category: 'resources',
    backends: MONTY,
    timeout: 30,
    code: 'data = b"x"\nwhile True:\n    data += data',
    expect: { status: 'error', error: /^MemoryError/ },
  },
  {
    name: 'one huge string is refused with MemoryError',
    category: 'resources',
    backends: MONTY,
    code: 'text = "a" * (10 ** 12)',
    expect: { status: 'error', error: /^MemoryError/ },
  },
  {
    name: 'many small strings meet the memory limit as MemoryError',
    category: 'resources',
    backends: MONTY,
    timeout: 60,
    code: 'keep = []\nwhile True:\n    keep.append("x" * 1000 + str(len(keep)))',
    expect: { status: ['error', 'timeout'], error: /^MemoryError|Timed out/ },
  },
  {
    name: 'endless recursion is a RecursionError',
    category: 'resources',
    backends: MONTY,
    code: 'def f():\n    return f()\nf()',
    expect: { status: 'error', error: /^RecursionError/ },
  },
  {
    name: 'a value nested a million deep, then printed, fails its run only',
    category: 'resources',
    backends: MONTY,
    timeout: 30,
    code: 'value = []\nfor _ in range(10**6):\n    value = [value]\nprint(len(repr(value)))',
    expect: { status: ['error', 'killed', 'ok'] },
  },
  {
    name: 'a power with a billion-digit result ends with an error or the timeout',
    category: 'resources',
    backends: MONTY,
    timeout: 5,
    code: 'x = 10 ** (10 ** 9)\nprint(x > 0)',
    expect: { status: ['error', 'timeout'] },
  },
  {
    name: 'catastrophic regex backtracking ends (linear engine) or times out',
    category: 'resources',
    backends: MONTY,
    timeout: 5,
    code: 'import re\nprint(re.match(r"(a*)*b", "a" * 64))',
    expect: { status: ['ok', 'timeout'] },
  },
  {
    name: 'an exception with a 1 MB message is cut to the runtime limits',
    category: 'resources',
    backends: MONTY,
    code: 'raise ValueError("m" * 1_000_000)',
    expect: {
      status: 'error',
      check: (run) => expect((run.outcome?.error ?? '').length).toBeLessThanOrEqual(16_000),
    },
  },
  {
    name: 'a final expression whose repr is 20 MB arrives capped',
    category: 'resources',
    backends: MONTY,
    code: '"z" * 20_000_000',
    expect: { status: 'ok', check: (run) => expect(run.outcome?.truncated?.stdout ?? 0).toBeGreaterThan(0) },
  },
  {
    name: 'one print of 100 MB ends its run with a clear error',
    category: 'resources',
    backends: MONTY,
    timeout: 30,
    code: 'print("x" * 100_000_000)',
    expect: { status: ['error', 'protocol_error', 'ok'], error: /MemoryError|more than 64 MiB|^$/ },
  },
  {
    name: 'prints 20,000 short lines',
    category: 'resources',
    backends: MONTY,
    code: 'for i in range(20_000):\n    print(i)',
    expect: { status: 'ok', check: (run) => expect(run.outcome?.stdout).toMatch(/19999\n$/) },
  },
  // protocol: values across the boundary
  {
    name: 'tool arguments nested 300 deep fail that call in the program',
    category: 'protocol',
    backends: MONTY,
    servers: ['shapes'],
    code: 'value = 1\nfor _ in range(300):\n    value = [value]\nawait mcp_shapes.quick(n=value)',
    // Monty's own limit on a call's arguments.
    expect: { status: 'error', error: /depth|deeper|Circular|ValueError|RecursionError/ },
  },
  {
    name: 'tool arguments that are not JSON fail that call as json.dumps would',
    category: 'protocol',
    backends: MONTY,
    servers: ['shapes'],
    code: 'try:\n    await mcp_shapes.quick(n={1, 2})\nexcept TypeError as error:\n    print(error)\nawait mcp_shapes.quick(n=float("nan"))',
    expect: {
      status: 'error',
      stdout: 'Object of type set is not JSON serializable\n',
      error: /^ValueError: Out of range float values/,
    },
  },
  {
    name: 'a 30 MB argument reaches the upstream or fails that call, nothing else',
    category: 'protocol',
    backends: MONTY,
    servers: ['shapes'],
    timeout: 60,
    code: 'print(len(str(await mcp_shapes.quick(n="x" * 30_000_000))))',
    expect: { status: ['ok', 'error'] },
  },
  {
    name: 'a tool result nested 1,000 deep, or past what Monty decodes (60 lists), fails that call; 40 pass',
    category: 'protocol',
    backends: MONTY,
    servers: ['shapes'],
    code: [
      'try:',
      '    await mcp_shapes.nested(depth=1000)',
      'except mcp.ToolError as error:',
      '    print("refused:", "nested deeper" in str(error))',
      'try:',
      '    await mcp_shapes.nested(depth=60)',
      'except mcp.ToolError as error:',
      '    print("refused:", "deeper than Monty takes" in str(error))',
      'value = await mcp_shapes.nested(depth=40)',
      'print(isinstance(value, list))',
    ].join('\n'),
    expect: { status: 'ok', stdout: /^refused: True\nrefused: True\n/ },
  },
  {
    name: 'an 8 MB result arrives whole, a 40 MB one fails that call only',
    category: 'protocol',
    backends: MONTY,
    servers: ['shapes', 'big'],
    timeout: 60,
    code: [
      'print(len(await mcp_shapes.blob(megabytes=8)))',
      'try:',
      '    await mcp_big.big()',
      'except mcp.ToolError as error:',
      '    print("too big")',
    ].join('\n'),
    expect: { status: 'ok', stdout: /^\d{7,}\ntoo big\n$/ },
  },
  // host operations
  {
    name: 'search_tool_docs with a query past its cap fails that call',
    category: 'host-ops',
    backends: MONTY,
    code: 'import mcp.runtime as rt\ntry:\n    await rt.search_tool_docs("q" * 5000)\nexcept mcp.ToolError as error:\n    print("refused")',
    expect: { status: 'ok', stdout: 'refused\n' },
  },
  {
    name: 'discovery of a server that does not exist, and a bad detail, are clear errors',
    category: 'host-ops',
    backends: MONTY,
    code: [
      'import mcp.runtime as rt',
      'try:',
      '    await rt.describe_server("nope")',
      'except mcp.ToolError as error:',
      '    print(str(error).startswith("Unknown MCP server"))',
      'await rt.query_tool_docs("shapes", detail="everything")',
    ].join('\n'),
    expect: { status: 'error', stdout: 'True\n', error: /^ValueError: detail must be/ },
  },
  {
    name: 'a leaky upstream never shows its secret to the program',
    category: 'upstream',
    backends: MONTY,
    servers: ['leaky'],
    code: [
      'for tool in [mcp_leaky.token_error, mcp_leaky.token_throw]:',
      '    try:',
      '        await tool()',
      '    except mcp.ToolError as error:',
      '        print(str(error)[:200])',
    ].join('\n'),
    expect: { status: 'ok' },
  },
  {
    name: '40 calls to a hanging tool at once (beyond 32 in flight) until the run times out',
    category: 'upstream',
    backends: MONTY,
    servers: ['hanging'],
    timeout: 3,
    code: 'import asyncio\nawait asyncio.gather(*[mcp_hanging.hang() for _ in range(40)])',
    expect: { status: ['timeout', 'error'] },
  },
  // faults from outside
  {
    name: 'the client cancels a run mid-way: the run ends, the next one is served',
    category: 'bridge',
    backends: MONTY,
    drive: async (context) => {
      const controller = new AbortController();
      const pending = context.run(
        { code: 'while True:\n    pass', timeout: 60 },
        { signal: controller.signal },
      );
      setTimeout(() => controller.abort(), 500);
      return pending;
    },
    expect: { status: 'rejected' },
  },
  {
    name: 'its worker is killed from outside mid-run: that run fails alone',
    category: 'bridge',
    backends: MONTY,
    drive: async (context) => {
      const { pending, pid } = await loopingWorker(context, 60);
      context.killSandbox(String(pid), 'SIGKILL');
      return pending;
    },
    expect: { status: 'killed', error: /killed|ended/ },
  },
  {
    name: 'its worker is stopped (SIGSTOP) from outside: the timeout still ends it',
    category: 'bridge',
    backends: MONTY,
    drive: async (context) => {
      const { pending, pid } = await loopingWorker(context, 4);
      context.killSandbox(String(pid), 'SIGSTOP');
      return pending;
    },
    expect: { status: 'timeout' },
  },
];
