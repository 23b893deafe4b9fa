/**
 * Host side of `mcp.runtime`: the `call` operations a program may make to learn about servers it has
 * not been granted (and, in searches, about saved skills). Each answer carries metadata only; calling
 * a tool still needs a grant.
 */
import {
  type CatalogEntry,
  HostCallError,
  type ServerGrant,
  type SkillGrant,
  type ToolGrant,
} from '../sandbox/types.js';
import { groupDigits } from '../shared/digits.js';
import type { HostOperation } from './engine.js';
import { localPrincipal } from './principal.js';
import type { SkillNamespaces } from './skills/skill-namespaces.js';
import { skillGrant } from './skills/skill-operations.js';
import type { StoredSkill } from './skills/skill-store.js';
import type { UpstreamPort } from './types.js';

const MAX_SEARCH_LIMIT = 50;
/**
 * Host operations run on the bridge's only thread, beside every other run: their inputs are capped
 * so that no program can make one expensive. A task description is a sentence, not a document.
 */
const MAX_QUERY_CHARS = 2000;
const MAX_NAME_CHARS = 256;

function stringArg(args: Record<string, unknown>, key: string, maxChars: number): string {
  const value = args[key];
  if (typeof value !== 'string' || value === '')
    throw new HostCallError(`'${key}' must be a non-empty string`, 'BAD_ARGUMENTS');
  if (value.length > maxChars) {
    throw new HostCallError(
      `'${key}' is ${groupDigits(value.length)} characters; the limit is ${groupDigits(maxChars)}`,
      'BAD_ARGUMENTS',
    );
  }
  return value;
}

/** One hit of `search_tool_docs`: a tool (with its server's name and alias) or a saved skill. */
type SearchAnswerHit =
  | { server: { name: string; alias: string }; tool: ToolGrant; score: number }
  | { skill: Omit<SkillGrant, 'source'>; score: number };

/**
 * Saved skills as one more "server" for the ranker, under a name no configured server has, so a hit
 * can be told apart. Each skill's parameters stand in for a tool's input schema.
 */
function skillsAsServer(skills: readonly StoredSkill[], catalog: readonly CatalogEntry[]): ServerGrant {
  const taken = new Set(catalog.map((entry) => entry.name));
  let name = 'skills';
  for (let n = 2; taken.has(name); n++) name = `skills_${n}`;
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

/** `skills`: whose skills `search_tool_docs` ranks beside the tools (the run's principal's). Default: none. */
export function discoveryOperations(
  upstreams: UpstreamPort,
  skills?: SkillNamespaces,
): Record<string, HostOperation> {
  // The skills as a pseudo-server, rebuilt only when the store's listing changed (it returns the same
  // array while nothing did), so the port's search index is kept between searches.
  let asServer: { saved: readonly StoredSkill[]; servers: readonly ServerGrant[] } | undefined;
  const skillServers = (saved: readonly StoredSkill[]): readonly ServerGrant[] => {
    if (asServer?.saved !== saved) {
      const usable = saved.filter((skill) => skill.source !== undefined);
      asServer = {
        saved,
        servers: usable.length > 0 ? [skillsAsServer(usable, upstreams.catalog())] : [],
      };
    }
    return asServer.servers;
  };

  return {
    list_servers: async () => upstreams.catalog(),

    describe_server: async (args, signal) => {
      const [described] = await upstreams.describe([stringArg(args, 'name', MAX_NAME_CHARS)], signal);
      return described;
    },

    search_tool_docs: async (args, signal, context) => {
      const query = typeof args.query === 'string' ? args.query : '';
      if (query.length > MAX_QUERY_CHARS) {
        throw new HostCallError(
          `the query is ${groupDigits(query.length)} characters; the limit is ` +
            `${groupDigits(MAX_QUERY_CHARS)}. Describe the task in a sentence or a few keywords.`,
          'BAD_ARGUMENTS',
        );
      }
      const limit = Math.min(MAX_SEARCH_LIMIT, Math.max(1, Math.trunc(Number(args.limit ?? 5)) || 5));
      const principal = context?.principal ?? localPrincipal();
      const saved = skills ? await skills.visible(principal).catch((): StoredSkill[] => []) : [];
      const { hits, described, unavailable } = await upstreams.search(
        query,
        limit,
        signal,
        skillServers(saved),
      );
      const byName = new Map(described.map((server) => [server.name, server]));
      const skillsByName = new Map(saved.map((skill) => [skill.name, skill]));
      const answer = hits.flatMap((hit): SearchAnswerHit[] => {
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
      return { hits: answer, unavailable };
    },
  };
}
