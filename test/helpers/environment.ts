/**
 * What the machine offers the integration tests. Container tests run against a real engine and the
 * offline test image (`scripts/test-image.sh`); where either is missing they are skipped with the
 * reason, except under CI, where global-setup fails the run instead.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TEST_IMAGE = process.env.MCP_BRIDGE_TEST_IMAGE ?? 'localhost/codemode-python:test';
export const BRIDGE_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function succeeds(file: string, args: string[]): boolean {
  try {
    execFileSync(file, args, { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

export interface ContainerSupport {
  engine: 'podman' | 'docker' | undefined;
  /** Why container tests cannot run here, when they cannot. */
  skipReason: string | undefined;
}

let cached: ContainerSupport | undefined;

export function containerSupport(): ContainerSupport {
  if (cached) return cached;
  const engine = succeeds('podman', ['info'])
    ? 'podman'
    : succeeds('docker', ['info'])
      ? 'docker'
      : undefined;
  if (!engine) {
    cached = {
      engine,
      skipReason: 'no usable podman or docker (install podman, then run scripts/test-image.sh)',
    };
  } else if (!succeeds(engine, ['image', 'inspect', TEST_IMAGE])) {
    cached = {
      engine,
      skipReason: `test image ${TEST_IMAGE} is missing (build it with scripts/test-image.sh)`,
    };
  } else {
    cached = { engine, skipReason: undefined };
  }
  return cached;
}

/** A sandbox backend an e2e suite runs against: its bridge settings, or why it is skipped here. */
export interface SandboxBackendUnderTest {
  name: 'container' | 'embedded';
  env: Record<string, string>;
  skip: string | undefined;
}

/**
 * Both sandbox backends, for suites that run the same tests on each: podman (skipped where
 * `containerSupport` says so) and the embedded sandbox with `stateDir` (its snapshot cache).
 */
export function bothSandboxBackends(stateDir: string): SandboxBackendUnderTest[] {
  return [
    { name: 'container', env: { MCP_BRIDGE_RUNTIME: 'podman' }, skip: containerSupport().skipReason },
    {
      name: 'embedded',
      env: { MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_STATE_DIR: stateDir },
      skip: undefined,
    },
  ];
}

/** OCI runtimes the container suites run under. */
export type OciRuntime = 'runc' | 'runsc';

let gvisorCached: { skipReason: string | undefined } | undefined;

/** Whether the engine can run containers under gVisor (`runsc`), and why not when it cannot. */
export function gvisorSupport(): { skipReason: string | undefined } {
  if (gvisorCached) return gvisorCached;
  const { engine, skipReason } = containerSupport();
  let reason = skipReason;
  if (engine === 'podman' && !reason && !succeeds('podman', ['--runtime', 'runsc', 'info'])) {
    reason = 'podman cannot find runsc (install the Debian package: apt-get install runsc)';
  }
  if (engine === 'docker' && !reason) {
    const runtimes = execFileSync('docker', ['info', '--format', '{{json .Runtimes}}'], { encoding: 'utf8' });
    if (!/"runsc"/.test(runtimes)) reason = 'runsc is not registered with dockerd (docs/security.md, gVisor)';
  }
  gvisorCached = { skipReason: reason };
  return gvisorCached;
}

/**
 * The OCI runtimes to run a container suite under: runc always, runsc (gVisor) where it is usable.
 * Under CI, global-setup fails the run when runsc is missing instead.
 */
export function ociRuntimes(): OciRuntime[] {
  return gvisorSupport().skipReason ? ['runc'] : ['runc', 'runsc'];
}

/** Names of containers labelled as owned by `ownerPid`. */
export function containersOwnedBy(ownerPid: number): string[] {
  const { engine } = containerSupport();
  if (!engine) return [];
  const output = execFileSync(
    engine,
    ['ps', '-a', '--filter', `label=codemode-bridge.owner=${ownerPid}`, '--format', '{{.Names}}'],
    { encoding: 'utf8' },
  );
  return output.split('\n').filter(Boolean);
}

/** Full ids of the containers labelled as owned by `ownerPid`. */
export function containerIdsOwnedBy(ownerPid: number): string[] {
  const { engine } = containerSupport();
  if (!engine) return [];
  const output = execFileSync(
    engine,
    ['ps', '-a', '--no-trunc', '--filter', `label=codemode-bridge.owner=${ownerPid}`, '--format', '{{.ID}}'],
    { encoding: 'utf8' },
  );
  return output.split('\n').filter(Boolean);
}

/**
 * Host processes whose command line names one of these container ids: the engine's monitor (conmon)
 * and, under gVisor, the runsc sandbox and gofer. The engine forgetting a container is not enough;
 * these must be gone too. Linux only (reads /proc).
 */
export function processesOfContainers(ids: string[]): number[] {
  if (ids.length === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    if (ids.some((id) => cmdline.includes(id))) pids.push(Number(entry));
  }
  return pids;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it is true or `timeoutMs` passes; returns its last value. */
export async function eventually(
  check: () => boolean,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return check();
}
