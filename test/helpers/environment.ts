/**
 * What the machine offers the integration tests. Container tests run against a real engine and the
 * offline test image (`scripts/test-image.sh`); where either is missing they are skipped with the
 * reason, except under CI, where global-setup fails the run instead.
 */
import { execFileSync } from 'node:child_process';
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
