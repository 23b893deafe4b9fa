/**
 * Discovery: `describe_server` and `search_tool_docs`, the operations through which a program learns
 * about servers it has not been granted (and, in searches, about saved skills). Each answer carries
 * metadata only; calling a tool still needs a grant.
 */
import { z } from 'zod';
import type { CatalogEntry, ServerGrant, SkillGrant, ToolGrant } from '../../sandbox/types.js';
import { groupDigits } from '../../shared/digits.js';
import { localPrincipal, type Principal } from '../principal.js';
import { skillGrant } from '../skills/skill-grant.js';
import type { SkillNamespaces } from '../skills/skill-namespaces.js';
import type { StoredSkill } from '../skills/skill-store.js';
import type { UpstreamPort } from '../types.js';
import { withSignatures } from '../typescript/typescript-run.js';
import { argumentName, type HostOperationSpec, hostOperation } from './registry.js';

const MAX_SEARCH_LIMIT = 50;
const DEFAULT_SEARCH_LIMIT = 5;
/**
 * Host operations run on the bridge's only thread, beside every other run: their inputs are capped
 * so that no program can make one expensive. A task description is a sentence, not a document.
 */
const MAX_QUERY_CHARS = 2000;
const MAX_NAME_CHARS = 256;

/** One hit of `search_tool_docs`: a tool (with its server's name and alias) or a saved skill. */
export type SearchAnswerHit =
  | { server: { name: string; alias: string }; tool: ToolGrant; score: number }
  | { skill: Omit<SkillGrant, 'source'>; score: number };

export interface SearchAnswer {
  hits: SearchAnswerHit[];
  unavailable: Array<{ server: string; error: string }>;
}

/**
 * Ranks the configured servers' tools and the saved skills `principal` sees (its own and the shared)
 * for a query (what `search_tool_docs` answers).
 */
export type ToolSearch = (
  query: string,
  limit: number,
  signal: AbortSignal,
  principal: Principal,
) => Promise<SearchAnswer>;

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

/**
 * The search behind `search_tool_docs` (and the console's): the tools of every configured server and,
 * with `skills`, the saved skills the asking principal sees, ranked together.
 */
export function toolSearch(upstreams: UpstreamPort, skills?: SkillNamespaces): ToolSearch {
  // The skills as a pseudo-server, rebuilt only when a principal's listing changed (the namespaces
  // return the same array while nothing did), so the port's search index is kept between searches.
  // Keyed by that array: principals searching in turn do not rebuild each other's.
  const asServer = new WeakMap<readonly StoredSkill[], readonly ServerGrant[]>();
  const skillServers = (saved: readonly StoredSkill[]): readonly ServerGrant[] => {
    let servers = asServer.get(saved);
    if (!servers) {
      const usable = saved.filter((skill) => skill.source !== undefined);
      servers = usable.length > 0 ? [skillsAsServer(usable, upstreams.catalog())] : [];
      asServer.set(saved, servers);
    }
    return servers;
  };

  return async (query, limit, signal, principal) => {
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
  };
}

/** `typescript`: each tool carries its TypeScript signature (the TypeScript runtime's docs show it). */
const language = z.enum(['python', 'typescript']).optional();

/** A search hit's tool with its TypeScript signature. */
function signedHit(hit: SearchAnswerHit, described: Map<string, ServerGrant>): SearchAnswerHit {
  if (!('tool' in hit)) return hit;
  const server = described.get(hit.server.name);
  const tool = server && withSignatures(server).tools.find((candidate) => candidate.name === hit.tool.name);
  return tool ? { ...hit, tool } : hit;
}

const searchArguments = z.object({
  language,
  // A query of another type is searched as an empty one, as the runtimes never send one.
  query: z.preprocess(
    (value) => (typeof value === 'string' ? value : ''),
    z.string().max(MAX_QUERY_CHARS, {
      error: (issue) =>
        `${argumentName(issue)} is ${groupDigits(String(issue.input).length)} characters; the limit is ` +
        `${groupDigits(MAX_QUERY_CHARS)}. Describe the task in a sentence or a few keywords.`,
    }),
  ),
  // Any limit is taken, clamped to 1…50; one that is no number is the default. (An object is never
  // converted: a frame's `{"valueOf": 1, "toString": 1}` would throw.)
  limit: z
    .unknown()
    .optional()
    .transform((value) => {
      const number = value === null || typeof value === 'object' ? Number.NaN : Number(value ?? Number.NaN);
      const limit = Math.trunc(number) || DEFAULT_SEARCH_LIMIT;
      return Math.min(MAX_SEARCH_LIMIT, Math.max(1, limit));
    }),
});

/** `skills`: whose skills `search_tool_docs` ranks beside the tools (the run's principal's). Default: none. */
export function discoveryOperations(upstreams: UpstreamPort, skills?: SkillNamespaces): HostOperationSpec[] {
  const search = toolSearch(upstreams, skills);
  return [
    hostOperation({
      name: 'describe_server',
      args: z.object({ name: z.string().min(1).max(MAX_NAME_CHARS), language }),
      handler: async ({ name, language }, _context, signal) => {
        const [server] = await upstreams.describe([name], signal);
        return server && language === 'typescript' ? withSignatures(server) : server;
      },
    }),
    hostOperation({
      name: 'search_tool_docs',
      args: searchArguments,
      handler: async ({ query, limit, language }, context, signal) => {
        const answer = await search(query, limit, signal, context.run.principal ?? localPrincipal());
        if (language !== 'typescript') return answer;
        // Skills are Python functions: a TypeScript program is shown tools only.
        const tools = answer.hits.filter((hit) => 'tool' in hit);
        const names = [...new Set(tools.map((hit) => ('tool' in hit ? hit.server.name : '')))];
        const described = new Map(
          (names.length > 0 ? await upstreams.describe(names, signal) : []).map((server) => [
            server.name,
            server,
          ]),
        );
        return { ...answer, hits: tools.map((hit) => signedHit(hit, described)) };
      },
    }),
  ];
}
