/**
 * What `codemode-bridge doctor` reports about sandboxes: every runtime probed, the one selected and
 * why, the OCI runtime, the frame channel, the image, a real sandbox started with the bridge's own
 * flags, and the embedded snapshot. The sandbox layer's one entry for diagnosis, so the CLI formats a
 * report instead of reaching into backends.
 */
import { availableParallelism } from 'node:os';
import { BridgeError, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { ContainerBackend } from './container/container-backend.js';
import { imageExists } from './container/engine-probe.js';
import { describeOciRuntime, type OciRuntimeProbe, probeOciRuntime } from './container/oci-runtime.js';
import type { ContainerEngine, ContainerLimits } from './container/run-args.js';
import { type ChannelChoice, resolveChannel } from './container/socket-channel.js';
import { describeCpuControl, describeEmbeddedCpuShares } from './cpu-weight.js';
import { embeddedStateDir } from './embedded/embedded-backend.js';
import { parseSize } from './embedded/limits.js';
import { resolveEmbeddedPaths } from './embedded/paths.js';
import { snapshotKeyOf } from './embedded/snapshot-key.js';
import { inspectSnapshots } from './embedded/snapshot-store.js';
import { MontyTier, probeMontyTier } from './monty/monty-tier.js';
import { AUTO_ORDER, probeRuntime, type RuntimePreference, selectRuntime } from './select.js';

const TRIAL_START_TIMEOUT_MS = 60_000;

export interface DiagnoseOptions {
  runtime: RuntimePreference | 'monty';
  image: string;
  ociRuntime: string | undefined;
  containerChannel: ChannelChoice;
  limits: ContainerLimits;
  stateDir: string;
  /** MCP_BRIDGE_CPU_SHARES: `off` is reported as such instead of the mechanism. Default `auto`. */
  cpuShares?: 'auto' | 'off';
  logger: Logger;
}

/** The line that says how principals' sandboxes share the CPU (docs/team.md, "Fair shares"). */
function cpuSharesLine(options: DiagnoseOptions, mechanism: string): string {
  return options.cpuShares === 'off'
    ? 'cpu shares between principals: off (MCP_BRIDGE_CPU_SHARES=off)'
    : `cpu shares between principals (with a tokens file or OAuth): ${mechanism}; while several are active, each runs at most its share of the ${availableParallelism()} cores in full-Python sandboxes`;
}

/** Report lines (`label: text`, or a `runtimes` list) and whether a run could start. */
export interface SandboxReport {
  lines: string[];
  healthy: boolean;
}

export async function diagnoseSandboxes(options: DiagnoseOptions): Promise<SandboxReport> {
  const lines = ['runtimes:'];
  let healthy = true;
  // Every runtime is probed (not just up to the first usable one), so the report shows them all.
  const probes = await Promise.all(AUTO_ORDER.map((runtime) => probeRuntime(runtime)));
  for (const probe of probes) {
    lines.push(`  ${probe.runtime}: ${probe.usable ? `usable (${probe.version})` : probe.problem}`);
  }
  const monty = await probeMontyTier();
  lines.push(`  monty: ${monty.usable ? `usable (Monty ${monty.version}, ${monty.binary})` : monty.problem}`);
  const withTier = options.runtime === 'monty' || (options.runtime === 'auto' && !options.ociRuntime);
  if (monty.usable) lines.push(`monty workers: ${monty.confinement}`);
  if (withTier) {
    const trial = monty.usable
      ? await tryMonty(options)
      : { ok: false, message: monty.problem ?? 'unusable' };
    lines.push(`monty tier: ${trial.message}`);
    if (options.runtime === 'monty') {
      lines.push(
        'selected: monty (MCP_BRIDGE_RUNTIME=monty): every program on Monty; no full-Python sandbox',
      );
      return { lines, healthy: trial.ok };
    }
    lines.push(
      trial.ok
        ? 'routing: Monty for programs that fit its subset, full Python (below) for the rest'
        : 'routing: every program on full Python (below): the Monty tier is not usable',
    );
  } else if (options.runtime === 'auto') {
    lines.push('routing: every program on full Python: MCP_BRIDGE_OCI_RUNTIME asks for containers');
  }
  try {
    const selection = await selectRuntime(options.runtime === 'monty' ? 'auto' : options.runtime, {
      image: options.image,
      ociRuntime: options.ociRuntime,
      probe: async (runtime) =>
        probes.find((candidate) => candidate.runtime === runtime) ?? probeRuntime(runtime),
    });
    lines.push(`selected: ${selection.runtime} (${selection.reason})`);
    if (selection.runtime !== 'embedded') {
      const container = await diagnoseContainers(
        options,
        selection.runtime,
        selection.version,
        selection.ociRuntime,
      );
      lines.push(...container.lines);
      healthy = container.healthy;
    } else {
      lines.push(cpuSharesLine(options, await describeEmbeddedCpuShares()));
    }
  } catch (error) {
    const invalid = error instanceof BridgeError && error.code === 'CONFIG_INVALID';
    lines.push(`${invalid ? 'invalid configuration' : 'no sandbox runtime'}: ${errorMessage(error)}`);
    healthy = false;
  }
  if (probes.some((probe) => probe.runtime === 'embedded' && probe.usable)) {
    lines.push(`embedded snapshot: ${await describeEmbeddedSnapshot(options.stateDir)}`);
  }
  return { lines, healthy };
}

async function diagnoseContainers(
  options: DiagnoseOptions,
  engine: ContainerEngine,
  version: string | undefined,
  selected: OciRuntimeProbe | undefined,
): Promise<SandboxReport> {
  const lines: string[] = [];
  const ociRuntime = selected ?? (await probeOciRuntime(engine, undefined));
  lines.push(`OCI runtime: ${describeOciProbe(engine, ociRuntime)}`);
  if (!options.ociRuntime) lines.push(`gVisor: ${await describeGvisorOption(engine)}`);
  const channel = resolveChannel(options.containerChannel, process.platform, process.env, options.ociRuntime);
  lines.push(
    `container frames: ${channel === 'socket' ? 'a bind-mounted Unix socket' : "the engine's attached stdio"}`,
  );
  const present = await imageExists(engine, options.image);
  lines.push(
    `image ${options.image}: ${present ? 'present' : `missing — pull it with: ${engine} pull ${options.image}`}`,
  );
  let healthy = present && ociRuntime.usable;
  if (healthy) {
    const trial = await tryStart(options, engine, version, channel);
    lines.push(`sandbox start: ${trial.message}`);
    if (trial.cpu) lines.push(cpuSharesLine(options, trial.cpu));
    healthy = trial.ok;
  }
  return { lines, healthy };
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
  options: DiagnoseOptions,
  engine: ContainerEngine,
  version: string | undefined,
  channel: 'socket' | 'stdio',
): Promise<{ ok: boolean; message: string; cpu?: string }> {
  const backend = new ContainerBackend({
    engine,
    ...(version ? { version } : {}),
    image: options.image,
    limits: options.limits,
    channel,
    ociRuntime: options.ociRuntime,
    cpuWeights: true,
    logger: options.logger,
  });
  const startedAt = performance.now();
  try {
    const sandbox = await backend.start(AbortSignal.timeout(TRIAL_START_TIMEOUT_MS));
    const ms = Math.round(performance.now() - startedAt);
    const cpu = describeCpuControl(await sandbox.cpuControl());
    await sandbox.destroy();
    return { ok: true, message: `ok (ready in ${ms} ms)`, cpu };
  } catch (error) {
    return { ok: false, message: `failed: ${errorMessage(error)}` };
  } finally {
    await backend.close();
  }
}

/** Runs `print(1)` on a real worker, confined as serving confines it. */
async function tryMonty(options: DiagnoseOptions): Promise<{ ok: boolean; message: string }> {
  const tier = new MontyTier({
    memoryBytes: parseSize(options.limits.memory),
    maxTimeoutMs: 10_000,
    minIdle: 0,
    logger: options.logger,
  });
  const startedAt = performance.now();
  let printed = '';
  try {
    const { exit } = await tier.run(
      { runId: 'doctor', code: 'print(1 + 1)', servers: [], catalog: [] },
      {
        onOutput: (_stream, data) => {
          printed += data;
        },
        callTool: () => Promise.reject(new Error('no tools in a trial run')),
        callHost: () => Promise.reject(new Error('no host operations in a trial run')),
      },
      AbortSignal.timeout(TRIAL_START_TIMEOUT_MS),
      { fallback: false, owner: 'doctor' },
    );
    const ms = Math.round(performance.now() - startedAt);
    if (exit.kind === 'done' && exit.ok && printed === '2\n')
      return { ok: true, message: `ok (${tier.description}; a first run in ${ms} ms)` };
    return { ok: false, message: `a trial run failed: ${JSON.stringify(exit)} ${JSON.stringify(printed)}` };
  } catch (error) {
    return { ok: false, message: `failed: ${errorMessage(error)}` };
  } finally {
    await tier.close();
  }
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
