/** Picks the sandbox backend for MCP_BRIDGE_RUNTIME: a named engine, or the first usable one. */
import { BridgeError } from '../shared/errors.js';
import { type EngineProbe, probeEngine } from './container/engine-probe.js';
import type { ContainerEngine } from './container/run-args.js';

export type RuntimePreference = 'auto' | 'podman' | 'docker' | 'embedded';

export interface RuntimeSelection {
  engine: ContainerEngine;
  version?: string;
  /** Every engine that was probed, in order, for `doctor` and error messages. */
  probes: EngineProbe[];
}

const INSTALL_HINT =
  'Install podman (recommended, rootless: e.g. `sudo apt-get install podman`) or Docker, ' +
  'or set MCP_BRIDGE_RUNTIME to a runtime that is installed.';

export async function selectRuntime(preference: RuntimePreference): Promise<RuntimeSelection> {
  if (preference === 'embedded') {
    throw new BridgeError(
      'RUNTIME_UNAVAILABLE',
      `MCP_BRIDGE_RUNTIME=embedded is not available in this version; use podman or docker. ${INSTALL_HINT}`,
    );
  }
  const candidates: ContainerEngine[] = preference === 'auto' ? ['podman', 'docker'] : [preference];
  const probes: EngineProbe[] = [];
  for (const engine of candidates) {
    const probe = await probeEngine(engine);
    probes.push(probe);
    if (probe.usable) return { engine, ...(probe.version ? { version: probe.version } : {}), probes };
  }
  const problems = probes.map((probe) => probe.problem).join('; ');
  throw new BridgeError('RUNTIME_UNAVAILABLE', `No usable sandbox runtime: ${problems}. ${INSTALL_HINT}`, {
    details: { preference },
  });
}
