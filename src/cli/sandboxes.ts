/**
 * The sandbox service from settings, in a module of its own that imports nothing else of the bridge:
 * `serve` creates it and starts warming first, so the runtime probe and the first containers start
 * while the MCP server and upstream modules are still being evaluated.
 */
import type { ContainerLimits } from '../sandbox/container/run-args.js';
import { resolveChannel } from '../sandbox/container/socket-channel.js';
import { SandboxService } from '../sandbox/sandbox-service.js';
import type { Logger } from '../shared/logger.js';
import type { Settings } from './settings.js';

export function containerLimits(settings: Settings): ContainerLimits {
  return {
    memory: settings.memory,
    pidsLimit: settings.pids,
    cpus: settings.cpus,
    user: settings.containerUser,
    tmpfsSize: settings.tmpfsSize,
    workspaceSize: settings.workspaceSize,
  };
}

/**
 * `poolSize` 0 (a one-off command: `run`, `stubs`) keeps no pool and grows none. Throws CONFIG_INVALID
 * when the container channel cannot work with the OCI runtime.
 */
export function createSandboxes(
  settings: Settings,
  logger: Logger,
  poolSize?: number,
  options: { cpuWeights?: boolean } = {},
): SandboxService {
  const containerChannel = resolveChannel(
    settings.containerChannel,
    process.platform,
    process.env,
    settings.ociRuntime,
  );
  return new SandboxService({
    runtime: settings.runtime,
    maxTimeoutMs: settings.maxTimeoutMs,
    image: settings.image,
    limits: containerLimits(settings),
    poolSize: poolSize ?? settings.poolSize,
    poolMax: poolSize === 0 ? 0 : settings.poolMax,
    // A one-off command exits right after its run: a snapshot build it starts must outlive it.
    oneShot: poolSize === 0,
    stateDir: settings.stateDir,
    containerChannel,
    ociRuntime: settings.ociRuntime,
    ...(options.cpuWeights ? { cpuWeights: true } : {}),
    logger,
  });
}
