/** Containers never outlive their purpose: runs, cancellations, disconnects, signals, dead bridges. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge, startRunning } from '../helpers/bridge.js';
import {
  BRIDGE_MAIN,
  containerIdsOwnedBy,
  containerSupport,
  containersOwnedBy,
  eventually,
  isAlive,
  ociRuntimes,
  processesOfContainers,
  TEST_IMAGE,
} from '../helpers/environment.js';

const { skipReason, engine } = containerSupport();
const LONG_RUN = 'print("started", flush=True)\nimport time\ntime.sleep(60)';

describe.skipIf(skipReason)(`sandbox lifecycle${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const bridges: RunningBridge[] = [];
  afterEach(async () => {
    await Promise.all(bridges.splice(0).map((bridge) => bridge.close()));
  });

  // Containers are what this suite watches: its bridges run every program in one (under auto, a
  // program that fits would run on the Monty tier).
  async function bridgeWithoutPool(env: Record<string, string> = {}): Promise<RunningBridge> {
    const bridge = await startBridge({
      MCP_BRIDGE_RUNTIME: engine as string,
      MCP_BRIDGE_POOL_SIZE: '0',
      ...env,
    });
    bridges.push(bridge);
    return bridge;
  }

  /** Resolves once the bridge has a container for a run in flight. */
  async function waitForContainer(bridge: RunningBridge): Promise<void> {
    expect(await eventually(() => containersOwnedBy(bridge.pid).length > 0, 15_000)).toBe(true);
  }

  // Removal is the OCI runtime's work as much as the engine's: these run under each runtime.
  describe.each(ociRuntimes())('under %s', (ociRuntime) => {
    const oci = { MCP_BRIDGE_OCI_RUNTIME: ociRuntime };

    it('removes the container of every finished run', async () => {
      const bridge = await bridgeWithoutPool(oci);
      for (const code of ['print(1)', '1/0', 'import os\nos._exit(9)']) await bridge.runPython({ code });
      await bridge.runPython({ code: 'while True: pass', timeout: 1 });
      expect(await eventually(() => containersOwnedBy(bridge.pid).length === 0)).toBe(true);
    });

    it('kills the sandbox of a cancelled request at once and keeps serving', async () => {
      const bridge = await bridgeWithoutPool(oci);
      const controller = new AbortController();
      const pending = bridge.runPython({ code: LONG_RUN }, { signal: controller.signal });
      await waitForContainer(bridge);
      const ids = containerIdsOwnedBy(bridge.pid);
      controller.abort();
      await expect(pending).rejects.toThrow(/abort/i);
      expect(await eventually(() => containersOwnedBy(bridge.pid).length === 0)).toBe(true);
      expect(await eventually(() => processesOfContainers(ids).length === 0)).toBe(true);
      expect((await bridge.runPython({ code: 'print("next")' })).text).toBe('next');
    });

    it.each([
      ['the client disconnects', (bridge: RunningBridge) => bridge.close()],
      ['the bridge gets SIGTERM', (bridge: RunningBridge) => process.kill(bridge.pid, 'SIGTERM')],
      ['the bridge gets SIGINT', (bridge: RunningBridge) => process.kill(bridge.pid, 'SIGINT')],
    ])('removes every container when %s mid-run', async (_case, stop) => {
      const bridge = await startBridge({ MCP_BRIDGE_POOL_SIZE: '2', ...oci });
      bridges.push(bridge);
      bridge.runPython({ code: LONG_RUN }).catch(() => {});
      bridge.runPython({ code: LONG_RUN }).catch(() => {});
      expect(await eventually(() => containersOwnedBy(bridge.pid).length >= 2, 15_000)).toBe(true);
      const ids = containerIdsOwnedBy(bridge.pid);
      await stop(bridge);
      expect(await eventually(() => !isAlive(bridge.pid), 20_000)).toBe(true);
      expect(containersOwnedBy(bridge.pid)).toEqual([]);
      // Nothing of them runs on: no conmon, and under gVisor no runsc sandbox or gofer either.
      expect(await eventually(() => processesOfContainers(ids).length === 0)).toBe(true);
    });

    it('ends busy sandboxes of a bridge killed with SIGKILL, without waiting for another bridge', async () => {
      const bridge = await bridgeWithoutPool(oci);
      // One spins in Python, one sleeps in C: neither reads its channel.
      await startRunning(bridge, 'print("running", flush=True)\nwhile True:\n    pass');
      await startRunning(bridge, 'print("running", flush=True)\nimport time\ntime.sleep(1e9)');
      const ids = containerIdsOwnedBy(bridge.pid);
      expect(ids.length).toBeGreaterThanOrEqual(2);
      process.kill(bridge.pid, 'SIGKILL');
      expect(await eventually(() => !isAlive(bridge.pid))).toBe(true);
      // No bridge starts meanwhile: each sandbox notices its channel closing and ends itself.
      expect(await eventually(() => processesOfContainers(ids).length === 0, 10_000)).toBe(true);
      expect(await eventually(() => containersOwnedBy(bridge.pid).length === 0, 10_000)).toBe(true);
    });

    it('is what doctor reports, with a sandbox started the way the bridge starts one', () => {
      const result = spawnSync(process.execPath, [BRIDGE_MAIN, 'doctor'], {
        env: { ...process.env, MCP_BRIDGE_RUNTIME: engine as string, MCP_BRIDGE_IMAGE: TEST_IMAGE, ...oci },
        encoding: 'utf8',
      });
      expect(result.stdout).toContain(`MCP_BRIDGE_OCI_RUNTIME=${ociRuntime}`);
      expect(result.stdout).toMatch(
        ociRuntime === 'runsc'
          ? /^OCI runtime: runsc \(gVisor\) — \S+runsc, runsc version /m
          : /^OCI runtime: runc — /m,
      );
      expect(result.stdout).toMatch(/^sandbox start: ok \(ready in \d+ ms\)$/m);
      expect(result.status).toBe(0);
    });
  });

  it('fails with what to install or unset when the configured OCI runtime is missing, even under auto', async () => {
    const bridge = await bridgeWithoutPool({
      MCP_BRIDGE_RUNTIME: 'auto',
      MCP_BRIDGE_OCI_RUNTIME: '/nonexistent/runsc',
    });
    const result = await bridge.runPython({ code: 'print(1)' });
    // Not the embedded sandbox: whoever asked for gVisor must not silently get a weaker boundary.
    expect(result.isError).toBe(true);
    expect(result.text).toContain('MCP_BRIDGE_OCI_RUNTIME=/nonexistent/runsc');
    expect(result.text).toContain('sudo apt-get install runsc');
    expect(result.text).toContain('unset MCP_BRIDGE_OCI_RUNTIME');
    const doctor = spawnSync(process.execPath, [BRIDGE_MAIN, 'doctor'], {
      env: { ...process.env, MCP_BRIDGE_IMAGE: TEST_IMAGE, MCP_BRIDGE_OCI_RUNTIME: '/nonexistent/runsc' },
      encoding: 'utf8',
    });
    expect(doctor.stdout).toContain('sudo apt-get install runsc');
    expect(doctor.status).toBe(1);
  });

  it('serves an invalid or missing policy file to the client, with nothing left behind', () => {
    // Its own temporary directory: the bridge's socket directory must be gone from it afterwards.
    const tmp = mkdtempSync(join(tmpdir(), 'codemode-start-failure-'));
    const bad = join(tmp, 'policy.json');
    writeFileSync(bad, '{"rules": [{"tool": "x"}]}');
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
    };
    const cases = [
      {
        policy: bad,
        message: `Invalid policy (MCP_BRIDGE_POLICY): ${bad}:1: policy rule rules: unknown key`,
      },
      {
        policy: join(tmp, 'missing.toml'),
        message: `Invalid policy (MCP_BRIDGE_POLICY): ${join(tmp, 'missing.toml')}: cannot read the policy file: ENOENT`,
      },
    ];
    try {
      // Three times each: the warm pool's first container start raced the clean-up every time.
      for (const { policy, message } of cases.flatMap((entry) => [entry, entry, entry])) {
        const served = spawnSync(process.execPath, [BRIDGE_MAIN], {
          env: {
            ...process.env,
            TMPDIR: tmp,
            MCP_BRIDGE_IMAGE: TEST_IMAGE,
            MCP_BRIDGE_RUNTIME: engine ?? 'podman',
            MCP_BRIDGE_POOL_SIZE: '2',
            MCP_BRIDGE_POLICY: policy,
          },
          input: `${JSON.stringify(initialize)}\n`,
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(served.status, served.stderr).toBe(2);
        expect(JSON.parse(served.stdout.split('\n')[0] ?? '')).toMatchObject({
          id: 1,
          result: { instructions: expect.stringContaining(message) },
        });
        expect(served.stderr).toContain(message);
        expect(readdirSync(tmp).filter((name) => name.startsWith('codemode-'))).toEqual([]);
        expect(containersOwnedBy(served.pid)).toEqual([]);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);

  it('reports progress on a long run when the client sent a progress token', async () => {
    const bridge = await bridgeWithoutPool();
    let updates = 0;
    const result = await bridge.runPython(
      { code: 'import time\ntime.sleep(2.5)\nprint("done")' },
      { onprogress: () => updates++ },
    );
    expect(result.text).toBe('done');
    expect(updates).toBeGreaterThanOrEqual(1);
  });

  it('reaps containers left by a bridge that died', async () => {
    const deadOwner = 4_000_000 + (process.pid % 100_000);
    const name = `codemode-${deadOwner}-stale`;
    execFileSync(engine as string, [
      'run',
      '-d',
      '--pull',
      'never',
      '--name',
      name,
      '--label',
      `codemode-bridge.owner=${deadOwner}`,
      TEST_IMAGE,
      'sleep',
      '300',
    ]);
    expect(containersOwnedBy(deadOwner)).toEqual([name]);
    // Private directories: named at random with the owner in a file, or (older bridges) after the pid.
    const stale = mkdtempSync(join(tmpdir(), 'codemode-'));
    mkdirSync(join(stale, 'a1b2c3d4e5f6'));
    writeFileSync(join(stale, 'owner'), String(deadOwner));
    const legacy = join(tmpdir(), `codemode-${deadOwner}-abc123`);
    mkdirSync(join(legacy, 'codemode-1-1'), { recursive: true });
    const bridge = await bridgeWithoutPool();
    await bridge.runPython({ code: 'print(1)' });
    expect(await eventually(() => containersOwnedBy(deadOwner).length === 0, 20_000)).toBe(true);
    expect(await eventually(() => !existsSync(stale) && !existsSync(legacy))).toBe(true);
  });

  it('names the pull command when the image is missing, and keeps serving', async () => {
    const bridge = await bridgeWithoutPool({
      MCP_BRIDGE_IMAGE: 'localhost/codemode-missing:nope',
      MCP_BRIDGE_RUNTIME: engine as string,
    });
    const result = await bridge.runPython({ code: 'print(1)' });
    expect(result.isError).toBe(true);
    expect(result.text).toContain(`${engine} pull localhost/codemode-missing:nope`);
    const again = await bridge.runPython({ code: 'print(1)' });
    expect(again.text).toContain('is not available');
  });

  it('under auto, passes over an engine without the image and runs in the embedded sandbox', async () => {
    const bridge = await bridgeWithoutPool({
      MCP_BRIDGE_IMAGE: 'localhost/codemode-missing:nope',
      MCP_BRIDGE_RUNTIME: 'auto',
      MCP_BRIDGE_LOG_LEVEL: 'info',
    });
    const result = await bridge.runPython({ code: 'import sys\nprint(sys.platform)' });
    expect(result.text).toBe('emscripten');
    expect(bridge.stderr()).toMatch(/has no image localhost\/codemode-missing:nope \(pull it with: \w+ pull/);
  });

  it('carries frames over the attached stdio when MCP_BRIDGE_CONTAINER_CHANNEL=stdio', async () => {
    const bridge = await bridgeWithoutPool({
      MCP_BRIDGE_CONTAINER_CHANNEL: 'stdio',
      MCP_BRIDGE_RUNTIME: engine as string,
    });
    const result = await bridge.runPython({
      code: [
        'import gc, os',
        'print("mounted:", os.path.exists("/run/codemode-channel"))',
        'channel = next(o for o in gc.get_objects() if type(o).__name__ == "HostChannel")',
        'try:',
        '    await channel.request({"type": "call", "op": "nope", "args": {}})',
        'except Exception as error:',
        '    print(error)',
      ].join('\n'),
    });
    expect(result.structured.stdout).toMatch(
      /^mounted: False\nunknown host operation 'nope'; the host offers attach, /,
    );
  });

  it('queues runs beyond MCP_BRIDGE_MAX_CONCURRENT_RUNS, the wait counting toward the timeout', async () => {
    const bridge = await bridgeWithoutPool({ MCP_BRIDGE_MAX_CONCURRENT_RUNS: '1' });
    const code = 'import time\ntime.sleep(1.5)\nprint("done")';
    const [first, second, late] = await Promise.all([
      bridge.runPython({ code }),
      bridge.runPython({ code }),
      bridge.runPython({ code: 'print("never ran")', timeout: 0.5 }),
    ]);
    expect([first.text, second.text]).toEqual(['done', 'done']);
    // One slot: whichever ran second waited for the first to finish.
    expect(Math.max(first.structured.durationMs, second.structured.durationMs)).toBeGreaterThanOrEqual(3000);
    expect(late.structured).toMatchObject({ status: 'timeout', stdout: '' });
  });

  it('grows the warm pool with a burst, up to MCP_BRIDGE_POOL_MAX, and never past it', async () => {
    const bridge = await startBridge({
      MCP_BRIDGE_RUNTIME: engine as string,
      MCP_BRIDGE_POOL_SIZE: '1',
      MCP_BRIDGE_POOL_MAX: '4',
    });
    bridges.push(bridge);
    expect(await eventually(() => containersOwnedBy(bridge.pid).length === 1, 15_000)).toBe(true);
    const burst = () =>
      Promise.all(Array.from({ length: 6 }, (_, i) => bridge.runPython({ code: `print(${i})` })));
    expect((await burst()).map((result) => result.text)).toEqual(['0', '1', '2', '3', '4', '5']);
    // The misses doubled the pool's target: 1 → 2 → 4, and the ceiling holds.
    expect(await eventually(() => containersOwnedBy(bridge.pid).length === 4, 30_000)).toBe(true);
    expect((await burst()).map((result) => result.text)).toEqual(['0', '1', '2', '3', '4', '5']);
    expect(await eventually(() => containersOwnedBy(bridge.pid).length === 4, 30_000)).toBe(true);
  });

  it('returns the result as a TOON block when asked to', async () => {
    const bridge = await bridgeWithoutPool({ MCP_BRIDGE_OUTPUT_MODE: 'toon' });
    const result = await bridge.runPython({ code: 'print("hi")' });
    expect(result.text).toMatch(
      /^```toon\nstatus: ok\nstdout: "hi\\n"\nstderr: ""\ndurationMs: \d+\nsandbox: (?:podman|docker)\n```$/,
    );
  });
});

describe('bridge configuration errors', () => {
  it.each(['podman', 'docker'])(
    'names what to install when MCP_BRIDGE_RUNTIME=%s is not installed',
    async (runtime) => {
      const bridge = await startBridge({
        PATH: '/nonexistent',
        MCP_BRIDGE_POOL_SIZE: '0',
        MCP_BRIDGE_RUNTIME: runtime,
      });
      try {
        const result = await bridge.runPython({ code: 'print(1)' });
        expect(result.isError).toBe(true);
        expect(result.text).toContain(`${runtime} is not installed (not found on PATH)`);
        expect(result.text).toMatch(/Install podman/);
      } finally {
        await bridge.close();
      }
    },
  );

  it('refuses an invalid MCP_BRIDGE_* value at start, naming the variable and the choices', async () => {
    const result = spawnSync(process.execPath, [BRIDGE_MAIN], {
      env: { ...process.env, MCP_BRIDGE_RUNTIME: 'kubernetes' },
      encoding: 'utf8',
      input: '',
    });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'MCP_BRIDGE_RUNTIME="kubernetes" is invalid: expected one of auto, podman, docker, embedded',
    );
  });

  it('refuses MCP_BRIDGE_TIMEOUT above MCP_BRIDGE_MAX_TIMEOUT instead of clamping it, and says what to raise', async () => {
    const refusal =
      'MCP_BRIDGE_TIMEOUT="200" is invalid: expected at most MCP_BRIDGE_MAX_TIMEOUT (120 s); ' +
      'for longer runs, raise MCP_BRIDGE_MAX_TIMEOUT too.';
    // Served on stdio, the client is told (a run is an error result naming both settings).
    const bridge = await startBridge({ MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_TIMEOUT: '200' });
    try {
      const result = await bridge.runPython({ code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(result.text).toContain(refusal);
    } finally {
      await bridge.close();
    }
    const env = { ...process.env, MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_TIMEOUT: '200' };
    const refused = spawnSync(process.execPath, [BRIDGE_MAIN, 'run', '-e', 'print(6*7)'], {
      env,
      encoding: 'utf8',
    });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(refusal);
    const raised = spawnSync(process.execPath, [BRIDGE_MAIN, 'run', '-e', 'print(6*7)'], {
      env: { ...env, MCP_BRIDGE_MAX_TIMEOUT: '300' },
      encoding: 'utf8',
    });
    expect(raised).toMatchObject({ status: 0, stdout: '42\n' });
  });
});
