/**
 * Host side of `mcp.runtime`: the `call` operations a program may make to learn about servers it has
 * not been granted (and, in searches, about saved skills). Each answer carries metadata only; calling
 * a tool still needs a grant.
 */
import { HostCallError, type SkillGrant } from '../sandbox/types.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import { buildSearchIndex, type SearchIndex, searchTools } from '../upstream/search.js';
import type { ServerDescription, ToolDescription, UpstreamPool } from '../upstream/upstream-pool.js';
import type { HostOperation } from './engine.js';
import { skillGrant } from './skills/skill-operations.js';
import type { SkillStore, StoredSkill } from './skills/skill-store.js';

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

/** One hit of `search_tool_docs`: a tool (with its server's name and alias) or a saved skill. */
type SearchAnswerHit =
  | { server: { name: string; alias: string }; tool: ToolDescription; score: number }
  | { skill: Omit<SkillGrant, 'source'>; score: number };

/**
 * Saved skills as one more "server" for the ranker, under a name no configured server has, so a hit
 * can be told apart. Each skill's parameters stand in for a tool's input schema.
 */
function skillsAsServer(skills: readonly StoredSkill[], serverNames: readonly string[]): ServerDescription {
  let name = 'skills';
  for (let n = 2; serverNames.includes(name); n++) name = `skills_${n}`;
  return {
    name,
    alias: 'skills',
    tools: skills.map((skill) => ({
      name: skill.name,
      alias: skill.name,
      description: skill.description,
      inputSchema: { type: 'object', properties: Object.fromEntries(skill.parameters.map((p) => [p, {}])) },
    })),
  };
}

/** `skills`: the store whose skills `search_tool_docs` ranks beside the tools. Default: none. */
export function discoveryOperations(pool: UpstreamPool, skills?: SkillStore): Record<string, HostOperation> {
  // The index is rebuilt only when a server's description changed (a new session, a reconnect) or
  // the skills did (the store returns the same array while nothing changed).
  let cached: { key: ServerDescription[]; skills: readonly StoredSkill[]; index: SearchIndex } | undefined;
  const indexFor = (described: ServerDescription[], saved: readonly StoredSkill[]): SearchIndex => {
    const same =
      cached &&
      cached.skills === saved &&
      cached.key.length === described.length &&
      cached.key.every((d, i) => d === described[i]);
    if (!same || !cached) {
      const usable = saved.filter((skill) => skill.source !== undefined);
      const all = usable.length > 0 ? [...described, skillsAsServer(usable, pool.serverNames())] : described;
      cached = { key: described, skills: saved, index: buildSearchIndex(all) };
    }
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
      const [{ described, unavailable }, saved] = await Promise.all([
        describeAll(pool, signal),
        skills ? skills.list().catch((): StoredSkill[] => []) : Promise.resolve<StoredSkill[]>([]),
      ]);
      const byName = new Map(described.map((server) => [server.name, server]));
      const skillsByName = new Map(saved.map((skill) => [skill.name, skill]));
      const hits = searchTools(indexFor(described, saved), query, limit).flatMap((hit): SearchAnswerHit[] => {
        const skill = byName.has(hit.server) ? undefined : skillsByName.get(hit.tool);
        if (skill) {
          const { source: _source, ...grant } = skillGrant(skill);
          return [{ skill: grant, score: hit.score }];
        }
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
