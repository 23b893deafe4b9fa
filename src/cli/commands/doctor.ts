/** `codemode-bridge doctor`: which runtimes are usable, which one is used and why, and what is configured. */
import { ContainerBackend } from '../../sandbox/container/container-backend.js';
import { imageExists } from '../../sandbox/container/engine-probe.js';
import {
  describeOciRuntime,
  type OciRuntimeProbe,
  probeOciRuntime,
} from '../../sandbox/container/oci-runtime.js';
import type { ContainerEngine } from '../../sandbox/container/run-args.js';
import { resolveChannel } from '../../sandbox/container/socket-channel.js';
import { embeddedStateDir } from '../../sandbox/embedded/embedded-backend.js';
import { resolveEmbeddedPaths } from '../../sandbox/embedded/paths.js';
import { snapshotKeyOf } from '../../sandbox/embedded/snapshot-key.js';
import { inspectSnapshots } from '../../sandbox/embedded/snapshot-store.js';
import { AUTO_ORDER, probeRuntime, selectRuntime } from '../../sandbox/select.js';
import { BridgeError, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { containerLimits, discover } from '../compose.js';
import { VERSION } from '../context.js';
import type { Settings } from '../settings.js';

const TRIAL_START_TIMEOUT_MS = 60_000;

export async function doctor(settings: Settings, logger: Logger): Promise<number> {
  const lines = [
    `codemode-bridge ${VERSION}`,
    `MCP_BRIDGE_RUNTIME=${settings.runtime}`,
    `MCP_BRIDGE_OCI_RUNTIME=${settings.ociRuntime ?? "(unset: the engine's default)"}`,
    'runtimes:',
  ];
  let healthy = true;
  // Every runtime is probed (not just up to the first usable one), so the report shows them all.
  const probes = await Promise.all(AUTO_ORDER.map((runtime) => probeRuntime(runtime)));
  for (const probe of probes) {
    lines.push(`  ${probe.runtime}: ${probe.usable ? `usable (${probe.version})` : probe.problem}`);
  }
  try {
    const selection = await selectRuntime(settings.runtime, {
      image: settings.image,
      ociRuntime: settings.ociRuntime,
      probe: async (runtime) =>
        probes.find((candidate) => candidate.runtime === runtime) ?? probeRuntime(runtime),
    });
    lines.push(`selected: ${selection.runtime} (${selection.reason})`);
    if (selection.runtime !== 'embedded') {
      const engine = selection.runtime;
      const ociRuntime = selection.ociRuntime ?? (await probeOciRuntime(engine, undefined));
      lines.push(`OCI runtime: ${describeOciProbe(engine, ociRuntime)}`);
      if (!settings.ociRuntime) lines.push(`gVisor: ${await describeGvisorOption(engine)}`);
      const channel = resolveChannel(
        settings.containerChannel,
        process.platform,
        process.env,
        settings.ociRuntime,
      );
      lines.push(
        `container frames: ${channel === 'socket' ? 'a bind-mounted Unix socket' : "the engine's attached stdio"}`,
      );
      const present = await imageExists(engine, settings.image);
      lines.push(
        `image ${settings.image}: ${present ? 'present' : `missing — pull it with: ${engine} pull ${settings.image}`}`,
      );
      healthy = present && ociRuntime.usable;
      if (healthy) {
        const trial = await tryStart(settings, logger, engine, selection.version, channel);
        lines.push(`sandbox start: ${trial.message}`);
        healthy = trial.ok;
      }
    }
  } catch (error) {
    const invalid = error instanceof BridgeError && error.code === 'CONFIG_INVALID';
    lines.push(`${invalid ? 'invalid configuration' : 'no sandbox runtime'}: ${errorMessage(error)}`);
    healthy = false;
  }
  if (probes.some((probe) => probe.runtime === 'embedded' && probe.usable)) {
    lines.push(`embedded snapshot: ${await describeEmbeddedSnapshot(settings.stateDir)}`);
  }
  lines.push(...(await describeConfigFiles(logger)));
  process.stdout.write(`${lines.join('\n')}\n`);
  return healthy ? 0 : 1;
}

function describeOciProbe(engine: ContainerEngine, probe: OciRuntimeProbe): string {
  if (!probe.usable) return `${probe.name}: ${probe.problem}`;
  const name = probe.isDefault ? `${probe.name} (${engine}'s default)` : describeOciRuntime(probe.name);
  const details = [probe.path, probe.version].filter(Boolean).join(', ');
  return details ? `${name} — ${details}` : name;
}

/** Whether gVisor could be switched on, so the option is visible to whoever runs doctor. */
async function describeGvisorOption(engine: ContainerEngine): Promise<string> {
  const probe = await probeOciRuntime(engine, 'runsc');
  if (!probe.usable) {
    return `not available to ${engine} (for a user-space kernel between the code and the host: sudo apt-get install runsc${
      engine === 'docker' ? ', then register it in /etc/docker/daemon.json' : ''
    }, then set MCP_BRIDGE_OCI_RUNTIME=runsc)`;
  }
  return `runsc available${probe.version ? ` (${probe.version})` : ''}; set MCP_BRIDGE_OCI_RUNTIME=runsc to use it`;
}

/** Starts one sandbox with the bridge's own flags and removes it: the only proof the whole setup works. */
async function tryStart(
  settings: Settings,
  logger: Logger,
  engine: ContainerEngine,
  version: string | undefined,
  channel: 'socket' | 'stdio',
): Promise<{ ok: boolean; message: string }> {
  const backend = new ContainerBackend({
    engine,
    ...(version ? { version } : {}),
    image: settings.image,
    limits: containerLimits(settings),
    channel,
    ociRuntime: settings.ociRuntime,
    logger,
  });
  const startedAt = performance.now();
  try {
    const sandbox = await backend.start(AbortSignal.timeout(TRIAL_START_TIMEOUT_MS));
    const ms = Math.round(performance.now() - startedAt);
    await sandbox.destroy();
    return { ok: true, message: `ok (ready in ${ms} ms)` };
  } catch (error) {
    return { ok: false, message: `failed: ${errorMessage(error)}` };
  } finally {
    await backend.close();
  }
}

async function describeConfigFiles(logger: Logger): Promise<string[]> {
  const discovery = await discover(logger);
  const lines = ['MCP config files read:'];
  for (const file of discovery.filesRead) {
    const servers = discovery.servers.filter((server) => server.source === file).map((server) => server.name);
    // Names this file defines too late to count: an earlier file (or section) defines them first.
    const shadowed = discovery.skipped
      .filter((skipped) => skipped.reason === 'duplicate' && skipped.source === file)
      .map((skipped) => skipped.name);
    const parts = [
      ...(servers.length > 0 ? [servers.join(', ')] : []),
      ...(shadowed.length > 0 ? [`shadowed by an earlier definition: ${shadowed.join(', ')}`] : []),
    ];
    lines.push(`  ${file}${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`);
  }
  if (discovery.filesRead.length === 0) lines.push('  none found (see README, "Where servers are found")');
  for (const warning of discovery.warnings) lines.push(`  warning: ${warning.message}`);
  lines.push(`servers: ${discovery.servers.length} (codemode-bridge servers --check connects to each)`);
  return lines;
}

async function describeEmbeddedSnapshot(stateDir: string): Promise<string> {
  try {
    const paths = resolveEmbeddedPaths();
    const dir = embeddedStateDir(stateDir);
    const { snapshot } = await inspectSnapshots(dir, await snapshotKeyOf(paths));
    if (!snapshot) return `absent in ${dir} (built on first use, ~4 s; workers start cold meanwhile)`;
    const size = `${(snapshot.size / 1024 / 1024).toFixed(1)} MiB`;
    return snapshot.valid
      ? `${snapshot.file}: present, valid, ${size}`
      : `${snapshot.file}: present but corrupt (${size}); it is deleted and rebuilt on next use`;
  } catch (error) {
    return `cannot be inspected: ${errorMessage(error)}`;
  }
}
