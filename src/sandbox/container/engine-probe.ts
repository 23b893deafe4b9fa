/** Finds a usable container engine: the binary exists *and* answers (docker needs its daemon). */
import { minimalEnvironment, runCommand } from '../process/run-command.js';
import type { ContainerEngine } from './run-args.js';

export interface EngineProbe {
  engine: ContainerEngine;
  usable: boolean;
  version?: string;
  /** Why the engine cannot be used, when it cannot. */
  problem?: string;
}

const PROBE_TIMEOUT_MS = 15_000;

export async function probeEngine(engine: ContainerEngine): Promise<EngineProbe> {
  const format = engine === 'podman' ? '{{.Version.Version}}' : '{{.ServerVersion}}';
  const result = await runCommand(engine, ['info', '--format', format], {
    timeoutMs: PROBE_TIMEOUT_MS,
    env: minimalEnvironment(),
  });
  if (result.exitCode === 0 && result.stdout.trim()) {
    return { engine, usable: true, version: result.stdout.trim() };
  }
  const detail = (result.stderr || result.stdout).trim().split('\n').slice(-2).join(' ');
  const problem =
    result.exitCode === 127 || /ENOENT/.test(detail)
      ? `${engine} is not installed (not found on PATH)`
      : `\`${engine} info\` failed: ${detail || `exit code ${result.exitCode}`}`;
  return { engine, usable: false, problem };
}

export async function imageExists(engine: ContainerEngine, image: string): Promise<boolean> {
  const args =
    engine === 'podman' ? ['image', 'exists', image] : ['image', 'inspect', '--format', '{{.Id}}', image];
  const result = await runCommand(engine, args, { timeoutMs: PROBE_TIMEOUT_MS, env: minimalEnvironment() });
  return result.exitCode === 0;
}
