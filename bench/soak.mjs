// Issue 9: `npm run soak -- [--runs N] [--concurrency C] [--backend podman|embedded|both] [--seed S] [--json]
// [--no-quiet-wait] [--heap-census]`.
// Drives the real bridge over stdio with a seeded mix of programs (ok, error, timeout, memory bomb,
// tool calls, output flood, fire-and-forget calls, an upstream that exits mid-call, a hanging call, a
// sandbox killed from outside), each with its own token, and checks every outcome exactly. Then it
// reports lost and mixed outputs, what the bridge left behind (containers, processes, temp dirs,
// pending upstream calls; the warm pool after it shrinks back when quiet, unless --no-quiet-wait) and
// how its RSS and open fds moved between warm-up and the end. --heap-census also counts the bridge's
// live objects per constructor at both points, from heap snapshots (which perturb RSS, so that run
// does not judge it).
import { execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { OWNER_LABEL } from '../dist/sandbox/container/run-args.js';
import { resolveStateDir } from '../dist/shared/state-dir.js';
import { BRIDGE_MAIN, IMAGE, openFdCount, percentile, processStartTime, rssMb, sleep } from './lib.mjs';

const run = promisify(execFile);

const SOAK_SERVER = fileURLToPath(new URL('../test/fixtures/soak-server.mjs', import.meta.url));
const EVERYTHING = fileURLToPath(
  new URL('../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);

const CALL_TIMEOUT_S = 2;
const RUN_TIMEOUT_S = 60;
const SHORT_TIMEOUT_S = 2;
const MEMORY = '256m';
// The bridge's pool defaults, set explicitly so the checks know them: `min` sandboxes kept ready when
// quiet, growing to `max` under a burst and halving back after a quiet minute.
const POOL = { podman: { min: 2, max: 16 }, embedded: { min: 1, max: 8 } };
const POOL_QUIET_TIMEOUT_MS = 5 * 60_000;
const POOL_QUIET_POLL_MS = 5000;
const STABLE_POLLS = 3;
const UPSTREAMS = ['everything', 'soak', 'crashy'];
const CLIENT_REQUEST_TIMEOUT_MS = 180_000;
const WARM_UP_FRACTION = 0.1;
const MONITOR_INTERVAL_MS = 250;
const SAMPLE_INTERVAL_MS = 1000;
const SETTLE_TIMEOUT_MS = 30_000;
const SETTLE_SAMPLES = 5;
const SETTLE_SAMPLE_INTERVAL_MS = 400;
const EXIT_WAIT_MS = 60_000;
const LEFTOVER_GRACE_MS = 3000;
const RSS_GROWTH_LIMIT = 0.1;
const ANNOUNCE_POLL_MS = 50;
const FLOOD_CHUNKS = 50;
const FLOOD_CHUNK_CHARS = 100_000;
const TOKEN_PATTERN = /tk\d{5}[0-9a-f]{6}/g;
const MAX_RUNS = 99_999;
const HEAP_SNAPSHOT_TIMEOUT_MS = 60_000;
const GROWN_OBJECTS_MIN = 20;
const GROWN_OBJECTS_SHOWN = 12;

/** The soak's own temp dirs, removed if it is interrupted (its bridge exits when its stdin closes). */
const workDirs = new Set();

/** Uniform floats in [0, 1) from a 32-bit seed (mulberry32): the same seed gives the same soak. */
function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const lines = (...parts) => parts.join('\n');
const py = (value) => JSON.stringify(value);
const isPrefixOf = (text, full) => full.startsWith(text);

/**
 * The run kinds. `program(token, backend)` gives run_python's arguments; `check(outcome, run)` returns
 * why the outcome is wrong, or undefined. `serial` kinds run one at a time (they share one upstream
 * process that each of them kills); `inject` runs beside the call (the fault from outside).
 */
const KINDS = {
  ok: {
    weight: 20,
    program: (t) => ({ code: `print(${py(t)})` }),
    check: (o, { t }) => expectFields(o, { status: 'ok', stdout: `${t}\n` }),
  },
  error: {
    weight: 12,
    program: (t) => ({ code: lines(`print(${py(t)})`, `raise ValueError(${py(t)})`) }),
    check: (o, { t }) =>
      expectFields(o, { status: 'error', stdout: `${t}\n`, error: `ValueError: ${t}` }) ??
      (o.traceback?.includes(`ValueError: ${t}`) ? undefined : 'the traceback does not name the error'),
  },
  timeout: {
    weight: 6,
    program: (t) => ({ code: lines(`print(${py(t)})`, 'while True:', '    pass'), timeout: SHORT_TIMEOUT_S }),
    check: (o, { t }) =>
      expectFields(o, { status: 'timeout' }) ??
      (isPrefixOf(o.stdout, `${t}\n`) ? undefined : `stdout ${py(o.stdout.slice(0, 80))}`) ??
      (o.error?.startsWith(`Timed out after ${SHORT_TIMEOUT_S} s`) ? undefined : `error ${py(o.error)}`),
  },
  memory: {
    weight: 5,
    program: (t) => ({
      code: lines(`print(${py(t)})`, 'x = []', 'while True:', '    x.append(bytearray(10**7))'),
    }),
    check: (o, { t }) => {
      if (o.status === 'error') {
        return (
          expectFields(o, { stdout: `${t}\n` }) ??
          (o.error?.startsWith('MemoryError') ? undefined : `error ${py(o.error)}`)
        );
      }
      return (
        expectFields(o, { status: 'killed' }) ??
        (isPrefixOf(o.stdout, `${t}\n`) ? undefined : `stdout ${py(o.stdout.slice(0, 80))}`)
      );
    },
  },
  tools: {
    weight: 18,
    program: (t) => ({
      code: lines(
        'import asyncio, json',
        'results = await asyncio.gather(',
        `    *[mcp_soak.echo(text=f"${t}-{i}") for i in range(6)],`,
        `    *[mcp_everything.echo(message=f"${t}-e{i}") for i in range(3)],`,
        ')',
        'print(json.dumps(results))',
      ),
      servers: ['soak', 'everything'],
    }),
    check: (o, { t }) => {
      const expected = [
        ...Array.from({ length: 6 }, (_, i) => `${t}-${i}`),
        ...Array.from({ length: 3 }, (_, i) => `Echo: ${t}-e${i}`),
      ];
      return expectFields(o, {
        status: 'ok',
        stdout: `${JSON.stringify(expected).replaceAll('","', '", "')}\n`,
      });
    },
  },
  flood: {
    weight: 7,
    program: (t) => ({
      code: lines(
        'import sys',
        `print(${py(t)})`,
        `for _ in range(${FLOOD_CHUNKS}):`,
        `    sys.stdout.write("y" * ${FLOOD_CHUNK_CHARS})`,
        'print()',
        `print(${py(t)})`,
      ),
    }),
    check: (o, { t }) =>
      expectFields(o, { status: 'ok' }) ??
      (o.truncated?.stdout > 0 ? undefined : 'stdout was not truncated') ??
      (o.stdout.startsWith(`${t}\nyyy`) && o.stdout.endsWith(`yyy\n${t}\n`)
        ? undefined
        : `stdout head/tail ${py(o.stdout.slice(0, 40))}…${py(o.stdout.slice(-40))}`) ??
      (o.stdout.length < FLOOD_CHUNKS * FLOOD_CHUNK_CHARS ? undefined : 'stdout is not capped'),
  },
  forget: {
    weight: 8,
    program: (t) => ({
      code: lines(
        'import asyncio',
        'for i in range(5):',
        `    asyncio.ensure_future(mcp_soak.echo(text=f"${t}-{i}"))`,
        'asyncio.ensure_future(mcp_soak.hang())',
        'await asyncio.sleep(0)',
        `print(${py(t)})`,
      ),
      servers: ['soak'],
    }),
    check: (o, { t }) => expectFields(o, { status: 'ok', stdout: `${t}\n` }),
  },
  crash: {
    weight: 6,
    serial: true,
    program: (t) => ({
      code: lines(
        'import mcp',
        'before = await mcp_crashy.pid()',
        'try:',
        '    await mcp_crashy.crash()',
        `    print(${py(t)}, "answered")`,
        'except mcp.ToolError as error:',
        `    print(${py(t)}, error.code, error)`,
        'after = await mcp_crashy.pid()',
        `print(${py(t)}, before != after, await mcp_crashy.echo(text=${py(`${t}-after`)}))`,
      ),
      servers: ['crashy'],
    }),
    check: (o, { t }) => {
      const [first = '', second = '', ...rest] = o.stdout.split('\n');
      return (
        expectFields(o, { status: 'ok' }) ??
        (first.startsWith(`${t} UPSTREAM_UNAVAILABLE MCP server 'crashy' closed the connection during crash`)
          ? undefined
          : `the crash was reported as ${py(first)}`) ??
        (second === `${t} True ${t}-after` && rest.join('') === ''
          ? undefined
          : `after the crash: ${py(second)}`)
      );
    },
  },
  hang: {
    weight: 8,
    program: (t) => ({
      code: lines(
        'import mcp',
        'try:',
        '    await mcp_soak.hang()',
        `    print(${py(t)}, "answered")`,
        'except mcp.ToolError as error:',
        `    print(${py(t)}, error.code, error)`,
        `print(await mcp_soak.echo(text=${py(`${t}-after`)}))`,
      ),
      servers: ['soak'],
    }),
    check: (o, { t }) =>
      expectFields(o, {
        status: 'ok',
        stdout: `${t} UPSTREAM_TIMEOUT MCP server 'soak' did not answer hang within ${CALL_TIMEOUT_S} s\n${t}-after\n`,
      }),
  },
  kill: {
    weight: 10,
    program: (t, backend) => ({
      code: lines(
        'import asyncio',
        backend === 'embedded' ? 'import js' : 'import socket',
        `print(${py(t)})`,
        `await mcp_soak.announce(token=${py(t)}, host=${backend === 'embedded' ? 'str(js.Deno.pid)' : 'socket.gethostname()'})`,
        'while True:',
        '    await asyncio.sleep(0.05)',
      ),
      servers: ['soak'],
    }),
    inject: killWhenAnnounced,
    check: (o, { t, injected }) =>
      (injected?.killed ? undefined : `not killed from outside: ${injected?.reason}`) ??
      expectFields(o, { status: 'killed' }) ??
      (isPrefixOf(o.stdout, `${t}\n`) ? undefined : `stdout ${py(o.stdout.slice(0, 80))}`) ??
      (o.error ? undefined : 'no error message'),
  },
};

/** The first field of `expected` that `outcome` does not match, described; undefined when all match. */
function expectFields(outcome, expected) {
  for (const [key, value] of Object.entries(expected)) {
    if (outcome[key] !== value)
      return `${key} ${py(outcome[key])?.slice(0, 200)}, expected ${py(value).slice(0, 200)}`;
  }
  return undefined;
}

/** The kinds of the soak in order: `runs` draws from the weighted kinds for `backend`. */
export function planRuns({ runs, seed, backend }) {
  const random = prng(seed);
  const kinds = Object.entries(KINDS);
  const total = kinds.reduce((sum, [, kind]) => sum + kind.weight, 0);
  return Array.from({ length: runs }, (_, index) => {
    const pick = random() * total;
    let cumulative = 0;
    const [name] =
      kinds.find(([, kind]) => {
        cumulative += kind.weight;
        return pick < cumulative;
      }) ?? kinds[0];
    const suffix = Math.floor(random() * 0x1000000)
      .toString(16)
      .padStart(6, '0');
    const token = `tk${String(index).padStart(5, '0')}${suffix}`;
    return { index, kind: name, token, args: KINDS[name].program(token, backend) };
  });
}

/** Waits for the run's announcement, then kills its sandbox from outside (the container, or the Deno worker). */
async function killWhenAnnounced(plan, context, finished) {
  const file = join(context.announceDir, plan.token);
  while (!finished.value) {
    if (!existsSync(file)) {
      await sleep(ANNOUNCE_POLL_MS);
      continue;
    }
    const host = readFileSync(file, 'utf8').trim();
    try {
      return await context.killSandbox(host);
    } catch (error) {
      return { killed: false, reason: `killing ${host} failed: ${error.message}` };
    }
  }
  return { killed: false, reason: 'the run ended before it announced its sandbox' };
}

function killContainer(bridgePid) {
  return async (host) => {
    if (!/^[0-9a-f]{12,64}$/.test(host)) return { killed: false, reason: `not a container id: ${host}` };
    const { stdout } = await run('podman', [
      'ps',
      '--filter',
      `label=${OWNER_LABEL}=${bridgePid}`,
      '--filter',
      `id=${host}`,
      '--format',
      '{{.Names}}',
    ]);
    const [name] = stdout.split('\n').filter(Boolean);
    if (!name) return { killed: false, reason: `container ${host} is not this bridge's` };
    await run('podman', ['kill', name]);
    return { killed: true, reason: `podman kill ${name}` };
  };
}

function killWorker(bridgePid) {
  return async (host) => {
    const pid = Number(host);
    const args = Number.isInteger(pid) && pid > 0 ? commandLine(pid) : [];
    if (!args.includes(`--owner=${bridgePid}`))
      return { killed: false, reason: `${host} is not this bridge's worker` };
    process.kill(pid, 'SIGKILL');
    return { killed: true, reason: `SIGKILL ${pid}` };
  };
}

/** Argument vector of a process, from /proc; empty when it is gone. */
function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Children of a process (every thread's), from /proc. */
function childrenOf(pid) {
  const children = [];
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return children;
  }
  for (const task of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) children.push(...text.split(/\s+/).map(Number));
    } catch {
      // the thread ended meanwhile
    }
  }
  return children;
}

/** A process identity that survives pid reuse (pid_max may be 32768 here): pid plus start time. */
function identity(pid) {
  const start = processStartTime(pid);
  return start === undefined ? undefined : `${pid}:${start}`;
}

function isSameProcessAlive(key) {
  const [pid] = key.split(':');
  return identity(Number(pid)) === key;
}

/** Processes whose command line carries this bridge's marks: its engine clients and conmons, its workers. */
function markedProcesses(bridgePid) {
  const marks = [`--owner=${bridgePid}`, `${OWNER_LABEL}=${bridgePid}`];
  const prefix = `codemode-${bridgePid}-`;
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const args = commandLine(Number(entry));
    if (args.some((arg) => marks.includes(arg) || arg.startsWith(prefix) || arg.includes(`/${prefix}`))) {
      found.push({ pid: Number(entry), command: args.slice(0, 3).join(' ') });
    }
  }
  return found;
}

/**
 * The bridge's private directories under TMPDIR (src/sandbox/container/socket-channel.ts): named at
 * random, so found by the `owner` file that holds the bridge's pid. Directories of older bridges
 * still carry the pid in their name.
 */
function tempDirsOf(bridgePid) {
  return readdirSync(tmpdir())
    .filter((entry) => {
      if (entry.startsWith(`codemode-${bridgePid}-`)) return true;
      if (!/^codemode-\w{6}$/.test(entry)) return false;
      try {
        return readFileSync(join(tmpdir(), entry, 'owner'), 'utf8').trim() === String(bridgePid);
      } catch {
        return false;
      }
    })
    .map((entry) => join(tmpdir(), entry));
}

/**
 * Channel directories (a random hex name each) in the bridge's private directory: one per live
 * container with a socket channel. Other entries are not counted: the `owner` file, the runtime's
 * copy, `hosts`, `resolv.conf`, and the `oom` marker conmon leaves there (its cwd).
 */
function channelDirsOf(bridgePid) {
  return tempDirsOf(bridgePid).flatMap((dir) => {
    try {
      return readdirSync(dir, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && /^[0-9a-f]{12}$/.test(entry.name))
        .map((entry) => join(dir, entry.name));
    } catch {
      return [];
    }
  });
}

async function containersOf(bridgePid) {
  const { stdout } = await run('podman', [
    'ps',
    '-a',
    '--filter',
    `label=${OWNER_LABEL}=${bridgePid}`,
    '--format',
    '{{.Names}}',
  ]);
  return stdout.split('\n').filter(Boolean);
}

/** An MCP transport over a child we spawned, so closing it ends stdin and nothing more (no SIGKILL). */
class ChildStdioTransport {
  #child;
  #buffer = new ReadBuffer();
  onmessage;
  onerror;
  onclose;

  constructor(child) {
    this.#child = child;
  }

  async start() {
    this.#child.stdout.on('data', (chunk) => {
      this.#buffer.append(chunk);
      for (;;) {
        let message;
        try {
          message = this.#buffer.readMessage();
        } catch (error) {
          this.onerror?.(error);
          continue;
        }
        if (!message) break;
        this.onmessage?.(message);
      }
    });
    this.#child.once('close', () => this.onclose?.());
    this.#child.stdin.on('error', (error) => this.onerror?.(error));
  }

  send(message) {
    return new Promise((resolve) => {
      if (this.#child.stdin.write(serializeMessage(message))) resolve();
      else this.#child.stdin.once('drain', resolve);
    });
  }

  async close() {
    this.#child.stdin.end();
  }
}

async function startBridge({ backend, dir, announceDir, heapCensus }) {
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        everything: { command: process.execPath, args: [EVERYTHING] },
        soak: { command: process.execPath, args: [SOAK_SERVER, announceDir] },
        crashy: { command: process.execPath, args: [SOAK_SERVER] },
      },
    }),
  );
  const home = join(dir, 'home');
  mkdirSync(home);
  const heapDir = join(dir, 'heap');
  mkdirSync(heapDir);
  // SIGUSR2 makes Node write a heap snapshot (after a full GC) into heapDir; nothing else changes.
  const nodeFlags = heapCensus ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, BRIDGE_MAIN], {
    cwd: dir,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...getDefaultEnvironment(),
      HOME: home,
      // The embedded snapshot is reused from the usual cache; building it is not what is measured.
      MCP_BRIDGE_STATE_DIR: resolveStateDir(process.env),
      MCP_BRIDGE_RUNTIME: backend,
      MCP_BRIDGE_IMAGE: IMAGE,
      MCP_BRIDGE_CONFIG: config,
      MCP_BRIDGE_MEMORY: MEMORY,
      MCP_BRIDGE_POOL_SIZE: String(POOL[backend].min),
      MCP_BRIDGE_POOL_MAX: String(POOL[backend].max),
      MCP_BRIDGE_TIMEOUT: String(RUN_TIMEOUT_S),
      // Every outcome is judged whole, so calls wait for their run's end: at the default yield point
      // (20 s) a run slowed by a loaded machine (once, a sandbox killed from outside whose kill landed
      // or was noticed late) returned a wait handle and counted as lost. Yielding has its own tests
      // (test/e2e/long-runs.test.ts).
      MCP_BRIDGE_YIELD_AFTER: '0',
      MCP_BRIDGE_CALL_TIMEOUT: String(CALL_TIMEOUT_S),
      MCP_BRIDGE_LOG_LEVEL: 'warn',
    },
  });
  const log = { warn: 0, error: 0, nodeWarnings: [], tail: [] };
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (/ WARN {2}/.test(line)) log.warn++;
      if (/ ERROR /.test(line)) log.error++;
      // Node's own process warnings (`(node:123) MaxListenersExceededWarning: …`) are findings too.
      const nodeWarning = /^\(node:\d+\) (\w+Warning: .*)/.exec(line)?.[1];
      if (nodeWarning && log.nodeWarnings.length < 20) log.nodeWarnings.push(nodeWarning.slice(0, 300));
      log.tail.push(line.slice(0, 500));
      if (log.tail.length > 40) log.tail.shift();
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const client = new Client({ name: 'codemode-soak', version: '0' });
  await client.connect(new ChildStdioTransport(child));
  return { client, child, pid: child.pid, log, exited, heapDir };
}

async function callRun(client, args) {
  const result = await client.callTool({ name: 'run_python', arguments: args }, undefined, {
    timeout: CLIENT_REQUEST_TIMEOUT_MS,
  });
  return result;
}

/** Soaks one backend; resolves with its report. */
async function soakBackend(options) {
  const { backend, runs, seed } = options;
  const startedAt = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'codemode-soak-'));
  workDirs.add(dir);
  const announceDir = join(dir, 'announce');
  mkdirSync(announceDir);
  const plans = planRuns({ runs, seed, backend });
  const bridge = await startBridge({ backend, dir, announceDir, heapCensus: options.heapCensus }).catch(
    (error) => {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    },
  );
  try {
    return await exercise({ ...options, startedAt, announceDir, plans, bridge });
  } finally {
    // Only reached early when the soak itself failed: the bridge must not outlive it.
    if (bridge.child.exitCode === null && bridge.child.signalCode === null) {
      bridge.child.stdin.end();
      const exited = await Promise.race([bridge.exited, sleep(EXIT_WAIT_MS).then(() => undefined)]);
      if (!exited) bridge.child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
    workDirs.delete(dir);
  }
}

/** The soak proper, against a started bridge: warm-up, settle, main phase, settle, shutdown, leak checks. */
async function exercise({
  backend,
  runs,
  concurrency,
  seed,
  progress,
  quietWait,
  heapCensus,
  startedAt,
  announceDir,
  plans,
  bridge,
}) {
  const context = {
    announceDir,
    killSandbox: backend === 'embedded' ? killWorker(bridge.pid) : killContainer(bridge.pid),
  };

  const children = new Map(); // identity → command
  const samples = [];
  let phase = 'warm-up';
  let lastSampleAt = 0;
  const monitor = setInterval(() => {
    for (const pid of childrenOf(bridge.pid)) {
      const key = identity(pid);
      if (key && !children.has(key)) children.set(key, commandLine(pid).slice(0, 3).join(' '));
    }
    const now = performance.now();
    if (phase === 'main' && now - lastSampleAt >= SAMPLE_INTERVAL_MS) {
      lastSampleAt = now;
      samples.push({
        s: Math.round((now - startedAt) / 1000),
        rssMb: rssMb(bridge.pid),
        fds: openFdCount(bridge.pid),
      });
    }
  }, MONITOR_INTERVAL_MS);

  const results = [];
  let serialTail = Promise.resolve();
  const runOne = async (plan) => {
    const kind = KINDS[plan.kind];
    let release = () => {};
    if (kind.serial) {
      const previous = serialTail;
      serialTail = new Promise((resolve) => {
        release = resolve;
      });
      await previous;
    }
    const finished = { value: false };
    const injection = kind.inject?.(plan, context, finished);
    const runStarted = performance.now();
    let outcome;
    let raw;
    let failure;
    try {
      raw = await callRun(bridge.client, plan.args);
      outcome = raw.structuredContent;
    } catch (error) {
      failure = `the call failed: ${error.message}`;
    } finally {
      finished.value = true;
      release();
    }
    const injected = await injection;
    const ms = performance.now() - runStarted;
    if (!failure && !outcome) failure = `no structuredContent: ${py(raw).slice(0, 300)}`;
    if (!failure && Boolean(raw.isError) !== (outcome.status !== 'ok'))
      failure = `isError ${raw.isError} with status ${outcome.status}`;
    if (!failure) failure = kind.check(outcome, { t: plan.token, injected });
    const foreign = [...new Set(JSON.stringify(raw ?? {}).match(TOKEN_PATTERN) ?? [])].filter(
      (token) => token !== plan.token,
    );
    const result = {
      index: plan.index,
      kind: plan.kind,
      token: plan.token,
      status: outcome?.status ?? 'none',
      ms: Math.round(ms),
      ...(failure ? { lost: failure } : {}),
      ...(foreign.length > 0 ? { mixed: foreign } : {}),
      outcome: outcome
        ? {
            status: outcome.status,
            stdout: outcome.stdout.slice(0, 300),
            error: outcome.error?.slice(0, 300),
          }
        : undefined,
    };
    results.push(result);
    return result;
  };

  const runPhase = async (phasePlans) => {
    const phaseStarted = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < phasePlans.length) {
        const plan = phasePlans[next++];
        await runOne(plan);
        progress?.(backend, results);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, phasePlans.length) }, worker));
    return performance.now() - phaseStarted;
  };

  /** After a phase: pending upstream calls, then the bridge at rest (pool refilled), sampled. */
  const settle = async () => {
    await sleep((CALL_TIMEOUT_S + 1) * 1000); // calls left behind have timed out by now
    let pendingHangs = Number.NaN;
    try {
      // Every upstream is touched, so both samples are taken with the same sessions open.
      const stats = await callRun(bridge.client, {
        code: lines(
          'import json',
          'await mcp_everything.echo(message="settle")',
          'await mcp_crashy.pid()',
          'print(json.dumps(await mcp_soak.stats()))',
        ),
        servers: UPSTREAMS,
      });
      pendingHangs = JSON.parse(stats.structuredContent.stdout).pendingHangs;
    } catch {
      // reported as NaN
    }
    // At rest: the pool has stopped starting sandboxes (its size unchanged for a few seconds).
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    let previous;
    let stablePolls = 0;
    for (;;) {
      const rest = await atRest(POOL[backend].max);
      const shape = `${rest.sandboxes}/${rest.containers}/${rest.channelDirs}/${rest.upstreams}`;
      stablePolls = shape === previous ? stablePolls + 1 : 0;
      previous = shape;
      if ((rest.excess.length === 0 && stablePolls >= STABLE_POLLS) || performance.now() > deadline) break;
      await sleep(1000);
    }
    const rss = [];
    const fds = [];
    for (let i = 0; i < SETTLE_SAMPLES; i++) {
      rss.push(rssMb(bridge.pid));
      fds.push(openFdCount(bridge.pid));
      await sleep(SETTLE_SAMPLE_INTERVAL_MS);
    }
    // After the RSS samples: writing a snapshot leaves the bridge's RSS ~20-30 MB higher for good.
    const heap = heapCensus ? await takeHeapCensus(bridge) : undefined;
    return {
      rssMb: percentile(rss, 50),
      fds: percentile(fds, 50),
      heap,
      pendingHangs,
      rest: await atRest(POOL[backend].max),
    };
  };

  /** After a quiet spell the pool shrinks back to its minimum; what it removed must be gone. */
  const quiet = async () => {
    const started = performance.now();
    const { min } = POOL[backend];
    for (;;) {
      const rest = await atRest(min);
      const seconds = Math.round((performance.now() - started) / 1000);
      if (rest.excess.length === 0) return { seconds, ...rest };
      if (performance.now() - started > POOL_QUIET_TIMEOUT_MS) {
        const excess = [
          `not back to the pool's minimum ${seconds} s after the last run: ${rest.excess.join('; ')}`,
        ];
        return { seconds, ...rest, excess };
      }
      await sleep(POOL_QUIET_POLL_MS);
    }
  };

  /** The bridge's sandboxes, upstreams, containers and channel dirs; `excess` names what is over `limit` or unpaired. */
  const atRest = async (limit) => {
    const kids = childrenOf(bridge.pid).map((pid) => commandLine(pid).join(' '));
    const isUpstream = (command) => command.includes(SOAK_SERVER) || command.includes(EVERYTHING);
    const upstreams = kids.filter(isUpstream).length;
    const sandboxes = kids.length - upstreams;
    const containers = backend === 'podman' ? (await containersOf(bridge.pid)).length : 0;
    const channelDirs = channelDirsOf(bridge.pid).length;
    // Engine clients of containers with a socket channel (none under gVisor, whose channel is stdio).
    const withChannel = kids.filter((command) => command.includes(' --channel ')).length;
    const excess = [];
    if (sandboxes > limit) excess.push(`${sandboxes} sandbox processes (at most ${limit})`);
    if (upstreams > UPSTREAMS.length)
      excess.push(`${upstreams} upstream processes (${UPSTREAMS.length} configured)`);
    if (containers > limit) excess.push(`${containers} containers (at most ${limit})`);
    if (channelDirs > limit) excess.push(`${channelDirs} channel directories (at most ${limit})`);
    // Each container has its engine client (a child of the bridge), and one with a socket channel
    // its channel directory.
    if (backend === 'podman' && containers !== sandboxes)
      excess.push(`${containers} containers for ${sandboxes} engine clients`);
    if (backend === 'podman' && channelDirs !== withChannel)
      excess.push(`${channelDirs} channel directories for ${withChannel} containers with a socket channel`);
    return { sandboxes, upstreams, containers, channelDirs, excess };
  };

  const warmUpCount = Math.max(1, Math.ceil(runs * WARM_UP_FRACTION));
  let warmUpMs;
  let mainMs;
  let afterWarmUp;
  let atEnd;
  let quietPool;
  try {
    warmUpMs = await runPhase(plans.slice(0, warmUpCount));
    afterWarmUp = await settle();
    phase = 'main';
    mainMs = await runPhase(plans.slice(warmUpCount));
    phase = 'end';
    atEnd = await settle();
    if (quietWait) quietPool = await quiet();
  } finally {
    clearInterval(monitor);
  }

  // Shutdown as a client does it: close stdin and wait. Everything the bridge owns must go with it.
  const closingAt = performance.now();
  await bridge.client.close();
  const exit = await Promise.race([bridge.exited, sleep(EXIT_WAIT_MS).then(() => undefined)]);
  const shutdownMs = Math.round(performance.now() - closingAt);
  if (!exit) bridge.child.kill('SIGKILL');
  const leftAtExit = await leftovers(backend, bridge.pid, children);
  const left =
    leftAtExit.containers.length + leftAtExit.processes.length + leftAtExit.tempDirs.length > 0
      ? await sleep(LEFTOVER_GRACE_MS).then(() => leftovers(backend, bridge.pid, children))
      : leftAtExit;

  const byKind = {};
  for (const result of results) {
    byKind[result.kind] ??= { runs: 0, statuses: {}, lost: 0, mixed: 0, example: result.outcome };
    const row = byKind[result.kind];
    row.runs++;
    row.statuses[result.status] = (row.statuses[result.status] ?? 0) + 1;
    if (result.lost) row.lost++;
    if (result.mixed) row.mixed++;
  }
  const problems = results.filter((result) => result.lost || result.mixed);
  const rssGrowth = (atEnd.rssMb - afterWarmUp.rssMb) / afterWarmUp.rssMb;
  const leaks = {
    containers: left.containers,
    processes: left.processes,
    tempDirs: left.tempDirs,
    atRest: [...atEnd.rest.excess, ...(quietPool?.excess ?? [])],
    warmAtEnd: { sandboxes: atEnd.rest.sandboxes, containers: atEnd.rest.containers },
    quietPool: quietPool
      ? { seconds: quietPool.seconds, sandboxes: quietPool.sandboxes, containers: quietPool.containers }
      : 'not waited for (--no-quiet-wait)',
    pendingUpstreamCalls: atEnd.pendingHangs,
    bridgeExit: exit
      ? `${exit.signal ?? exit.code}`
      : `still running ${EXIT_WAIT_MS / 1000} s after stdin closed`,
    leftAtExitBeforeGrace: {
      containers: leftAtExit.containers.length,
      processes: leftAtExit.processes.length,
      tempDirs: leftAtExit.tempDirs.length,
    },
  };
  const leakCount =
    left.containers.length +
    left.processes.length +
    left.tempDirs.length +
    atEnd.rest.excess.length +
    (quietPool?.excess.length ?? 0) +
    (atEnd.pendingHangs === 0 ? 0 : 1) +
    (exit?.code === 0 ? 0 : 1);
  return {
    backend,
    runs,
    concurrency,
    seed,
    warmUpRuns: warmUpCount,
    byKind,
    lost: results.filter((result) => result.lost).length,
    mixed: results.filter((result) => result.mixed).length,
    problems,
    leaked: leakCount,
    leaks,
    childProcessesSeen: children.size,
    rss: {
      afterWarmUpMb: round(afterWarmUp.rssMb),
      endMb: round(atEnd.rssMb),
      growthPercent: round(rssGrowth * 100),
      maxDuringMb: round(Math.max(...samples.map((sample) => sample.rssMb), atEnd.rssMb)),
    },
    fds: { afterWarmUp: afterWarmUp.fds, end: atEnd.fds, growth: atEnd.fds - afterWarmUp.fds },
    heap: heapCensus
      ? {
          afterWarmUpMb: afterWarmUp.heap ? round(afterWarmUp.heap.heapMb) : undefined,
          endMb: atEnd.heap ? round(atEnd.heap.heapMb) : undefined,
          grownObjects: grownObjects(afterWarmUp.heap, atEnd.heap),
        }
      : undefined,
    samples,
    runsPerSecond: round(runs / ((warmUpMs + mainMs) / 1000)),
    wallSeconds: round((performance.now() - startedAt) / 1000),
    shutdownMs,
    bridgeLog: {
      warn: bridge.log.warn,
      error: bridge.log.error,
      nodeWarnings: bridge.log.nodeWarnings,
      tail: bridge.log.tail,
    },
    // The first heap snapshot raises RSS for good, so a census run cannot judge RSS growth.
    rssJudged: !heapCensus,
    passed: problems.length === 0 && leakCount === 0 && (heapCensus || rssGrowth <= RSS_GROWTH_LIMIT),
  };
}

/**
 * Live objects per constructor and the heap's size, from a heap snapshot of the bridge. V8 collects
 * before it writes one, so unlike RSS these do not depend on when it last did: a class whose count
 * grows from warm-up to the end is kept alive by something.
 */
async function takeHeapCensus(bridge) {
  const before = new Set(readdirSync(bridge.heapDir));
  process.kill(bridge.pid, 'SIGUSR2');
  const deadline = performance.now() + HEAP_SNAPSHOT_TIMEOUT_MS;
  let lastSize = -1;
  while (performance.now() < deadline) {
    await sleep(250);
    const name = readdirSync(bridge.heapDir).find(
      (entry) => entry.endsWith('.heapsnapshot') && !before.has(entry),
    );
    if (!name) continue;
    const path = join(bridge.heapDir, name);
    const size = statSync(path).size;
    if (size !== lastSize) {
      lastSize = size; // still being written
      continue;
    }
    let snapshot;
    try {
      snapshot = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    rmSync(path, { force: true });
    return summarizeHeap(snapshot);
  }
  return undefined;
}

function summarizeHeap(snapshot) {
  const { node_fields: fields, node_types: nodeTypes } = snapshot.snapshot.meta;
  const [types] = nodeTypes;
  const { nodes, strings } = snapshot;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const objects = {};
  let bytes = 0;
  for (let i = 0; i < nodes.length; i += width) {
    bytes += nodes[i + sizeAt];
    if (types[nodes[i + typeAt]] !== 'object') continue;
    const name = strings[nodes[i + nameAt]];
    objects[name] = (objects[name] ?? 0) + 1;
  }
  return { heapMb: bytes / 1024 / 1024, objects };
}

/** Constructors with more live objects at the end than after warm-up, most grown first. */
function grownObjects(afterWarmUp, atEnd) {
  if (!afterWarmUp || !atEnd) return [];
  return Object.entries(atEnd.objects)
    .map(([name, end]) => ({ name, afterWarmUp: afterWarmUp.objects[name] ?? 0, end }))
    .filter((row) => row.end - row.afterWarmUp >= GROWN_OBJECTS_MIN)
    .sort((a, b) => b.end - b.afterWarmUp - (a.end - a.afterWarmUp))
    .slice(0, GROWN_OBJECTS_SHOWN);
}

async function leftovers(backend, bridgePid, children) {
  return {
    containers: backend === 'podman' ? await containersOf(bridgePid) : [],
    processes: [
      ...[...children]
        .filter(([key]) => isSameProcessAlive(key))
        .map(([key, command]) => `${key.split(':')[0]} ${command}`),
      ...markedProcesses(bridgePid)
        .filter(({ pid }) => ![...children.keys()].some((key) => key.startsWith(`${pid}:`)))
        .map(({ pid, command }) => `${pid} ${command}`),
    ],
    tempDirs: tempDirsOf(bridgePid),
  };
}

const round = (value) => Math.round(value * 10) / 10;

/** Whether podman and the image are usable; the reason when not. */
async function containerSkipReason() {
  try {
    await run('podman', ['info'], { timeout: 20_000 });
  } catch {
    return 'podman is not usable here';
  }
  try {
    await run('podman', ['image', 'inspect', IMAGE], { timeout: 20_000 });
  } catch {
    return `image ${IMAGE} is missing (build it with scripts/test-image.sh)`;
  }
  return undefined;
}

/**
 * Runs the soak on the chosen backends. A backend that cannot run here is reported as skipped with
 * the reason when `both` was asked for, and fails the soak when it was named.
 */
export async function soak({
  runs = 2000,
  concurrency = 8,
  backend = 'both',
  seed = 1,
  quietWait = true,
  heapCensus = false,
  progress,
} = {}) {
  const backends = backend === 'both' ? ['podman', 'embedded'] : [backend];
  const reports = [];
  for (const name of backends) {
    const skipped = name === 'podman' ? await containerSkipReason() : undefined;
    if (skipped) {
      reports.push({ backend: name, skipped, passed: backend === 'both' });
      continue;
    }
    reports.push(
      await soakBackend({ backend: name, runs, concurrency, seed, quietWait, heapCensus, progress }),
    );
  }
  return reports;
}

export function parseSoakArgs(argv) {
  const options = {
    runs: 2000,
    concurrency: 8,
    backend: 'both',
    seed: 1,
    json: false,
    quietWait: true,
    heapCensus: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--json') options.json = true;
    else if (flag === '--no-quiet-wait') options.quietWait = false;
    else if (flag === '--heap-census') options.heapCensus = true;
    else if (flag === '--backend' && ['podman', 'embedded', 'both'].includes(value)) {
      options.backend = value;
      i++;
    } else if (['--runs', '--concurrency', '--seed'].includes(flag) && /^\d+$/.test(value ?? '')) {
      options[flag.slice(2)] = Number(value);
      i++;
    } else {
      throw new Error(
        `unknown or invalid argument ${flag}${value ? ` ${value}` : ''}; usage: soak [--runs N] [--concurrency C] [--backend podman|embedded|both] [--seed S] [--json] [--no-quiet-wait] [--heap-census]`,
      );
    }
  }
  if (options.runs < 1 || options.concurrency < 1)
    throw new Error('--runs and --concurrency must be at least 1');
  // Tokens carry the run's index in five digits.
  if (options.runs > MAX_RUNS) throw new Error(`--runs is at most ${MAX_RUNS}`);
  return options;
}

export function formatReport(report) {
  if (report.skipped) return `\n## Soak, ${report.backend}: skipped (${report.skipped})\n`;
  const statuses = ['ok', 'error', 'timeout', 'killed', 'cancelled', 'protocol_error', 'none'];
  const width = (status) => Math.max(status.length, 6) + 2;
  const out = [];
  out.push(
    `\n## Soak, ${report.backend}: ${report.runs} runs, concurrency ${report.concurrency}, seed ${report.seed} (warm-up ${report.warmUpRuns})`,
  );
  out.push(
    [
      'kind'.padEnd(8),
      'runs'.padStart(5),
      ...statuses.map((status) => status.padStart(width(status))),
      'lost'.padStart(6),
      'mixed'.padStart(6),
    ].join(''),
  );
  for (const [kind, row] of Object.entries(report.byKind).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(
      [
        kind.padEnd(8),
        String(row.runs).padStart(5),
        ...statuses.map((status) => String(row.statuses[status] ?? 0).padStart(width(status))),
        String(row.lost).padStart(6),
        String(row.mixed).padStart(6),
      ].join(''),
    );
  }
  const { leaks } = report;
  out.push(`lost ${report.lost}   mixed ${report.mixed}   leaked ${report.leaked}`);
  const quiet =
    typeof leaks.quietPool === 'string'
      ? leaks.quietPool
      : `${leaks.quietPool.sandboxes} sandboxes after ${leaks.quietPool.seconds} s quiet`;
  out.push(
    `  at rest: ${leaks.warmAtEnd.sandboxes} sandboxes warm, then ${quiet}; ${leaks.atRest.length === 0 ? 'nothing unpaired or over the pool' : leaks.atRest.join(', ')}; pending upstream calls ${leaks.pendingUpstreamCalls}`,
  );
  out.push(
    `  after exit (${leaks.bridgeExit}, ${report.shutdownMs} ms after stdin closed): containers ${leaks.containers.length}, processes ${leaks.processes.length} of ${report.childProcessesSeen} children seen, temp dirs ${leaks.tempDirs.length}`,
  );
  out.push(
    `RSS after warm-up ${report.rss.afterWarmUpMb} MB → end ${report.rss.endMb} MB (${report.rss.growthPercent >= 0 ? '+' : ''}${report.rss.growthPercent}%, limit +${RSS_GROWTH_LIMIT * 100}%), max while running ${report.rss.maxDuringMb} MB`,
  );
  if (report.heap) {
    const grown = report.heap.grownObjects.map((row) => `${row.name} ${row.afterWarmUp} → ${row.end}`);
    out.push(
      `JS heap after GC ${report.heap.afterWarmUpMb} MB → ${report.heap.endMb} MB; live objects grown by ${GROWN_OBJECTS_MIN}+: ${grown.length > 0 ? grown.join(', ') : 'none'} (RSS not judged: the census raises it)`,
    );
  }
  out.push(
    `fds after warm-up ${report.fds.afterWarmUp} → end ${report.fds.end} (${report.fds.growth >= 0 ? '+' : ''}${report.fds.growth})`,
  );
  out.push(
    `${report.runsPerSecond} runs/s, wall ${report.wallSeconds} s; bridge log: ${report.bridgeLog.warn} warnings, ${report.bridgeLog.error} errors, ${report.bridgeLog.nodeWarnings.length} Node warnings`,
  );
  for (const warning of report.bridgeLog.nodeWarnings) out.push(`  node: ${warning}`);
  for (const problem of report.problems.slice(0, 20)) {
    out.push(
      `  ✗ #${problem.index} ${problem.kind} ${problem.token}: ${problem.lost ?? ''}${problem.mixed ? ` mixed with ${problem.mixed.join(', ')}` : ''}`,
    );
  }
  if (report.problems.length > 20)
    out.push(`  … ${report.problems.length - 20} more (--json lists them all)`);
  for (const leak of [...leaks.containers, ...leaks.processes, ...leaks.tempDirs])
    out.push(`  leaked: ${leak}`);
  out.push(report.passed ? 'PASS' : 'FAIL');
  return out.join('\n');
}

async function main() {
  let options;
  try {
    options = parseSoakArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error.message);
    process.exit(2);
  }
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const marks = new Map();
  const progress = (backend, results) => {
    const step = Math.max(1, Math.round(options.runs / 10));
    if (results.length % step !== 0 || marks.get(backend) === results.length) return;
    marks.set(backend, results.length);
    const lost = results.filter((result) => result.lost).length;
    const mixed = results.filter((result) => result.mixed).length;
    console.error(`[soak ${backend}] ${results.length}/${options.runs} runs, lost ${lost}, mixed ${mixed}`);
  };
  const reports = await soak({ ...options, progress });
  if (options.json) process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
  else for (const report of reports) console.log(formatReport(report));
  process.exit(reports.every((report) => report.passed) ? 0 : 1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
