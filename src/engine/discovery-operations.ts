/**
 * Host side of `mcp.runtime`: the `call` operations a program may make to learn about servers it has
 * not been granted. Each answer carries metadata only; calling a tool still needs a grant.
 */
import { HostCallError } from '../sandbox/types.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import { buildSearchIndex, type SearchIndex, searchTools } from '../upstream/search.js';
import type { ServerDescription, UpstreamPool } from '../upstream/upstream-pool.js';
import type { HostOperation } from './engine.js';

const MAX_SEARCH_LIMIT = 50;
/**
 * Host operations run on the bridge's only thread, beside every other run: their inputs are capped
 * so that no program can make one expensive. A task description is a sentence, not a document.
 */
export const MAX_QUERY_CHARS = 2000;
const MAX_NAME_CHARS = 256;

export interface DescribedServers {
  described: ServerDescription[];
  unavailable: Array<{ server: string; error: string }>;
}

/** Describes every configured server (connecting as needed); servers that fail are listed, not fatal. */
async function describeAll(pool: UpstreamPool, signal: AbortSignal): Promise<DescribedServers> {
  const settled = await Promise.allSettled(pool.serverNames().map((name) => pool.describe(name, signal)));
  const result: DescribedServers = { described: [], unavailable: [] };
  settled.forEach((outcome, index) => {
    if (outcome.status === 'fulfilled') result.described.push(outcome.value);
    else
      result.unavailable.push({
        server: pool.serverNames()[index] ?? '?',
        error: errorMessage(outcome.reason),
      });
  });
  return result;
}

function stringArg(args: Record<string, unknown>, key: string, maxChars: number): string {
  const value = args[key];
  if (typeof value !== 'string' || value === '')
    throw new HostCallError(`'${key}' must be a non-empty string`, 'BAD_ARGUMENTS');
  if (value.length > maxChars) {
    throw new HostCallError(
      `'${key}' is ${value.length.toLocaleString('en-US')} characters; the limit is ${maxChars.toLocaleString('en-US')}`,
      'BAD_ARGUMENTS',
    );
  }
  return value;
}

export function discoveryOperations(pool: UpstreamPool): Record<string, HostOperation> {
  // The index is rebuilt only when a server's description changed (a new session, a reconnect).
  let cached: { key: ServerDescription[]; index: SearchIndex } | undefined;
  const indexFor = (described: ServerDescription[]): SearchIndex => {
    const same =
      cached && cached.key.length === described.length && cached.key.every((d, i) => d === described[i]);
    if (!same || !cached) cached = { key: described, index: buildSearchIndex(described) };
    return cached.index;
  };

  return {
    list_servers: async () => pool.catalog(),

    describe_server: async (args, signal) => {
      const name = stringArg(args, 'name', MAX_NAME_CHARS);
      try {
        return await pool.describe(name, signal);
      } catch (error) {
        if (error instanceof BridgeError) throw new HostCallError(error.message, error.code);
        throw error;
      }
    },

    search_tool_docs: async (args, signal) => {
      const query = typeof args.query === 'string' ? args.query : '';
      if (query.length > MAX_QUERY_CHARS) {
        throw new HostCallError(
          `the query is ${query.length.toLocaleString('en-US')} characters; the limit is ` +
            `${MAX_QUERY_CHARS.toLocaleString('en-US')}. Describe the task in a sentence or a few keywords.`,
          'BAD_ARGUMENTS',
        );
      }
      const limit = Math.min(MAX_SEARCH_LIMIT, Math.max(1, Math.trunc(Number(args.limit ?? 5)) || 5));
      const { described, unavailable } = await describeAll(pool, signal);
      const byName = new Map(described.map((server) => [server.name, server]));
      const hits = searchTools(indexFor(described), query, limit).flatMap((hit) => {
        const server = byName.get(hit.server);
        const tool = server?.tools.find((candidate) => candidate.name === hit.tool);
        return server && tool
          ? [{ server: { name: server.name, alias: server.alias }, tool, score: hit.score }]
          : [];
      });
      return { hits, unavailable };
    },
  };
}
