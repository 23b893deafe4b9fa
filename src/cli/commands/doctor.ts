/** `codemode-bridge doctor`: which runtimes are usable, which one is used and why, and what is configured. */
import { imageExists } from '../../sandbox/container/engine-probe.js';
import { embeddedStateDir } from '../../sandbox/embedded/embedded-backend.js';
import { resolveEmbeddedPaths } from '../../sandbox/embedded/paths.js';
import { snapshotKeyOf } from '../../sandbox/embedded/snapshot-key.js';
import { inspectSnapshots } from '../../sandbox/embedded/snapshot-store.js';
import { AUTO_ORDER, probeRuntime, selectRuntime } from '../../sandbox/select.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { discover } from '../compose.js';
import { VERSION } from '../context.js';
import type { Settings } from '../settings.js';

export async function doctor(settings: Settings, logger: Logger): Promise<number> {
  const lines = [`codemode-bridge ${VERSION}`, `MCP_BRIDGE_RUNTIME=${settings.runtime}`, 'runtimes:'];
  let healthy = true;
  // Every runtime is probed (not just up to the first usable one), so the report shows them all.
  const probes = await Promise.all(AUTO_ORDER.map((runtime) => probeRuntime(runtime)));
  for (const probe of probes) {
    lines.push(`  ${probe.runtime}: ${probe.usable ? `usable (${probe.version})` : probe.problem}`);
  }
  try {
    const selection = await selectRuntime(settings.runtime, {
      image: settings.image,
      probe: async (runtime) =>
        probes.find((candidate) => candidate.runtime === runtime) ?? probeRuntime(runtime),
    });
    lines.push(`selected: ${selection.runtime} (${selection.reason})`);
    if (selection.runtime !== 'embedded') {
      const present = await imageExists(selection.runtime, settings.image);
      lines.push(
        `image ${settings.image}: ${present ? 'present' : `missing — pull it with: ${selection.runtime} pull ${settings.image}`}`,
      );
      healthy = present;
    }
  } catch (error) {
    lines.push(`no sandbox runtime: ${errorMessage(error)}`);
    healthy = false;
  }
  if (probes.some((probe) => probe.runtime === 'embedded' && probe.usable)) {
    lines.push(`embedded snapshot: ${await describeEmbeddedSnapshot(settings.stateDir)}`);
  }
  lines.push(...(await describeConfigFiles(logger)));
  process.stdout.write(`${lines.join('\n')}\n`);
  return healthy ? 0 : 1;
}

async function describeConfigFiles(logger: Logger): Promise<string[]> {
  const discovery = await discover(logger);
  const lines = ['MCP config files read:'];
  for (const file of discovery.filesRead) {
    const servers = discovery.servers.filter((server) => server.source === file).map((server) => server.name);
    lines.push(`  ${file}${servers.length > 0 ? `: ${servers.join(', ')}` : ''}`);
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
