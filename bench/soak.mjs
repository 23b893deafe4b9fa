// Issue 9, extended by issue 27: `npm run soak -- [--runs N] [--concurrency C]
// [--backend podman|embedded|monty|both|all] [--seed S] [--json] [--no-quiet-wait] [--heap-census]`.
// Drives the real bridge over stdio with a seeded mix of programs, each with its own token, and checks
// every outcome exactly: ok, error, timeout, memory bomb, tool calls, output flood, fire-and-forget
// calls, an upstream that exits mid-call, a hanging call, a sandbox killed from outside; saved values
// (saved, loaded, listed, deleted, partial saves abandoned), skills (saved, used, deleted, and a session
// holding a name a skill also has), named sessions (state carried, then reset, timed out or killed) and
// approval prompts answered by the soak's client (accepted, for the run, declined, never answered).
// Then it reports lost and mixed outputs, what the bridge holds for the soak when it settles (saved
// values, skills, sessions, open prompts, and whether the saved-value total is whole again), what it
// left behind (containers, processes, temp files, pending upstream calls; the warm pool after it
// shrinks back when quiet, unless --no-quiet-wait) and how its RSS and open fds moved between warm-up
// and the end. --heap-census also counts the bridge's live objects per constructor at both points,
// from heap snapshots (which perturb RSS, so that run does not judge it).
//
// `monty` runs the bridge with MCP_BRIDGE_RUNTIME=monty and the kinds that apply there: saved values,
// skills, sessions and fire-and-forget calls are full-Python features that tier refuses.
import { execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { OWNER_LABEL } from '../dist/sandbox/container/run-args.js';
import { probeMontyTier } from '../dist/sandbox/monty/monty-tier.js';
import { resolveStateDir } from '../dist/shared/state-dir.js';
import {
  BRIDGE_MAIN,
  EVERYTHING,
  IMAGE,
  openFdCount,
  percentile,
  processStartTime,
  rssMb,
  sleep,
} from './lib.mjs';
import {
  CALL_TIMEOUT_S,
  expectFields,
  KINDS,
  kindsFor,
  py,
  SAVE_MAX_BYTES,
  SAVE_TOTAL_BYTES,
  Script,
  StepFailure,
} from './soak-kinds.mjs';
import {
  ApprovalDesk,
  ExclusiveGate,
  KeyedTurns,
  SavedSkills,
  SavedValues,
  TOKEN_PATTERN,
} from './soak-state.mjs';

const run = promisify(execFile);

const SOAK_SERVER = fileURLToPath(new URL('../test/fixtures/soak-server.mjs', import.meta.url));

const BACKENDS = ['podman', 'embedded', 'monty'];
const BACKEND_CHOICES = {
  podman: ['podman'],
  embedded: ['embedded'],
  monty: ['monty'],
  both: ['podman', 'embedded'],
  all: BACKENDS,
};
const RUN_TIMEOUT_S = 60;
const MEMORY = '256m';
/**
 * The bridge's pool defaults, set explicitly so the checks know them: `min` sandboxes kept ready when
 * quiet, growing to `max` under a burst and halving back after a quiet minute. Monty keeps two fresh
 * workers, and each run's worker for its client's next run until it has been idle a minute: at most
 * one per run in flight (and the soak's own probe) above the two.
 */
const POOL = { podman: { min: 2, max: 16 }, embedded: { min: 1, max: 8 }, monty: { min: 2 } };
const poolOf = (backend, concurrency) =>
  backend === 'monty' ? { min: 2, max: 2 + concurrency + 1 } : POOL[backend];
const POOL_QUIET_TIMEOUT_MS = 5 * 60_000;
const POOL_QUIET_POLL_MS = 5000;
const STABLE_POLLS = 3;
const UPSTREAMS = ['everything', 'soak', 'crashy'];
/** The soak's policy: every call of `soak.approve` asks the user, whom the soak's client plays. */
const POLICY = '[servers.soak]\nask = ["approve"]\n';
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
/** How long the soak watches Monty workers' CPU time to find the one busy with a run. */
const BUSY_WINDOW_MS = 1000;
const MAX_RUNS = 99_999;
const HEAP_SNAPSHOT_TIMEOUT_MS = 60_000;
const GROWN_OBJECTS_MIN = 20;
const GROWN_OBJECTS_SHOWN = 12;
/** Uploads of the largest value that fill MCP_BRIDGE_SAVE_TOTAL_SIZE exactly (each with its 1 KiB charge). */
const FILL_UPLOADS = SAVE_TOTAL_BYTES / SAVE_MAX_BYTES;
const VALUE_OVERHEAD_BYTES = 1024;
/**
 * The RSS rule compares the median of the main phase's per-second samples over its second tenth with
 * that over its last tenth (see docs/operations.md, where the soak samples RSS). The first tenth is
 * left out: the pool and the bounded holders reach their steady state in it, and RSS there can still
 * be falling from the settle before it (by up to 100 MB in the first minute).
 */
const RSS_WINDOWS = { from: [0.1, 0.2], to: [0.9, 1] };
/** Fewer main-phase samples than this (a very short soak): the readings at rest are compared instead. */
const RSS_WINDOW_MIN_SAMPLES = 50;

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

/** The runs of the soak in order: `runs` draws from the weighted kinds of `backend`. */
export function planRuns({ runs, seed, backend }) {
  const random = prng(seed);
  const kinds = kindsFor(backend);
  const total = kinds.reduce((sum, [, , weight]) => sum + weight, 0);
  return Array.from({ length: runs }, (_, index) => {
    const pick = random() * total;
    let cumulative = 0;
    const [name, kind] =
      kinds.find(([, , weight]) => {
        cumulative += weight;
        return pick < cumulative;
      }) ?? kinds[0];
    const suffix = Math.floor(random() * 0x1000000)
      .toString(16)
      .padStart(6, '0');
    const token = `tk${String(index).padStart(5, '0')}${suffix}`;
    // Draws a scripted kind makes its choices from (which value, size, answer…): always three, so one
    // kind's choices never shift the next run's.
    const r = [random(), random(), random()];
    return { index, kind: name, token, r, ...(kind.program ? { args: kind.program(token, backend) } : {}) };
  });
}

/** Waits for the run's announcement, then kills its sandbox from outside (container, Deno or Monty worker). */
async function killWhenAnnounced(token, context, finished) {
  const file = join(context.announceDir, token);
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

/** CPU time (user + system, clock ticks) of a process and all its descendants, from /proc. */
function treeCpuTicks(pid) {
  let ticks = 0;
  const pending = [pid];
  while (pending.length > 0) {
    const next = pending.pop();
    try {
      const stat = readFileSync(`/proc/${next}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      continue;
    }
    pending.push(...childrenOf(next));
  }
  return ticks;
}

/** The innermost process under `pid` (bubblewrap's init, then the interpreter it started). */
function innermost(pid) {
  let current = pid;
  for (;;) {
    const [child] = childrenOf(current);
    if (child === undefined) return current;
    current = child;
  }
}

const isUpstreamCommand = (command) => command.includes(SOAK_SERVER) || command.includes(EVERYTHING);

/**
 * Kills the Monty worker of the one run in flight (a `kill` run on Monty has the bridge alone): the
 * worker whose CPU time grows while it spins, SIGKILLed at its innermost process, the interpreter.
 */
function killBusyMontyWorker(bridgePid) {
  return async () => {
    const workers = childrenOf(bridgePid).filter((pid) => !isUpstreamCommand(commandLine(pid).join(' ')));
    const before = new Map(workers.map((pid) => [pid, treeCpuTicks(pid)]));
    await sleep(BUSY_WINDOW_MS);
    const grown = workers
      .map((pid) => ({ pid, ticks: treeCpuTicks(pid) - (before.get(pid) ?? 0) }))
      .sort((a, b) => b.ticks - a.ticks);
    const [busy, next] = grown;
    if (!busy || busy.ticks < 2 || (next && next.ticks * 4 > busy.ticks)) {
      return {
        killed: false,
        reason: `no one busy Monty worker: CPU ticks ${grown.map((row) => `${row.pid} +${row.ticks}`).join(', ')}`,
      };
    }
    const target = innermost(busy.pid);
    process.kill(target, 'SIGKILL');
    return { killed: true, reason: `SIGKILL ${target} (worker ${busy.pid})` };
  };
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

/** What is in the bridge's own TMPDIR (the soak gives it one): after it exits, nothing may be. */
function tempEntriesOf(bridgeTmp) {
  try {
    return readdirSync(bridgeTmp).map((entry) => join(bridgeTmp, entry));
  } catch {
    return [];
  }
}

/**
 * Channel directories (a random hex name each) under the container backend's private directory
 * (`codemode-XXXXXX` in its TMPDIR): one per live container with a socket channel. Other entries
 * are not counted: its `owner` file, the runtime's copy, `hosts`, `resolv.conf`, and the `oom`
 * marker conmon leaves there (its cwd).
 */
function channelDirsOf(bridgeTmp) {
  return tempEntriesOf(bridgeTmp).flatMap((dir) => {
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
  /** Told of every request the bridge cancels, as it arrives (the SDK's client misses id 0). */
  oncancelled;
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
        if (message.method === 'notifications/cancelled') this.oncancelled?.(message.params?.requestId);
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

/**
 * Starts the bridge as a client does, with the soak's upstreams and policy, its own state directory
 * (skills; the embedded snapshot is the usual cache's: building it is not what is measured) and its
 * own TMPDIR (so everything it leaves there is found, whoever else runs bridges on this machine).
 */
async function startBridge({ backend, concurrency, dir, announceDir, heapCensus, desk }) {
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
  const policy = join(dir, 'policy.toml');
  writeFileSync(policy, POLICY);
  const home = join(dir, 'home');
  mkdirSync(home);
  const heapDir = join(dir, 'heap');
  mkdirSync(heapDir);
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir);
  const snapshots = join(resolveStateDir(process.env), 'embedded');
  mkdirSync(snapshots, { recursive: true });
  symlinkSync(snapshots, join(stateDir, 'embedded'));
  const bridgeTmp = join(dir, 'tmp');
  mkdirSync(bridgeTmp);
  const pool = poolOf(backend, concurrency);
  // SIGUSR2 makes Node write a heap snapshot (after a full GC) into heapDir; nothing else changes.
  const nodeFlags = heapCensus ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`] : [];
  const child = spawn(process.execPath, [...nodeFlags, BRIDGE_MAIN], {
    cwd: dir,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      ...getDefaultEnvironment(),
      HOME: home,
      TMPDIR: bridgeTmp,
      MCP_BRIDGE_STATE_DIR: stateDir,
      // Set, never `auto`: short programs would go to the Monty tier, and the soak names its sandbox.
      MCP_BRIDGE_RUNTIME: backend,
      MCP_BRIDGE_IMAGE: IMAGE,
      MCP_BRIDGE_CONFIG: config,
      MCP_BRIDGE_POLICY: policy,
      MCP_BRIDGE_MEMORY: MEMORY,
      MCP_BRIDGE_POOL_SIZE: String(pool.min),
      MCP_BRIDGE_POOL_MAX: String(pool.max),
      MCP_BRIDGE_TIMEOUT: String(RUN_TIMEOUT_S),
      MCP_BRIDGE_SAVE_MAX_SIZE: `${SAVE_MAX_BYTES / 1048576}m`,
      MCP_BRIDGE_SAVE_TOTAL_SIZE: `${SAVE_TOTAL_BYTES / 1048576}m`,
      // One session at most per run in flight.
      MCP_BRIDGE_MAX_SESSIONS: String(Math.max(8, concurrency)),
      // Every outcome is judged whole, so calls wait for their run's end: at the default yield point
      // (20 s) a run slowed by a loaded machine (once, a sandbox killed from outside whose kill landed
      // or was noticed late) returned a wait handle and counted as lost. Yielding has its own tests
      // (test/e2e/long-runs.test.ts).
      MCP_BRIDGE_YIELD_AFTER: '0',
      MCP_BRIDGE_CALL_TIMEOUT: String(CALL_TIMEOUT_S),
      // The RSS rule looks for leaks, so what the bridge holds on purpose stays small beside it: by
      // default it keeps up to 32 M characters of the flood runs' output for 15 minutes (a 2,000-run
      // Monty soak read that as +30%). The store still fills and evicts, only at a smaller size.
      MCP_BRIDGE_KEEP_OUTPUT_CHARS: '1000000',
      MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS: '2000000',
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
  // The soak's client answers approval prompts (form elicitation) as each approval run asks.
  const client = new Client(
    { name: 'codemode-soak', version: '0' },
    { capabilities: { elicitation: { form: {} } } },
  );
  client.setRequestHandler(ElicitRequestSchema, (request, extra) => desk.answer(request.params, extra));
  const transport = new ChildStdioTransport(child);
  transport.oncancelled = (requestId) => desk.withdrawn(requestId);
  await client.connect(transport);
  return { client, child, pid: child.pid, log, exited, heapDir, bridgeTmp };
}

/**
 * One run_python call: its result, its outcome, and why it is malformed (the call failed, no
 * structuredContent, isError disagreeing with the status) when it is.
 */
async function callRun(client, args, { signal } = {}) {
  try {
    const raw = await client.callTool({ name: 'run_python', arguments: args }, undefined, {
      timeout: CLIENT_REQUEST_TIMEOUT_MS,
      ...(signal ? { signal } : {}),
    });
    const outcome = raw.structuredContent;
    if (!outcome) return { args, raw, failure: `no structuredContent: ${py(raw).slice(0, 300)}` };
    if (Boolean(raw.isError) !== (outcome.status !== 'ok'))
      return { args, raw, outcome, failure: `isError ${raw.isError} with status ${outcome.status}` };
    return { args, raw, outcome };
  } catch (error) {
    return { args, failure: `the call failed: ${error.message}` };
  }
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
  const desk = new ApprovalDesk();
  const bridge = await startBridge({
    backend,
    concurrency: options.concurrency,
    dir,
    announceDir,
    heapCensus: options.heapCensus,
    desk,
  }).catch((error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  try {
    return await exercise({ ...options, startedAt, announceDir, plans, bridge, desk });
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
  desk,
}) {
  const pool = poolOf(backend, concurrency);
  const values = new SavedValues();
  const skills = new SavedSkills();
  /** The calls of `soak.approve` accepted so far: exactly the files the upstream wrote. */
  const approved = new Set();
  const context = {
    backend,
    announceDir,
    values,
    skills,
    desk,
    turns: new KeyedTurns(),
    call: (args, options) => callRun(bridge.client, args, options),
    killSandbox:
      backend === 'embedded'
        ? killWorker(bridge.pid)
        : backend === 'monty'
          ? killBusyMontyWorker(bridge.pid)
          : killContainer(bridge.pid),
    killWhenAnnounced: (token, finished) => killWhenAnnounced(token, context, finished),
    /** The `n` of each call of `soak.approve` the upstream received from the run with `token`. */
    approvedCalls: (token) => {
      const prefix = `approved-${token}-`;
      const received = readdirSync(announceDir)
        .filter((entry) => entry.startsWith(prefix))
        .map((entry) => entry.slice(prefix.length))
        .sort();
      for (const n of received) approved.add(`${prefix}${n}`);
      return received;
    },
  };
  const gate = new ExclusiveGate();

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

  /** A one-call kind: the call, with the fault from outside beside it, then its check. */
  const driveOne = async (kind, plan) => {
    const finished = { value: false };
    const injection = kind.inject ? context.killWhenAnnounced(plan.token, finished) : undefined;
    let call;
    try {
      call = await context.call(plan.args);
    } finally {
      finished.value = true;
    }
    const injected = await injection;
    return {
      calls: [call],
      failure: call.failure ?? kind.check(call.outcome, { t: plan.token, injected, backend }),
    };
  };

  /** A scripted kind: its calls, and the first step that went wrong. */
  const driveScript = async (kind, plan) => {
    const script = new Script(context);
    let failure;
    try {
      await kind.drive(plan, context, script);
    } catch (error) {
      failure = error instanceof StepFailure ? error.message : `the soak's script failed: ${error.stack}`;
    }
    return { calls: script.calls, failure };
  };

  const results = [];
  const runOne = async (plan) => {
    const kind = KINDS[plan.kind];
    const leave = await gate.enter(kind.exclusive?.(backend) ?? false);
    const runStarted = performance.now();
    let driven;
    try {
      const drive = () => (kind.drive ? driveScript(kind, plan) : driveOne(kind, plan));
      driven = await (kind.turn ? context.turns.run(kind.turn, drive) : drive());
    } finally {
      leave();
    }
    const ms = performance.now() - runStarted;
    const { calls, failure } = driven;
    const foreign = [
      ...new Set(calls.flatMap((call) => JSON.stringify(call.raw ?? {}).match(TOKEN_PATTERN) ?? [])),
    ].filter((token) => token !== plan.token);
    const last = calls.at(-1)?.outcome;
    const result = {
      index: plan.index,
      kind: plan.kind,
      token: plan.token,
      statuses: calls.map((call) => call.outcome?.status ?? 'none'),
      ms: Math.round(ms),
      ...(failure ? { lost: failure } : {}),
      ...(foreign.length > 0 ? { mixed: foreign } : {}),
      outcome: last
        ? { status: last.status, stdout: last.stdout.slice(0, 300), error: last.error?.slice(0, 300) }
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

  /**
   * What the bridge holds for the soak when it settles: the saved values and skills the soak's state
   * says, no session, no approval prompt open or stray, no call of `soak.approve` beyond those
   * accepted. Then the saved values are deleted and the total they count against must be whole:
   * uploads of the largest value fill it exactly and one more is refused, twice (the first run's
   * reservations were freed when it ended). Returns what is wrong.
   */
  const heldState = async () => {
    const problems = [];
    if (desk.open !== 0) problems.push(`${desk.open} approval prompts still open`);
    if (desk.strays.length > 0)
      problems.push(`${desk.strays.length} prompts for no approval run, the first: ${desk.strays[0]}`);
    const unapproved = readdirSync(announceDir).filter(
      (entry) => entry.startsWith('approved-') && !approved.has(entry),
    );
    if (unapproved.length > 0)
      problems.push(`calls of soak.approve nobody accepted: ${unapproved.slice(0, 5).join(', ')}`);
    if (backend === 'monty') return problems;
    const probe = await context.call({
      code: lines(
        'import json',
        'import mcp.runtime as rt',
        'values = await rt.list_saved()',
        'held = {',
        '    "values": sorted([v["name"], v["bytes"]] for v in values),',
        '    "skills": sorted([s["name"], s["version"]] for s in await rt.list_skills()),',
        '    "sessions": [s["name"] for s in await rt.list_sessions()],',
        '}',
        'print(json.dumps(held, separators=(",", ":")))',
        'for v in values:',
        '    await rt.delete_saved(v["name"])',
      ),
    });
    if (probe.failure || probe.outcome.status !== 'ok') {
      problems.push(`the probe of saved state failed: ${probe.failure ?? py(probe.outcome).slice(0, 300)}`);
      return problems;
    }
    const held = JSON.parse(probe.outcome.stdout);
    const expected = { values: values.listing(), skills: skills.listing(), sessions: [] };
    for (const [key, value] of Object.entries(expected)) {
      if (py(held[key]) !== py(value)) problems.push(`${key} held ${py(held[key])}, expected ${py(value)}`);
    }
    values.clear();
    const fill = lines(
      'import mcp',
      'import mcp.runtime as rt',
      'held = 0',
      'try:',
      `    for i in range(${FILL_UPLOADS}):`,
      `        await rt._ask("save_value", name="soak-fill-%d" % i, part=0, parts=2, size=${SAVE_MAX_BYTES - VALUE_OVERHEAD_BYTES}, data="")`,
      '        held += 1',
      '    await rt._ask("save_value", name="soak-fill-over", part=0, parts=2, size=0, data="")',
      '    print(held, "and one more")',
      'except mcp.ToolError as error:',
      '    print(held, error.code)',
    );
    for (const attempt of [1, 2]) {
      const filled = await context.call({ code: fill });
      const why =
        filled.failure ??
        expectFields(filled.outcome, { status: 'ok', stdout: `${FILL_UPLOADS} VALUE_TOO_LARGE\n` });
      if (why) problems.push(`the saved-value total is not whole (fill ${attempt}): ${why}`);
    }
    return problems;
  };

  /** After a phase: pending upstream calls, what is held, then the bridge at rest (pool refilled), sampled. */
  const settle = async () => {
    await sleep((CALL_TIMEOUT_S + 1) * 1000); // calls left behind have timed out by now
    let pendingHangs = Number.NaN;
    // Every upstream is touched, so both samples are taken with the same sessions open.
    const stats = await context.call({
      code: lines(
        'import json',
        'await mcp_everything.echo(message="settle")',
        'await mcp_crashy.pid()',
        'print(json.dumps(await mcp_soak.stats()))',
      ),
      servers: UPSTREAMS,
    });
    try {
      pendingHangs = JSON.parse(stats.outcome.stdout).pendingHangs;
    } catch {
      // reported as NaN
    }
    const held = await heldState();
    // At rest: the pool has stopped starting sandboxes (its size unchanged for a few seconds).
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    let previous;
    let stablePolls = 0;
    for (;;) {
      const rest = await atRest(pool.max);
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
      held,
      rest: await atRest(pool.max),
    };
  };

  /** After a quiet spell the pool shrinks back to its minimum; what it removed must be gone. */
  const quiet = async () => {
    const started = performance.now();
    const { min } = pool;
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

  /**
   * The bridge's sandboxes (engine clients, Deno or Monty workers: its children other than upstreams),
   * upstreams, containers and channel dirs; `excess` names what is over `limit` or unpaired.
   */
  const atRest = async (limit) => {
    const kids = childrenOf(bridge.pid).map((pid) => commandLine(pid).join(' '));
    const upstreams = kids.filter(isUpstreamCommand).length;
    const sandboxes = kids.length - upstreams;
    const containers = backend === 'podman' ? (await containersOf(bridge.pid)).length : 0;
    const channelDirs = channelDirsOf(bridge.bridgeTmp).length;
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
  const leftAtExit = await leftovers(backend, bridge, children);
  const left =
    leftAtExit.containers.length + leftAtExit.processes.length + leftAtExit.tempDirs.length > 0
      ? await sleep(LEFTOVER_GRACE_MS).then(() => leftovers(backend, bridge, children))
      : leftAtExit;

  const byKind = {};
  const kindMs = {};
  for (const result of results) {
    byKind[result.kind] ??= { runs: 0, calls: 0, statuses: {}, lost: 0, mixed: 0, example: result.outcome };
    const row = byKind[result.kind];
    row.runs++;
    row.calls += result.statuses.length;
    for (const status of result.statuses) row.statuses[status] = (row.statuses[status] ?? 0) + 1;
    if (result.lost) row.lost++;
    if (result.mixed) row.mixed++;
    kindMs[result.kind] ??= [];
    kindMs[result.kind].push(result.ms);
  }
  for (const [kind, ms] of Object.entries(kindMs)) {
    byKind[kind].p50Ms = percentile(ms, 50);
    byKind[kind].p95Ms = percentile(ms, 95);
  }
  const allMs = results.map((result) => result.ms);
  const problems = results.filter((result) => result.lost || result.mixed);
  const rssCompared = rssWindows(samples) ?? {
    from: afterWarmUp.rssMb,
    to: atEnd.rssMb,
    atRest: true,
    how: 'readings at rest (too few samples for windows)',
  };
  const rssGrowth = (rssCompared.to - rssCompared.from) / rssCompared.from;
  const leaks = {
    containers: left.containers,
    processes: left.processes,
    tempDirs: left.tempDirs,
    atRest: [...atEnd.rest.excess, ...(quietPool?.excess ?? [])],
    held: [
      ...afterWarmUp.held.map((problem) => `after warm-up: ${problem}`),
      ...atEnd.held.map((problem) => `at the end: ${problem}`),
    ],
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
    afterWarmUp.held.length +
    atEnd.held.length +
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
      afterWarmUpMb: round(rssCompared.from),
      endMb: round(rssCompared.to),
      growthPercent: round(rssGrowth * 100),
      judgedOn: rssCompared.how,
      atRestAfterWarmUpMb: round(afterWarmUp.rssMb),
      atRestEndMb: round(atEnd.rssMb),
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
    // A run's wall time: all its calls, and for a scripted kind any wait for its turn on a name.
    runMs: { p50: percentile(allMs, 50), p95: percentile(allMs, 95), max: Math.max(...allMs) },
    wallSeconds: round((performance.now() - startedAt) / 1000),
    shutdownMs,
    bridgeLog: {
      warn: bridge.log.warn,
      error: bridge.log.error,
      nodeWarnings: bridge.log.nodeWarnings,
      tail: bridge.log.tail,
    },
    // The first heap snapshot raises RSS for good, so a census run judges RSS only on windows of the
    // main phase (both after that snapshot), not on the readings at rest (one before it).
    rssJudged: !(heapCensus && rssCompared.atRest),
    passed:
      problems.length === 0 &&
      leakCount === 0 &&
      ((heapCensus && rssCompared.atRest) || rssGrowth <= RSS_GROWTH_LIMIT),
  };
}

/**
 * The medians of the main phase's RSS samples over the two windows the rule compares, or undefined
 * when there are too few samples. Single readings move with when V8 last collected and with what the
 * allocator has not yet given back after a burst (saved values filled to their bound at a settle left
 * RSS 100 MB over the main phase's band for a minute); a median over a tenth of the phase, taken under the same
 * mix as the other, does not.
 */
function rssWindows(samples) {
  if (samples.length < RSS_WINDOW_MIN_SAMPLES) return undefined;
  const median = ([from, to]) =>
    percentile(
      samples.slice(Math.floor(samples.length * from), Math.floor(samples.length * to)).map((s) => s.rssMb),
      50,
    );
  const size = Math.floor(samples.length * (RSS_WINDOWS.from[1] - RSS_WINDOWS.from[0]));
  return {
    from: median(RSS_WINDOWS.from),
    to: median(RSS_WINDOWS.to),
    how: `medians of the main phase's second and last tenths (${size} samples each, one a second)`,
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

async function leftovers(backend, bridge, children) {
  return {
    containers: backend === 'podman' ? await containersOf(bridge.pid) : [],
    processes: [
      ...[...children]
        .filter(([key]) => isSameProcessAlive(key))
        .map(([key, command]) => `${key.split(':')[0]} ${command}`),
      ...markedProcesses(bridge.pid)
        .filter(({ pid }) => ![...children.keys()].some((key) => key.startsWith(`${pid}:`)))
        .map(({ pid, command }) => `${pid} ${command}`),
    ],
    tempDirs: tempEntriesOf(bridge.bridgeTmp),
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

/** Whether the Monty tier can run here; the reason when not. */
async function montySkipReason() {
  const probe = await probeMontyTier();
  return probe.usable ? undefined : `the Monty tier cannot run here: ${probe.problem}`;
}

/**
 * Runs the soak on the chosen backends (`both`: podman and embedded; `all`: those and Monty). A
 * backend that cannot run here is reported as skipped with the reason when a group was asked for, and
 * fails the soak when it was named.
 */
export async function soak({
  runs = 2000,
  concurrency = 8,
  backend = 'all',
  seed = 1,
  quietWait = true,
  heapCensus = false,
  progress,
} = {}) {
  const backends = BACKEND_CHOICES[backend];
  const named = backends.length === 1;
  const reports = [];
  for (const name of backends) {
    const skipped =
      name === 'podman'
        ? await containerSkipReason()
        : name === 'monty'
          ? await montySkipReason()
          : undefined;
    if (skipped) {
      reports.push({ backend: name, skipped, passed: !named });
      continue;
    }
    reports.push(
      await soakBackend({ backend: name, runs, concurrency, seed, quietWait, heapCensus, progress }),
    );
  }
  return reports;
}

const USAGE =
  'usage: soak [--runs N] [--concurrency C] [--backend podman|embedded|monty|both|all] [--seed S] [--json] [--no-quiet-wait] [--heap-census]';

export function parseSoakArgs(argv) {
  const options = {
    runs: 2000,
    concurrency: 8,
    backend: 'all',
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
    else if (flag === '--backend' && Object.hasOwn(BACKEND_CHOICES, value ?? '')) {
      options.backend = value;
      i++;
    } else if (['--runs', '--concurrency', '--seed'].includes(flag) && /^\d+$/.test(value ?? '')) {
      options[flag.slice(2)] = Number(value);
      i++;
    } else {
      throw new Error(`unknown or invalid argument ${flag}${value ? ` ${value}` : ''}; ${USAGE}`);
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
  const kindWidth = Math.max(4, ...Object.keys(report.byKind).map((kind) => kind.length)) + 1;
  const out = [];
  out.push(
    `\n## Soak, ${report.backend}: ${report.runs} runs, concurrency ${report.concurrency}, seed ${report.seed} (warm-up ${report.warmUpRuns})`,
  );
  out.push(
    [
      'kind'.padEnd(kindWidth),
      'runs'.padStart(5),
      'calls'.padStart(6),
      ...statuses.map((status) => status.padStart(width(status))),
      'lost'.padStart(6),
      'mixed'.padStart(6),
      'p50 ms'.padStart(8),
      'p95 ms'.padStart(8),
    ].join(''),
  );
  for (const [kind, row] of Object.entries(report.byKind).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(
      [
        kind.padEnd(kindWidth),
        String(row.runs).padStart(5),
        String(row.calls).padStart(6),
        ...statuses.map((status) => String(row.statuses[status] ?? 0).padStart(width(status))),
        String(row.lost).padStart(6),
        String(row.mixed).padStart(6),
        String(row.p50Ms).padStart(8),
        String(row.p95Ms).padStart(8),
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
    `  held for the soak when settled: ${leaks.held.length === 0 ? (report.backend === 'monty' ? 'no prompt open or stray, no unapproved call' : 'the saved values and skills expected, no session, no prompt open or stray, no unapproved call, the saved-value total whole') : leaks.held.join('; ')}`,
  );
  out.push(
    `  after exit (${leaks.bridgeExit}, ${report.shutdownMs} ms after stdin closed): containers ${leaks.containers.length}, processes ${leaks.processes.length} of ${report.childProcessesSeen} children seen, entries in its TMPDIR ${leaks.tempDirs.length}`,
  );
  out.push(
    `RSS after warm-up ${report.rss.afterWarmUpMb} MB → end ${report.rss.endMb} MB (${report.rss.growthPercent >= 0 ? '+' : ''}${report.rss.growthPercent}%, limit +${RSS_GROWTH_LIMIT * 100}%; ${report.rss.judgedOn}), max while running ${report.rss.maxDuringMb} MB; at rest ${report.rss.atRestAfterWarmUpMb} → ${report.rss.atRestEndMb} MB`,
  );
  if (report.heap) {
    const grown = report.heap.grownObjects.map((row) => `${row.name} ${row.afterWarmUp} → ${row.end}`);
    out.push(
      `JS heap after GC ${report.heap.afterWarmUpMb} MB → ${report.heap.endMb} MB; live objects grown by ${GROWN_OBJECTS_MIN}+: ${grown.length > 0 ? grown.join(', ') : 'none'}${report.rssJudged ? '' : ' (RSS not judged: the census raises it, and the soak was too short for windows)'}`,
    );
  }
  out.push(
    `fds after warm-up ${report.fds.afterWarmUp} → end ${report.fds.end} (${report.fds.growth >= 0 ? '+' : ''}${report.fds.growth})`,
  );
  out.push(
    `${report.runsPerSecond} runs/s, a run p50 ${report.runMs.p50} ms, p95 ${report.runMs.p95} ms, max ${report.runMs.max} ms; wall ${report.wallSeconds} s; bridge log: ${report.bridgeLog.warn} warnings, ${report.bridgeLog.error} errors, ${report.bridgeLog.nodeWarnings.length} Node warnings`,
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
