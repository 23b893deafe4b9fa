/** Joins the engine to the upstream pool: grants become sandbox metadata, failures become `ToolError`s. */
import { HostCallError, type ServerGrant } from '../sandbox/types.js';
import { BridgeError } from '../shared/errors.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { ServerDirectory } from './types.js';

export function upstreamDirectory(pool: UpstreamPool): ServerDirectory {
  return {
    serverNames: () => pool.serverNames(),
    catalog: () => pool.serverNames().map((name) => ({ name, alias: pool.aliasOf(name) ?? name })),
    async grant(names, signal): Promise<ServerGrant[]> {
      const requested = [...new Set(names)];
      const known = new Set(pool.serverNames());
      const unknown = requested.filter((name) => !known.has(name));
      if (unknown.length > 0) {
        const list = unknown.map((name) => `'${name}'`).join(', ');
        const configured =
          known.size > 0 ? `Configured servers: ${[...known].join(', ')}.` : 'No MCP servers are configured.';
        throw new BridgeError(
          'UNKNOWN_SERVER',
          `Unknown MCP server${unknown.length > 1 ? 's' : ''} ${list}. ${configured}`,
          {
            details: { unknown },
          },
        );
      }
      return Promise.all(requested.map((name) => pool.describe(name, signal)));
    },
    async callTool(request, signal) {
      try {
        return await pool.callTool(request.server, request.tool, request.args, signal);
      } catch (error) {
        if (error instanceof BridgeError) throw new HostCallError(error.message, error.code);
        throw error;
      }
    },
  };
}
