/** Builds the bridge's parts from settings and owns their shutdown; shared by `serve` and `run`. */
import { Engine } from '../engine/engine.js';
import type { ServerDirectory } from '../engine/types.js';
import { SandboxService } from '../sandbox/sandbox-service.js';
import { BridgeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Settings } from './settings.js';

export interface Bridge {
  engine: Engine;
  sandboxes: SandboxService;
  directory: ServerDirectory;
  close(): Promise<void>;
}

/** Upstream proxying is configured per user; with none configured, every name is unknown. */
const noServers: ServerDirectory = {
  serverNames: () => [],
  grant: async (names) => {
    throw new BridgeError(
      'UNKNOWN_SERVER',
      `Unknown MCP server${names.length > 1 ? 's' : ''} ${names.map((n) => `'${n}'`).join(', ')}: no MCP servers are configured.`,
      { details: { names } },
    );
  },
  callTool: async (request) => {
    throw new BridgeError('UNKNOWN_SERVER', `Unknown MCP server '${request.server}'.`);
  },
};

export function composeBridge(
  settings: Settings,
  logger: Logger,
  options: { poolSize?: number } = {},
): Bridge {
  const sandboxes = new SandboxService({
    runtime: settings.runtime,
    image: settings.image,
    limits: {
      memory: settings.memory,
      pidsLimit: settings.pids,
      cpus: settings.cpus,
      user: settings.containerUser,
      tmpfsSize: settings.tmpfsSize,
    },
    poolSize: options.poolSize ?? settings.poolSize,
    logger,
  });
  const directory = noServers;
  const engine = new Engine({
    sandboxes,
    directory,
    defaultTimeoutMs: settings.timeoutMs,
    maxTimeoutMs: settings.maxTimeoutMs,
    maxOutputChars: settings.maxOutputChars,
    memoryLimit: settings.memory,
    logger,
  });
  let closing: Promise<void> | undefined;
  return {
    engine,
    sandboxes,
    directory,
    close() {
      closing ??= sandboxes.close();
      return closing;
    },
  };
}
