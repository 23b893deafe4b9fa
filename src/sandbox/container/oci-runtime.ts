/**
 * The OCI runtime under the container engine (MCP_BRIDGE_OCI_RUNTIME). runc and crun run the program
 * on the host's kernel; runsc (gVisor) puts a user-space kernel, the Sentry, between the two. Only the
 * engine knows which runtimes it can use (podman looks names up in containers.conf, docker in
 * daemon.json), so it is asked rather than the host's PATH.
 */
import { basename, isAbsolute } from 'node:path';
import { BridgeError } from '../../shared/errors.js';
import { minimalEnvironment, runCommand } from '../process/run-command.js';
import type { ContainerEngine } from './run-args.js';

/** The runtimes MCP_BRIDGE_OCI_RUNTIME accepts by name; any absolute path to a binary is accepted too. */
export const OCI_RUNTIME_NAMES = ['runc', 'crun', 'runsc'] as const;

/** gVisor, named or as a path to its binary. */
export function isGvisor(ociRuntime: string | undefined): boolean {
  return ociRuntime !== undefined && basename(ociRuntime) === 'runsc';
}

export interface OciRuntimeProbe {
  /** As configured, or the engine's default when MCP_BRIDGE_OCI_RUNTIME is unset. */
  name: string;
  /** The engine's default runtime (MCP_BRIDGE_OCI_RUNTIME unset). */
  isDefault: boolean;
  usable: boolean;
  /** The binary the engine runs, when it says. */
  path?: string;
  /** First line of `<runtime> --version` as the engine reports it (podman only). */
  version?: string;
  /** Why the runtime cannot be used, with what to install or unset. */
  problem?: string;
}

const PROBE_TIMEOUT_MS = 15_000;

/** Asks the engine whether it can run `ociRuntime` (or which runtime it uses by default). */
export async function probeOciRuntime(
  engine: ContainerEngine,
  ociRuntime: string | undefined,
): Promise<OciRuntimeProbe> {
  return engine === 'podman' ? probeWithPodman(ociRuntime) : probeWithDocker(ociRuntime);
}

/** Throws a BridgeError that says what to install or unset when the configured runtime is unusable. */
export async function requireOciRuntime(
  engine: ContainerEngine,
  ociRuntime: string,
): Promise<OciRuntimeProbe> {
  const probe = await probeOciRuntime(engine, ociRuntime);
  if (!probe.usable) {
    throw new BridgeError('RUNTIME_UNAVAILABLE', probe.problem ?? `${engine} cannot use ${ociRuntime}`, {
      details: { engine, ociRuntime },
    });
  }
  return probe;
}

/** The runtime as messages name it, marking gVisor. */
export function describeOciRuntime(ociRuntime: string): string {
  return isGvisor(ociRuntime) ? `${ociRuntime} (gVisor)` : ociRuntime;
}

async function probeWithPodman(ociRuntime: string | undefined): Promise<OciRuntimeProbe> {
  const args = [
    ...(ociRuntime ? ['--runtime', ociRuntime] : []),
    'info',
    '--format',
    '{{json .Host.OCIRuntime}}',
  ];
  const result = await runCommand('podman', args, { timeoutMs: PROBE_TIMEOUT_MS, env: minimalEnvironment() });
  const name = ociRuntime ?? 'podman default';
  if (result.exitCode !== 0) {
    const detail = lastLines(result.stderr || result.stdout) || `exit code ${result.exitCode}`;
    return {
      name,
      isDefault: !ociRuntime,
      usable: false,
      problem: missingMessage('podman', ociRuntime, detail),
    };
  }
  const info = parseJsonObject(result.stdout);
  const path = typeof info?.path === 'string' ? info.path : undefined;
  const version = typeof info?.version === 'string' ? info.version.split('\n')[0]?.trim() : undefined;
  return {
    name: ociRuntime ?? (typeof info?.name === 'string' ? info.name : name),
    isDefault: !ociRuntime,
    usable: true,
    ...(path ? { path } : {}),
    ...(version ? { version } : {}),
  };
}

async function probeWithDocker(ociRuntime: string | undefined): Promise<OciRuntimeProbe> {
  const result = await runCommand('docker', ['info', '--format', '{{.DefaultRuntime}}\t{{json .Runtimes}}'], {
    timeoutMs: PROBE_TIMEOUT_MS,
    env: minimalEnvironment(),
  });
  const name = ociRuntime ?? 'docker default';
  if (result.exitCode !== 0) {
    const detail = lastLines(result.stderr || result.stdout) || `exit code ${result.exitCode}`;
    return { name, isDefault: !ociRuntime, usable: false, problem: `\`docker info\` failed: ${detail}` };
  }
  const [defaultRuntime = '', runtimesJson = ''] = result.stdout.trim().split('\t');
  const runtimes = parseJsonObject(runtimesJson) ?? {};
  const wanted = ociRuntime ?? defaultRuntime;
  const entry = runtimes[wanted];
  if (!entry) {
    const registered = Object.keys(runtimes).join(', ') || 'none';
    return {
      name,
      isDefault: !ociRuntime,
      usable: false,
      problem: missingMessage(
        'docker',
        ociRuntime,
        `not registered with dockerd (registered: ${registered})`,
      ),
    };
  }
  const path = typeof entry === 'object' ? (entry as { path?: unknown }).path : undefined;
  return {
    name: wanted,
    isDefault: !ociRuntime,
    usable: true,
    ...(typeof path === 'string' ? { path } : {}),
  };
}

/** Debian/Ubuntu package of each runtime we name. */
const PACKAGES: Readonly<Record<string, string>> = { runc: 'runc', crun: 'crun', runsc: 'runsc' };

function missingMessage(engine: ContainerEngine, ociRuntime: string | undefined, detail: string): string {
  if (!ociRuntime) return `${engine} has no usable default OCI runtime: ${detail}`;
  const shown = describeOciRuntime(ociRuntime);
  const pkg = PACKAGES[basename(ociRuntime)];
  const install =
    (pkg ? `install it (Debian/Ubuntu: sudo apt-get install ${pkg})` : 'install it') +
    (isAbsolute(ociRuntime) ? ' or correct the path' : '');
  const register =
    engine === 'docker'
      ? ` and register it in /etc/docker/daemon.json ("runtimes": {"${basename(ociRuntime)}": {"path": "/usr/bin/${basename(ociRuntime)}"${
          isGvisor(ociRuntime) ? ', "runtimeArgs": ["--network=none"]' : ''
        }}}), then restart dockerd`
      : '';
  return (
    `MCP_BRIDGE_OCI_RUNTIME=${ociRuntime}: ${engine} cannot use the OCI runtime ${shown} (${detail}). ` +
    `To use it, ${install}${register}; or unset MCP_BRIDGE_OCI_RUNTIME to use ${engine}'s default runtime.`
  );
}

function lastLines(text: string): string {
  return text
    .trim()
    .split('\n')
    .slice(-2)
    .join(' ')
    .replace(/^Error:\s*/, '')
    .trim();
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
