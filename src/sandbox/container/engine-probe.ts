/** Finds a usable container engine: the binary exists *and* answers (docker needs its daemon). */
import {
  describeOutOfFileDescriptors,
  isOutOfFileDescriptors,
  outOfFileDescriptorsError,
} from '../../shared/fd-exhaustion.js';
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

/**
 * `version`, not `info`: it answers in ~20 ms where `podman info` takes 160 ms or more (it inspects
 * storage, networks and the host), and that time stood between a client's spawn and its first run.
 * docker's server version needs the daemon, so a stopped daemon is still caught here; a podman whose
 * storage is broken is caught by `imageExists` (auto) or by the first sandbox start, which says why.
 */
export async function probeEngine(engine: ContainerEngine): Promise<EngineProbe> {
  const format = engine === 'podman' ? '{{.Client.Version}}' : '{{.Server.Version}}';
  const result = await runCommand(engine, ['version', '--format', format], {
    timeoutMs: PROBE_TIMEOUT_MS,
    env: minimalEnvironment(),
  });
  if (result.exitCode === 0 && result.stdout.trim()) {
    return { engine, usable: true, version: result.stdout.trim() };
  }
  if (isOutOfFileDescriptors(result.spawnError)) {
    return { engine, usable: false, problem: describeOutOfFileDescriptors(result.spawnError) };
  }
  const detail = (result.stderr || result.stdout).trim().split('\n').slice(-2).join(' ');
  const problem =
    result.exitCode === 127 || /ENOENT/.test(detail)
      ? `${engine} is not installed (not found on PATH)`
      : `\`${engine} version\` failed: ${detail || `exit code ${result.exitCode}`}`;
  return { engine, usable: false, problem };
}

/** Whether the engine has the image; throws when the engine could not even be asked for want of descriptors. */
export async function imageExists(engine: ContainerEngine, image: string): Promise<boolean> {
  const args =
    engine === 'podman' ? ['image', 'exists', image] : ['image', 'inspect', '--format', '{{.Id}}', image];
  const result = await runCommand(engine, args, { timeoutMs: PROBE_TIMEOUT_MS, env: minimalEnvironment() });
  if (isOutOfFileDescriptors(result.spawnError)) {
    throw outOfFileDescriptorsError(`asking ${engine} for the image ${image}`, result.spawnError);
  }
  return result.exitCode === 0;
}
