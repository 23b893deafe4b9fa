// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in the config file are meant.
/**
 * The hostile-program suite (issue 9): one long-lived bridge per backend runs every case of
 * hostile/cases.ts, one after the other, and after EVERY case the harness checks, on that bridge:
 * 1. the run ended with the status (and message) the case expects;
 * 2. the case's sandbox is gone — the program reports which sandbox ran it (its container's
 *    hostname, or its embedded worker's pid) and the harness waits for that container's `remove`
 *    event (and its host processes) or that worker's exit;
 * 3. the bridge answers the next run (`print("alive")`);
 * 4. once the warm pool is full again (exactly POOL_SIZE sandboxes of this bridge exist, nothing
 *    else), its open fds and RSS are within a tolerance of the baseline taken after warm-up.
 * The bridge runs with an audit log and a policy whose rules concern only the `trust` server (the
 * policy cases, hostile/trust-policy.ts), so every other case meets the gate but no rule.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunStatus } from '../../src/engine/types.js';
import { checkSubset } from '../../src/sandbox/monty/subset.js';
import { type RunningBridge, type RunResult, startBridge } from '../helpers/bridge.js';
import {
  containerSupport,
  eventually,
  gvisorSupport,
  isAlive,
  processesOfContainers,
} from '../helpers/environment.js';
import {
  ContainerWatch,
  containerClientsOf,
  embeddedWorkersOf,
  openFdCount,
  rssBytes,
  typescriptSandboxesOf,
} from '../helpers/sandbox-watch.js';
import { createTestHome, standardServers } from '../helpers/upstreams.js';
import { HOSTILE_CASES } from './hostile/cases.js';
import {
  type Backend,
  type CaseContext,
  type CaseRun,
  type Expectation,
  type HostileCase,
  type RunArgs,
  SANDBOX_MARKER,
} from './hostile/kit.js';
import { montyWorkersOf } from './hostile/monty.js';
import { TYPESCRIPT_CASES, type TypeScriptCase } from './hostile/typescript.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** Warm sandboxes the bridge keeps; every check waits until exactly this many exist again. */
// Two, so the case and the harness's next run each find one ready, and both refill in parallel.
const POOL_SIZE: Record<Backend, number> = { runc: 2, runsc: 2, embedded: 2, monty: 2 };
/**
 * Monty workers a quiet bridge may keep: the ready ones, and those of its one client waiting for its
 * next run (MCP_BRIDGE_MAX_CONCURRENT_RUNS of them at most). Workers are reused between runs, so no
 * case leaves "its" sandbox; a leak shows as workers beyond this.
 */
const MONTY_QUIET_WORKERS = POOL_SIZE.monty + 2;
/**
 * Open fds the bridge may hold above its baseline at a quiescent point. Each sandbox holds 4 (three
 * pipes and its frame socket) and each upstream session 3, so one leaked sandbox per case exceeds it
 * within two cases, while a sandbox or `rm` client that is just starting or ending stays under it.
 */
const FD_TOLERANCE = 8;
/**
 * RSS the bridge may gain over its baseline. It idles at ~65 MB. Single cases legitimately make it
 * hold tens of MB for a moment (an 8 MB frame, a 32 MiB upstream message, up to 64 MiB of replies a
 * program does not read), which V8 and malloc may keep mapped for a while: twelve identical floods of
 * 5,000 notifications left it anywhere between 135 and 165 MB, and a baseline taken at a low point
 * read 129 MB against 196 MB after one flood; a whole runc suite from a baseline of 130–132 MB has
 * peaked at 225 and 238 MB. 128 MB is above that swing, and a leak of 1 MB per case — small next to
 * what these cases push through — still exceeds it within the suite (125+ cases).
 */
const RSS_TOLERANCE_BYTES = 128 * 1024 * 1024;
const DEFAULT_RUN_TIMEOUT_S = 20;
const SECRET = 'sk-hostile-5e1f0c9a77d3';
const SANDBOX_LINE = new RegExp(`^${SANDBOX_MARKER}sandbox (\\S+)\\n`);

function skipReasonOf(backend: Backend): string | undefined {
  if (backend === 'embedded' || backend === 'monty') return undefined;
  if (backend === 'runc') return containerSupport().skipReason;
  return gvisorSupport().skipReason;
}

/** Everything one backend's bridge and its checks use. */
interface Suite {
  bridge: RunningBridge;
  watch: ContainerWatch | undefined;
  context: CaseContext;
  baseline: { fds: number; rss: number };
  peaks: { fds: number; rss: number };
  close(): Promise<void>;
}

/** A one-line description of a run, for assertion messages. */
function describeRun(run: CaseRun): string {
  if (run.rejection) return `rejected: ${run.rejection.message}`;
  const outcome = run.outcome;
  if (!outcome) return `no outcome: ${run.result?.text.slice(0, 500)}`;
  return JSON.stringify({
    status: outcome.status,
    error: outcome.error?.slice(0, 500),
    stdout: outcome.stdout.slice(0, 1500),
    stderr: outcome.stderr.slice(0, 500),
    sandbox: outcome.sandbox,
  });
}

/** What the bridge's open fds point at, summarised (for a failure message). */
function describeFds(pid: number): string {
  const kinds = new Map<string, number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = 'gone';
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`)
        .replace(/\[\d+\]$/, '')
        .replace(/^\/.*/, 'file');
    } catch {}
    kinds.set(target, (kinds.get(target) ?? 0) + 1);
  }
  return JSON.stringify(Object.fromEntries(kinds));
}

function hostAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return undefined;
}

async function listen(server: Server | HttpServer, ...args: unknown[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    (server.listen as (...a: unknown[]) => void)(...args, () => resolve());
  });
}

async function startSuite(backend: Backend): Promise<Suite> {
  const root = mkdtempSync(join(tmpdir(), `codemode-hostile-${backend}-`));
  const home = join(root, 'home');
  const stateDir = join(root, 'state');
  const announceDir = join(root, 'announce');
  const work = join(root, 'work');
  for (const dir of [home, stateDir, announceDir, work]) mkdirSync(dir, { recursive: true });

  // Things on the host a sandbox must not reach: a TCP listener on loopback (and on the host's own
  // address), an abstract Unix socket (per network namespace) and a Unix socket file.
  let connections = 0;
  const count = () => {
    connections++;
  };
  const tcp = createHttpServer((_request, response) => {
    connections++;
    response.end('reachable');
  });
  tcp.on('connection', count);
  await listen(tcp, 0, '127.0.0.1');
  const hostPort = (tcp.address() as { port: number }).port;
  const external = hostAddress();
  const externalServer = createServer(count);
  if (external) await listen(externalServer, hostPort, external).catch(() => undefined);
  const abstractSocket = `codemode-hostile-${process.pid}-${backend}`;
  const abstractServer = createServer(count);
  await listen(abstractServer, `\0${abstractSocket}`);
  const hostSocket = join(root, 'host.sock');
  const secretFile = join(root, 'secret.txt');
  const stallFile = join(root, 'stall');
  writeFileSync(secretFile, SECRET);
  const fileSocketServer = createServer(count);
  await listen(fileSocketServer, hostSocket);

  const config = join(root, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      mcpServers: {
        shapes: { command: process.execPath, args: [fixture('shapes-server.mjs')] },
        hanging: { command: process.execPath, args: [fixture('hanging-server.mjs')] },
        leaky: {
          command: process.execPath,
          args: [fixture('leaky-server.mjs')],
          env: { LEAKY_TOKEN: '${SOME_SECRET}' },
        },
        big: { command: process.execPath, args: [fixture('big-result-server.mjs')] },
        soak: { command: process.execPath, args: [fixture('soak-server.mjs'), announceDir] },
        noisy: { command: process.execPath, args: [fixture('noisy-server.mjs')] },
        failing: { command: process.execPath, args: [fixture('failing-tools-server.mjs')] },
        ghost: { command: '/nonexistent/codemode-ghost-server', args: ['--token', '${SOME_SECRET}'] },
        stall: { command: process.execPath, args: [fixture('stall-server.mjs'), stallFile] },
        trust: { command: process.execPath, args: [fixture('trust-server.mjs')] },
      },
    }),
  );
  // The policy cases' rules (hostile/trust-policy.ts) name the `trust` server only: no other case changes.
  const policy = join(root, 'policy.toml');
  writeFileSync(
    policy,
    [
      '[servers.trust]',
      'deny = ["delete-file"]',
      '',
      '[tokenize]',
      'detect = ["email"]',
      'from = ["trust"]',
      'restore_to = ["trust.send"]',
      '',
    ].join('\n'),
  );
  const auditLog = join(root, 'audit.jsonl');

  const container = backend !== 'embedded' && backend !== 'monty';
  const watch = container ? ContainerWatch.start(containerSupport()) : undefined;
  const bridge = await startBridge(
    {
      ...(container
        ? { MCP_BRIDGE_RUNTIME: containerSupport().engine ?? 'podman', MCP_BRIDGE_OCI_RUNTIME: backend }
        : { MCP_BRIDGE_RUNTIME: backend }),
      MCP_BRIDGE_POOL_SIZE: String(POOL_SIZE[backend]),
      MCP_BRIDGE_MEMORY: container ? '128m' : '256m',
      MCP_BRIDGE_PIDS: '64',
      MCP_BRIDGE_TMPFS_SIZE: '16m',
      MCP_BRIDGE_WORKSPACE_SIZE: '16m',
      // Low, so hanging calls fail fast; not lower, so a big result or a flood still passes on a busy machine.
      MCP_BRIDGE_CALL_TIMEOUT: '5',
      MCP_BRIDGE_TIMEOUT: String(DEFAULT_RUN_TIMEOUT_S),
      MCP_BRIDGE_MAX_CONCURRENT_RUNS: '2',
      // As small as the issue 27 report had it: partial saves once grew the bridge 1.4 GB past it.
      MCP_BRIDGE_SAVE_TOTAL_SIZE: '16m',
      // The RSS check compares every case with one baseline, so what the bridge holds on purpose must
      // stay small beside its tolerance: by default it keeps up to 32 M characters of the flood cases'
      // output for 15 minutes, which a CI runsc suite read as a 128 MB "leak" by its 100th case.
      MCP_BRIDGE_KEEP_OUTPUT_CHARS: '1000000',
      MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS: '2000000',
      MCP_BRIDGE_CONFIG: config,
      MCP_BRIDGE_POLICY: policy,
      MCP_BRIDGE_AUDIT_LOG: auditLog,
      MCP_BRIDGE_STATE_DIR: stateDir,
      HOME: home,
      SOME_SECRET: SECRET,
      SECRET_TOKEN: SECRET,
    },
    { cwd: work },
  );

  const context: CaseContext = {
    backend,
    container,
    gvisor: backend === 'runsc',
    secret: SECRET,
    poolSize: POOL_SIZE[backend],
    bridgePid: bridge.pid,
    hostPort,
    hostAddress: external,
    abstractSocket,
    hostSocket,
    hostConnections: () => connections,
    hostPaths: [REPO, root, home, work],
    secretFile,
    stateDir,
    auditLog,
    runtimeEntry: join(REPO, 'runtime/python/entry.py'),
    bridge,
    run: (args, options) => runCase(backend, bridge, args, options),
    announced: async (token) => {
      const file = join(announceDir, token);
      return (await eventually(() => existsSync(file), 60_000, 50)) ? readFileSync(file, 'utf8') : undefined;
    },
    killSandbox: (sandbox, signal) => {
      if (container) {
        const { engine } = containerSupport();
        execFileSync(engine as string, ['kill', '--signal', signal ?? 'KILL', sandbox], { stdio: 'ignore' });
      } else {
        process.kill(Number(sandbox), signal ?? 'SIGKILL');
      }
    },
    engine: (args) => execFileSync(containerSupport().engine as string, args, { encoding: 'utf8' }),
    containerClientOf: (sandbox) => {
      const name = watch?.find(sandbox)?.name;
      return containerClientsOf(bridge.pid).find((client) => client.name === name)?.pid;
    },
    skillFiles: () => {
      const dir = join(stateDir, 'skills');
      return existsSync(dir) ? readdirSync(dir) : [];
    },
    sha256: (path) => createHash('sha256').update(readFileSync(path)).digest('hex'),
    setStall: (stalled) => {
      if (stalled) writeFileSync(stallFile, '');
      else rmSync(stallFile, { force: true });
    },
  };

  const close = async () => {
    await bridge.close();
    if (watch) {
      // Nothing the cases did may leave a container once the bridge is gone.
      expect(await watch.until(() => watch.live(bridge.pid).length === 0, 60_000)).toBe(true);
      watch.close();
    } else if (backend === 'monty') {
      expect(await eventually(() => montyWorkersOf(bridge.pid).length === 0, 30_000)).toBe(true);
    } else {
      expect(await eventually(() => embeddedWorkersOf(bridge.pid).length === 0, 30_000)).toBe(true);
    }
    for (const server of [tcp, externalServer, abstractServer, fileSocketServer]) server.close();
    rmSync(root, { recursive: true, force: true });
  };

  const suite: Suite = {
    bridge,
    watch,
    context,
    baseline: { fds: 0, rss: 0 },
    peaks: { fds: 0, rss: 0 },
    close,
  };
  try {
    await warmUp(suite, backend);
    // Containers mount a copy of the runtime from the bridge's private directory: check that one.
    if (container) context.runtimeEntry = mountedRuntimeEntry(bridge.pid) ?? context.runtimeEntry;
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return suite;
}

/** The entry point containers of the bridge `pid` mount: in its private directory (its `owner` file). */
function mountedRuntimeEntry(pid: number): string | undefined {
  for (const entry of readdirSync(tmpdir())) {
    const owner = join(tmpdir(), entry, 'owner');
    if (/^codemode-\w{6}$/.test(entry) && existsSync(owner) && readFileSync(owner, 'utf8') === String(pid)) {
      return join(tmpdir(), entry, 'runtime/entry.py');
    }
  }
  return undefined;
}

/**
 * Brings the bridge to its working size before the baseline: the first sandbox (embedded: once its
 * snapshot exists), every upstream session the cases use, and once each kind of bulk traffic the
 * cases make it carry (a big tool result, a notification flood, an output flood). V8 keeps the heap
 * such traffic grows to for a while (measured: a flood of 20,000 notifications ~60 MB once, no more on
 * repeats), so a baseline taken before it would read that plateau as growth.
 */
async function warmUp(suite: Suite, backend: Backend): Promise<void> {
  const { bridge, context } = suite;
  // The marker must never show up in the embedded snapshot (a case looks for it there).
  const first = await bridge.runPython({ code: 'print("hostile-warm-up")', timeout: 120 });
  expect(first.text).toBe('hostile-warm-up');
  if (backend === 'monty') {
    // The same traffic as below, in Monty's subset (no sys.stdout.write, no flood that needs it).
    const warm = await bridge.runPython({
      servers: ['shapes', 'hanging', 'leaky', 'big', 'soak', 'noisy', 'stall'],
      code: [
        'print(await mcp_shapes.quick(n=1), await mcp_hanging.ok(), await mcp_big.pid() > 0, await mcp_stall.ok())',
        'print(await mcp_soak.pid() > 0, await mcp_noisy.echo(text="x"), len(await mcp_shapes.blob(megabytes=8)))',
        'print(await mcp_noisy.notify_flood(count=5000), await mcp_noisy.stderr_flood(megabytes=4))',
        'for _ in range(20):',
        '    print("y" * 1_000_000)',
      ].join('\n'),
      timeout: 120,
    });
    expect(warm.structured.status, warm.text).toBe('ok');
    await waitQuiescent(suite);
    takeBaseline(suite, bridge.pid);
    return;
  }
  if (backend === 'embedded') {
    const snapshots = join(context.stateDir, 'embedded');
    const built = () =>
      existsSync(snapshots) && readdirSync(snapshots).some((name) => name.endsWith('.snap'));
    expect(await eventually(built, 120_000)).toBe(true);
  }
  const everyPath = () =>
    bridge.runPython({
      servers: ['shapes', 'hanging', 'leaky', 'big', 'soak', 'noisy', 'stall', 'trust'],
      code: [
        'print(await mcp_shapes.quick(n=1), await mcp_hanging.ok(), await mcp_big.pid() > 0, await mcp_stall.ok())',
        'print(await mcp_trust.report())',
        'print(await mcp_soak.pid() > 0, await mcp_noisy.echo(text="x"), len(await mcp_shapes.blob(megabytes=8)))',
        'print(await mcp_noisy.notify_flood(count=5000), await mcp_noisy.stderr_flood(megabytes=4))',
        'import sys',
        'for _ in range(20):',
        '    sys.stdout.write("y" * 1_000_000)',
      ].join('\n'),
      timeout: 120,
    });
  // A second try only for the warm-up, which is not a case: with three hostile suites on two cores,
  // the first flood of 5000 notifications (upstreams still starting) can outlast the 5 s call timeout.
  let sessions = await everyPath();
  if (sessions.structured.status !== 'ok') sessions = await everyPath();
  expect(sessions.structured.status, sessions.text).toBe('ok');
  // Initializes but cannot list its tools: its session stays open, as it will after its case.
  const failing = await bridge.runPython({ servers: ['failing'], code: 'print(1)' });
  expect(failing.isError).toBe(true);
  await waitQuiescent(suite);
  takeBaseline(suite, bridge.pid);
}

/** Waits until the bridge has exactly its warm pool: POOL_SIZE sandboxes and their engine clients. */
async function waitQuiescent(suite: Suite): Promise<void> {
  const { bridge, watch, context } = suite;
  const pool = context.poolSize;
  if (context.backend === 'monty') {
    const quiet = () => {
      const count = montyWorkersOf(bridge.pid).length;
      return count >= 1 && count <= MONTY_QUIET_WORKERS;
    };
    const settledWorkers = await eventually(quiet, 120_000);
    expect(
      settledWorkers,
      `the bridge should keep 1–${MONTY_QUIET_WORKERS} Monty workers; found ${JSON.stringify(montyWorkersOf(bridge.pid))}`,
    ).toBe(true);
    return;
  }
  const settled = watch
    ? await watch.until(
        () => watch.live(bridge.pid).length === pool && containerClientsOf(bridge.pid).length === pool,
        120_000,
      )
    : await eventually(() => embeddedWorkersOf(bridge.pid).length === pool, 120_000);
  const found = watch
    ? `containers ${JSON.stringify(watch.live(bridge.pid).map((c) => c.name))}, clients ${JSON.stringify(containerClientsOf(bridge.pid))}`
    : `workers ${JSON.stringify(embeddedWorkersOf(bridge.pid))}`;
  expect(settled, `the bridge should own exactly its ${pool} warm sandbox(es); found ${found}`).toBe(true);
}

/** Runs a program with a first line that reports which sandbox runs it, on a frame of its own. */
async function runCase(
  backend: Backend,
  bridge: RunningBridge,
  args: RunArgs,
  options: { signal?: AbortSignal; requestTimeoutMs?: number; anonymous?: boolean } = {},
): Promise<CaseRun> {
  const identity =
    backend === 'embedded' ? 'str(__import__("js").Deno.pid)' : '__import__("socket").gethostname()';
  // One line, so the program's own line numbers only shift by one; sent on the channel directly, so it
  // arrives before anything the program does to the channel afterwards.
  const prelude =
    'next(o for o in __import__("gc").get_objects() if type(o).__name__ == "HostChannel")._send(' +
    `{"type": "out", "stream": "stderr", "data": "\\x1esandbox " + ${identity} + "\\n"})\n`;
  // A Monty worker serves many runs and a program there cannot name its process: no identity line.
  const code = options.anonymous || backend === 'monty' ? args.code : prelude + args.code;
  const request = { ...args, code, timeout: args.timeout ?? DEFAULT_RUN_TIMEOUT_S };
  let result: RunResult;
  try {
    if (options.requestTimeoutMs !== undefined || options.signal) {
      const raw = await bridge.client.callTool({ name: 'run_python', arguments: request }, undefined, {
        timeout: options.requestTimeoutMs ?? 180_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const first = raw.content as Array<{ type: string; text?: string }>;
      result = {
        ...(raw as RunResult),
        text: first[0]?.type === 'text' ? (first[0].text ?? '') : '',
        structured: raw.structuredContent as unknown as RunResult['structured'],
      };
    } else {
      result = await bridge.runPython(request);
    }
  } catch (error) {
    return { rejection: error as Error, sandboxes: [] };
  }
  const outcome = result.structured ? { ...result.structured } : undefined;
  const sandboxes: string[] = [];
  if (outcome) {
    const marker = SANDBOX_LINE.exec(outcome.stderr);
    if (marker?.[1]) {
      sandboxes.push(marker[1]);
      outcome.stderr = outcome.stderr.slice(marker[0].length);
    }
  }
  return { result, ...(outcome ? { outcome } : {}), sandboxes };
}

function expectOutcome(run: CaseRun, expected: Expectation, context: CaseContext, anonymous: boolean): void {
  const summary = describeRun(run);
  if (expected.status === 'rejected') {
    expect(run.rejection, summary).toBeDefined();
    if (expected.error) expect(run.rejection?.message, summary).toMatch(expected.error);
  } else if (expected.status === 'refused') {
    // run_python refused before any program ran: a tool error without a run outcome.
    expect(run.result?.isError, summary).toBe(true);
    expect(run.outcome, summary).toBeUndefined();
    if (expected.error) expect(run.result?.text, summary).toMatch(expected.error);
  } else {
    const statuses: readonly RunStatus[] =
      typeof expected.status === 'string' ? [expected.status] : expected.status;
    expect(statuses, summary).toContain(run.outcome?.status);
    if (expected.error) expect(run.outcome?.error ?? '', summary).toMatch(expected.error);
    if (expected.stdout !== undefined) {
      if (typeof expected.stdout === 'string') expect(run.outcome?.stdout, summary).toBe(expected.stdout);
      else expect(run.outcome?.stdout, summary).toMatch(expected.stdout);
    }
  }
  // No case may ever show the upstream secret to the program or the client.
  expect(JSON.stringify(run.result ?? {}), summary).not.toContain(context.secret);
  if (!anonymous && context.backend !== 'monty' && !run.rejection && run.outcome) {
    expect(
      run.sandboxes.length,
      `the program should have said which sandbox ran it: ${summary}`,
    ).toBeGreaterThan(0);
  }
}

async function expectSandboxGone(suite: Suite, sandbox: string): Promise<void> {
  const { watch } = suite;
  if (watch) {
    const removed = await watch.until(() => watch.isRemoved(sandbox), 60_000);
    expect(removed, `container ${sandbox} of the case should have been removed`).toBe(true);
    const id = watch.find(sandbox)?.id ?? sandbox;
    // The engine forgetting it is not enough: its monitor (and gVisor's sandbox and gofer) must go too.
    expect(
      // podman's cleanup (run by conmon) may still be finishing after the removal on a loaded machine.
      await eventually(() => processesOfContainers([id]).length === 0, 60_000),
      `host processes of container ${sandbox}: ${processesOfContainers([id])}`,
    ).toBe(true);
  } else {
    const pid = Number(sandbox);
    expect(
      await eventually(() => !isAlive(pid) || !embeddedWorkersOf(suite.bridge.pid).includes(pid), 60_000),
      `embedded worker ${pid} of the case should have exited`,
    ).toBe(true);
  }
}

/** Runs the case's program (or its driver) and returns what happened. */
async function runHostileCase(suite: Suite, hostileCase: HostileCase): Promise<CaseRun> {
  const { context } = suite;
  if (hostileCase.drive) return hostileCase.drive(context);
  const code = typeof hostileCase.code === 'function' ? hostileCase.code(context) : (hostileCase.code ?? '');
  const args = {
    code,
    ...(hostileCase.servers ? { servers: hostileCase.servers } : {}),
    ...(hostileCase.timeout ? { timeout: hostileCase.timeout } : {}),
  };
  const options = { anonymous: Boolean(hostileCase.anonymous) };
  const run = await context.run(args, options);
  // The quiescence check sees the pool's sandboxes exist, not that they are ready: on a busy machine an
  // embedded worker takes 3–6 s to start, longer than a short case's timeout. A timeout before any
  // sandbox took the program (no `sandbox` in the outcome) tested nothing, so the case runs again,
  // once, after the sandbox it waited for has had that long to start.
  if (run.outcome?.status !== 'timeout' || run.outcome.sandbox) return run;
  await waitQuiescent(suite);
  return context.run(args, options);
}

/** Check 1: the status (and message) the case expects, and the case's own checks. */
async function expectCaseOutcome(suite: Suite, hostileCase: HostileCase, run: CaseRun): Promise<void> {
  const { context } = suite;
  const expected =
    typeof hostileCase.expect === 'function' ? hostileCase.expect(context) : hostileCase.expect;
  expectOutcome(run, expected, context, Boolean(hostileCase.anonymous));
  await expected.check?.(run, context);
}

/** Checks 2–4: the case's sandbox is gone, the bridge answers, and it holds no more than it did. */
async function expectBridgeUnharmed(suite: Suite, run: CaseRun): Promise<void> {
  const { bridge } = suite;
  for (const sandbox of run.sandboxes) await expectSandboxGone(suite, sandbox);

  const alive = await bridge.runPython({ code: 'print("alive")', timeout: 60 });
  expect(alive.text, 'the bridge should answer the next run').toBe('alive');

  await waitQuiescent(suite);
  await expectWithinBaseline(suite);
}

/** Check 4's second half: the bridge's open fds and RSS are within their tolerance of the baseline. */
async function expectWithinBaseline(suite: Pick<Suite, 'bridge' | 'baseline' | 'peaks'>): Promise<void> {
  const { bridge } = suite;
  const fdsOk = await eventually(() => openFdCount(bridge.pid) <= suite.baseline.fds + FD_TOLERANCE, 20_000);
  const fds = openFdCount(bridge.pid);
  suite.peaks.fds = Math.max(suite.peaks.fds, fds);
  expect(
    fdsOk,
    `the bridge holds ${fds} fds, baseline ${suite.baseline.fds} (+${FD_TOLERANCE}): ${describeFds(bridge.pid)}`,
  ).toBe(true);
  const rssOk = await eventually(
    () => rssBytes(bridge.pid) <= suite.baseline.rss + RSS_TOLERANCE_BYTES,
    20_000,
  );
  const rss = rssBytes(bridge.pid);
  suite.peaks.rss = Math.max(suite.peaks.rss, rss);
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
  expect(
    rssOk,
    `the bridge's RSS is ${mb(rss)}, baseline ${mb(suite.baseline.rss)} (+${mb(RSS_TOLERANCE_BYTES)})`,
  ).toBe(true);
}

/** The cases that apply to `backend`, in the order hostile/cases.ts lists them. */
export function casesFor(backend: Backend): HostileCase[] {
  // The full-Python cases are written for CPython's behaviour; the tier has its own (hostile/monty.ts).
  if (backend === 'monty')
    return HOSTILE_CASES.filter((hostileCase) => hostileCase.backends?.includes('monty'));
  return HOSTILE_CASES.filter(
    (hostileCase) => !hostileCase.backends || hostileCase.backends.includes(backend),
  );
}

/**
 * Why a full-Python case does not run on the Monty tier: the tier refuses its program before it runs
 * (what auto then does is run it on full Python, which the runc/runsc/embedded suites test), or it
 * drives a container or a Pyodide worker from outside, or CPython's behaviour is what it expects.
 */
export function notOnMonty(hostileCase: HostileCase): string | undefined {
  if (hostileCase.backends?.includes('monty')) return undefined;
  if (hostileCase.backends && !hostileCase.backends.includes('monty')) {
    return `written for ${hostileCase.backends.join('/')} only`;
  }
  if (hostileCase.drive)
    return 'drives a container or a Pyodide worker from outside; hostile/monty.ts drives a Monty worker';
  const context = {
    container: false,
    gvisor: false,
    backend: 'monty',
    secretFile: '/secret',
    hostPort: 1,
    hostSocket: '/s',
    abstractSocket: 'a',
    stateDir: '/state',
    runtimeEntry: '/entry.py',
    hostPaths: ['/'],
  } as unknown as CaseContext;
  let code: string;
  try {
    code = typeof hostileCase.code === 'function' ? hostileCase.code(context) : (hostileCase.code ?? '');
  } catch {
    return 'its program is built for a full-Python sandbox';
  }
  const verdict = checkSubset(code, { skills: [] });
  if (!verdict.fits)
    return `refused before it runs (${verdict.construct}: ${verdict.why}); auto sends it to full Python`;
  return "its expectation is CPython's; the Monty counterpart is in hostile/monty.ts";
}

/** Declares the hostile suite of one backend: one bridge, every case in order, four checks each. */
export function describeHostileSuite(backend: Backend): void {
  const skipReason = skipReasonOf(backend);
  const title = `hostile programs, ${backend}${skipReason ? ` (skipped: ${skipReason})` : ''}`;
  describe.skipIf(skipReason)(title, () => {
    let suite: Suite | undefined;
    beforeAll(async () => {
      suite = await startSuite(backend);
    }, 300_000);
    afterAll(async () => {
      if (!suite) return;
      const { baseline, peaks } = suite;
      const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
      console.info(
        `hostile ${backend}: ${casesFor(backend).length} cases; bridge fds ${baseline.fds} → peak ${peaks.fds}, ` +
          `RSS ${mb(baseline.rss)} MB → peak ${mb(peaks.rss)} MB`,
      );
      await suite.close();
    }, 120_000);

    if (backend === 'monty') {
      for (const hostileCase of HOSTILE_CASES) {
        const reason = notOnMonty(hostileCase);
        if (reason)
          it.skip(`${hostileCase.category}: ${hostileCase.name} (not on monty: ${reason})`, () => {});
      }
    }
    for (const hostileCase of casesFor(backend)) {
      const name = `${hostileCase.category}: ${hostileCase.name}`;
      const timeoutMs = ((hostileCase.timeout ?? DEFAULT_RUN_TIMEOUT_S) + 240) * 1000;
      const knownBug = hostileCase.knownBug?.[backend];
      if (!knownBug) {
        it(
          name,
          async () => {
            if (!suite) throw new Error('the suite did not start');
            const run = await runHostileCase(suite, hostileCase);
            await expectCaseOutcome(suite, hostileCase, run);
            await expectBridgeUnharmed(suite, run);
          },
          timeoutMs,
        );
        continue;
      }
      // A case that found a bug keeps its expectation: `it.fails` until the bug is fixed. The checks
      // every case gets stay strict in a test of their own, so a known bug cannot hide another one.
      let run: CaseRun | undefined;
      it.fails(
        `${name} (known bug: ${knownBug})`,
        async () => {
          if (!suite) throw new Error('the suite did not start');
          run = await runHostileCase(suite, hostileCase);
          await expectCaseOutcome(suite, hostileCase, run);
        },
        timeoutMs,
      );
      it(
        `${name}: its sandbox is gone and the bridge is unharmed`,
        async () => {
          if (!suite || !run) throw new Error('the case did not run');
          await expectBridgeUnharmed(suite, run);
        },
        timeoutMs,
      );
    }
  });
}

/**
 * TypeScript sandboxes the TypeScript suite's bridge keeps warm. Its pool cannot grow (MCP_BRIDGE_POOL_MAX
 * is the same), so a quiet bridge owns exactly this many and a leaked sandbox shows.
 */
const TYPESCRIPT_POOL_SIZE = 2;

type TypeScriptSuite = Pick<Suite, 'bridge' | 'baseline' | 'peaks' | 'close'>;

async function startTypeScriptSuite(): Promise<TypeScriptSuite> {
  const home = createTestHome();
  home.write('.claude.json', { mcpServers: standardServers(home.home, SECRET) });
  const stateDir = mkdtempSync(join(tmpdir(), 'codemode-hostile-typescript-state-'));
  const bridge = await startBridge(
    {
      HOME: home.home,
      MCP_BRIDGE_STATE_DIR: stateDir,
      MCP_BRIDGE_LANGUAGES: 'typescript',
      // The checker is no boundary: the cases test the sandbox and the host (hostile/typescript.ts).
      MCP_BRIDGE_TYPECHECK: 'off',
      MCP_BRIDGE_POOL_SIZE: String(TYPESCRIPT_POOL_SIZE),
      MCP_BRIDGE_POOL_MAX: String(TYPESCRIPT_POOL_SIZE),
      MCP_BRIDGE_MEMORY: '128m',
      MCP_BRIDGE_MAX_OUTPUT_CHARS: '2000',
      MCP_BRIDGE_TIMEOUT: String(DEFAULT_RUN_TIMEOUT_S),
    },
    { cwd: home.project },
  );
  const close = async () => {
    await bridge.close();
    expect(await eventually(() => typescriptSandboxesOf(bridge.pid).length === 0, 30_000)).toBe(true);
    home.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  };
  const suite: TypeScriptSuite = { bridge, baseline: { fds: 0, rss: 0 }, peaks: { fds: 0, rss: 0 }, close };
  try {
    // Every path the cases take, once, before the baseline: a tool call, a refused one, an output flood.
    const warm = await bridge.runTypeScript({
      servers: ['everything'],
      code: [
        'console.log(await mcp.everything.echo({ message: "warm" }));',
        'try { await mcp.runtime.callTool("memory", "read_graph", {}); } catch { /* not granted */ }',
        'const line = "y".repeat(1000);',
        'for (let i = 0; i < 20000; i++) console.log(line);',
      ].join('\n'),
      timeout: 120,
    });
    expect(warm.structured.status, warm.text).toBe('ok');
    await waitTypeScriptQuiescent(bridge);
    takeBaseline(suite, bridge.pid);
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  return suite;
}

/** The bridge's fds and RSS once warm and quiet: what each case is held to, and where its peaks start. */
function takeBaseline(
  suite: { baseline: { fds: number; rss: number }; peaks: { fds: number; rss: number } },
  pid: number,
): void {
  suite.baseline = { fds: openFdCount(pid), rss: rssBytes(pid) };
  suite.peaks = { ...suite.baseline };
}

async function waitTypeScriptQuiescent(bridge: RunningBridge): Promise<void> {
  const settled = await eventually(
    () => typescriptSandboxesOf(bridge.pid).length === TYPESCRIPT_POOL_SIZE,
    120_000,
  );
  expect(
    settled,
    `the bridge should own exactly its ${TYPESCRIPT_POOL_SIZE} warm TypeScript sandboxes; found ${JSON.stringify(typescriptSandboxesOf(bridge.pid))}`,
  ).toBe(true);
}

/** Runs a case's program after a line that reports its sandbox (the Deno pid) on stderr. */
async function runTypeScriptCase(bridge: RunningBridge, hostileCase: TypeScriptCase): Promise<CaseRun> {
  // First, before the program can replace `console`; one line, so the program's lines shift by one.
  const prelude = `console.error(${JSON.stringify(`${SANDBOX_MARKER}sandbox `)} + Deno.pid);\n`;
  let result: RunResult;
  try {
    result = await bridge.runTypeScript({
      code: prelude + hostileCase.code,
      timeout: hostileCase.timeout ?? DEFAULT_RUN_TIMEOUT_S,
      ...(hostileCase.servers ? { servers: hostileCase.servers } : {}),
    });
  } catch (error) {
    return { rejection: error as Error, sandboxes: [] };
  }
  const outcome = { ...result.structured };
  const sandboxes: string[] = [];
  const marker = SANDBOX_LINE.exec(outcome.stderr);
  if (marker?.[1]) {
    sandboxes.push(marker[1]);
    outcome.stderr = outcome.stderr.slice(marker[0].length);
  }
  return { result, outcome, sandboxes };
}

/**
 * The TypeScript half (hostile/typescript.ts) on one long-lived bridge, with the checks every Python
 * case gets: the expected outcome, the case's sandbox gone, the bridge answering the next run, exactly
 * its warm pool left and its fds and RSS within the same tolerances of the baseline.
 */
export function describeTypeScriptHostileSuite(): void {
  describe('hostile programs, typescript', () => {
    let suite: TypeScriptSuite | undefined;
    beforeAll(async () => {
      suite = await startTypeScriptSuite();
    }, 300_000);
    afterAll(async () => {
      if (!suite) return;
      const { baseline, peaks } = suite;
      const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
      console.info(
        `hostile typescript: ${TYPESCRIPT_CASES.length} cases; bridge fds ${baseline.fds} → peak ${peaks.fds}, ` +
          `RSS ${mb(baseline.rss)} MB → peak ${mb(peaks.rss)} MB`,
      );
      await suite.close();
    }, 120_000);

    for (const hostileCase of TYPESCRIPT_CASES) {
      it(
        `${hostileCase.category}: ${hostileCase.name}`,
        async () => {
          if (!suite) throw new Error('the suite did not start');
          const { bridge } = suite;
          const run = await runTypeScriptCase(bridge, hostileCase);
          const summary = describeRun(run);
          expect(run.outcome, summary).toBeDefined();
          hostileCase.expect(run.outcome as NonNullable<CaseRun['outcome']>);
          expect(JSON.stringify(run.result ?? {}), summary).not.toContain(SECRET);
          expect(run.sandboxes, `the program should have said which sandbox ran it: ${summary}`).toHaveLength(
            1,
          );
          for (const sandbox of run.sandboxes) {
            const pid = Number(sandbox);
            expect(
              await eventually(() => !typescriptSandboxesOf(bridge.pid).includes(pid), 60_000),
              `TypeScript sandbox ${pid} of the case should have exited`,
            ).toBe(true);
          }
          const alive = await bridge.runTypeScript({ code: 'console.log("alive")', timeout: 60 });
          expect(alive.structured.stdout, 'the bridge should answer the next run').toBe('alive\n');
          await waitTypeScriptQuiescent(bridge);
          await expectWithinBaseline(suite);
        },
        ((hostileCase.timeout ?? DEFAULT_RUN_TIMEOUT_S) + 240) * 1000,
      );
    }
  });
}
