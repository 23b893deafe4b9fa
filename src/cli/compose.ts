/** Builds the bridge's parts from settings and owns their shutdown; shared by `serve`, `run` and `servers`. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoveryOperations } from '../engine/discovery-operations.js';
import { Engine } from '../engine/engine.js';
import { skillOperations, skillsForRun } from '../engine/skills/skill-operations.js';
import { SkillStore } from '../engine/skills/skill-store.js';
import type { UpstreamPort } from '../engine/types.js';
import { upstreamPort } from '../engine/upstream-port.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { Logger } from '../shared/logger.js';
import { discoverServers, shadowedServers } from '../upstream/config/discover.js';
import type { DiscoveryResult } from '../upstream/config/types.js';
import { UpstreamPool } from '../upstream/upstream-pool.js';
import { createSandboxes } from './sandboxes.js';
import type { Settings } from './settings.js';

const BRIDGE_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const CONNECT_TIMEOUT_MS = 30_000;

export interface Bridge {
  engine: Engine;
  sandboxes: SandboxService;
  upstreams: UpstreamPool;
  /** The engine's port onto `upstreams`. */
  port: UpstreamPort;
  discovery: DiscoveryResult;
  close(): Promise<void>;
}

/** Finds the configured upstream servers and logs what the user should know about their config files. */
export async function discover(logger: Logger): Promise<DiscoveryResult> {
  const discovery = await discoverServers({
    home: homedir(),
    cwd: process.cwd(),
    env: process.env,
    platform: process.platform,
    selfPath: BRIDGE_MAIN,
  });
  for (const warning of discovery.warnings) logger.warn(warning.message, { file: warning.source });
  for (const skipped of discovery.skipped) {
    logger.debug('skipped MCP server entry', {
      server: skipped.name,
      reason: skipped.reason,
      detail: skipped.detail,
    });
  }
  // Said at info (not debug): a server silently taken from another file than the one being edited is
  // a classic source of confusion.
  for (const { name, source, shadowed } of shadowedServers(discovery)) {
    logger.info('MCP server defined more than once; the first definition is used', {
      server: name,
      used: source,
      shadowed: shadowed.join(', '),
    });
  }
  for (const path of discovery.missing) logger.debug('no MCP config here', { path });
  logger.debug('discovered MCP servers', {
    servers: discovery.servers.map((server) => server.name).join(',') || 'none',
    files: discovery.filesRead.length,
  });
  return discovery;
}

export function createUpstreamPool(
  settings: Settings,
  discovery: DiscoveryResult,
  logger: Logger,
  version: string,
) {
  return new UpstreamPool({
    servers: discovery.servers,
    clientVersion: version,
    idleTimeoutMs: settings.idleTimeoutMs,
    callTimeoutMs: settings.callTimeoutMs,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    logger,
  });
}

/** The saved skills, under `<MCP_BRIDGE_STATE_DIR>/skills`. */
export function createSkillStore(settings: Pick<Settings, 'stateDir'>): SkillStore {
  return new SkillStore({ dir: join(settings.stateDir, 'skills') });
}

export async function composeBridge(
  settings: Settings,
  logger: Logger,
  options: { version: string; poolSize?: number; sandboxes?: SandboxService },
): Promise<Bridge> {
  // First: a channel that cannot work with the OCI runtime is a configuration error.
  const sandboxes = options.sandboxes ?? createSandboxes(settings, logger, options.poolSize);
  const discovery = await discover(logger);
  const upstreams = createUpstreamPool(settings, discovery, logger, options.version);
  const port = upstreamPort(upstreams);
  const skills = createSkillStore(settings);
  const engine = new Engine({
    sandboxes,
    upstreams: port,
    hostOperations: { ...discoveryOperations(port, skills), ...skillOperations(skills) },
    skills: { forRun: () => skillsForRun(skills, logger) },
    defaultTimeoutMs: settings.timeoutMs,
    maxTimeoutMs: settings.maxTimeoutMs,
    maxOutputChars: settings.maxOutputChars,
    maxConcurrentRuns: settings.maxConcurrentRuns,
    memoryLimit: settings.memory,
    logger,
  });
  let closing: Promise<void> | undefined;
  return {
    engine,
    sandboxes,
    upstreams,
    port,
    discovery,
    close() {
      closing ??= Promise.all([sandboxes.close(), upstreams.close()]).then(() => {});
      return closing;
    },
  };
}
