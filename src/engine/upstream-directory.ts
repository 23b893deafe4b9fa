/** Joins the engine to the upstream pool: grants become sandbox metadata, failures become `ToolError`s. */
import { HostCallError, type ServerGrant } from '../sandbox/types.js';
import { BridgeError } from '../shared/errors.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import type { ServerDirectory } from './types.js';

export function upstreamDirectory(pool: UpstreamPool): ServerDirectory {
  return {
    serverNames: () => pool.serverNames(),
    catalog: () => pool.catalog(),
    async grant(names, signal): Promise<ServerGrant[]> {
      const requested = [...new Set(names)];
      pool.assertKnown(requested);
      return Promise.all(requested.map((name) => pool.describe(name, signal)));
    },
    async callTool(request, signal) {
      try {
        return await pool.callTool(request.server, request.tool, request.args, signal, {
          raw: request.raw === true,
        });
      } catch (error) {
        if (error instanceof BridgeError) throw new HostCallError(error.message, error.code);
        throw error;
      }
    },
  };
}
