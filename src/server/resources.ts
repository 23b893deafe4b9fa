/**
 * What clients that read resources and instructions learn without running code: the servers the bridge
 * found, and how to reach their tools from `run_python`. Tool counts need a session, so resources
 * connect on read; `instructions` (sent at initialize) never waits for an upstream.
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Engine } from '../engine/engine.js';
import type { Principal } from '../engine/principal.js';
import type { Language } from '../engine/types.js';
import { errorMessage, ProtocolError } from '../shared/errors.js';

const CAPABILITIES_URI = 'codemode://capabilities';
const SERVER_URI_PREFIX = 'codemode://servers/';
const SKILLS_URI = 'codemode://skills';
const SKILL_URI_PREFIX = 'codemode://skills/';
const SESSIONS_URI = 'codemode://sessions';
const SUMMARY_CHARS = 160;
/** The JSON-RPC error the MCP specification gives for a resource that does not exist. */
export const RESOURCE_NOT_FOUND = -32002;

const HELPERS = [
  'Inside run_python: `import mcp.runtime as runtime`, then',
  '- `await runtime.search_tool_docs("what you need")`: ranked tools of every server, with signatures',
  '- `await runtime.query_tool_docs(server, tool=None, detail="summary"|"full")`: one server or tool',
  '- `runtime.discovered_servers()`, `await runtime.describe_server(name)`',
  'Grant servers with `servers=[...]`; call `await mcp_<alias>.<tool>(...)`; failures raise `mcp.ToolError`.',
  '`save_tool(func)` keeps a function for later runs (`from skills import name`).',
  '`session="name"` keeps a sandbox between calls; `await runtime.save(k, v)` / `load(k)` keep a value for any run.',
  'A run still going after `yield_after` s returns its output so far and a handle: call again with `wait`=handle.',
];

/** A read of a URI the bridge has no resource for, with what does exist (as the spec's `data.uri`). */
function notFound(uri: URL, what: string, known: string[]): McpError {
  const listed = known.length > 0 ? known.map((name) => JSON.stringify(name)).join(', ') : 'none';
  return new ProtocolError(
    RESOURCE_NOT_FOUND,
    `Resource ${uri.href} not found: ${what}; there are: ${listed}`,
    {
      uri: uri.href,
    },
  );
}

/**
 * `completion/complete` for a template's `{name}`: the names that start with what the user typed
 * (case aside), in name order; the SDK sends the first 100 and says how many there are.
 */
export function completions(typed: string, names: string[]): string[] {
  const prefix = typed.toLowerCase();
  return names.filter((name) => name.toLowerCase().startsWith(prefix)).sort();
}

function summary(text: string | undefined): string {
  // Instructions often open with a markdown heading; the heading's text is the summary.
  const line =
    (text ?? '')
      .trim()
      .split('\n')[0]
      ?.replace(/^#+\s*/, '')
      .trim() ?? '';
  return line.length <= SUMMARY_CHARS ? line : `${line.slice(0, SUMMARY_CHARS - 1)}…`;
}

/** Servers the instructions name; past them, a count and where the full list is. */
const NAMED_SERVERS = 5;
/** How many characters of names (with aliases) the instructions may spend on them. */
const SERVER_LIST_CHARS = 120;

/**
 * The initialize `instructions`: a few servers by name and alias, and how to find their tools. Its
 * size does not grow with the servers configured (clients put it in the model's context on every
 * turn): past a few, the rest are counted, and listed by `codemode://capabilities` and
 * `runtime.discovered_servers()`.
 */
export function buildInstructions(engine: Engine, languages: readonly Language[] = ['python']): string {
  const python = languages.includes('python');
  const catalog = engine.catalog();
  const named: string[] = [];
  let used = 0;
  for (const entry of catalog) {
    const text = python ? `${entry.name} (mcp_${entry.alias})` : `${entry.name} (mcp.${entry.alias})`;
    if (named.length === NAMED_SERVERS || (named.length > 0 && used + text.length > SERVER_LIST_CHARS)) break;
    named.push(text);
    used += text.length + 2;
  }
  const rest = catalog.length - named.length;
  const tool = python ? 'run_python' : 'run_typescript';
  const servers =
    catalog.length === 0
      ? `No upstream MCP servers are configured; ${tool} runs plain ${python ? 'Python' : 'TypeScript'}.`
      : `MCP servers available to ${tool}: ${named.join(', ')}${rest > 0 ? ` and ${rest} more (${CAPABILITIES_URI} lists all)` : ''}.`;
  return [
    python
      ? 'codemode-bridge runs Python for you in a sandbox; MCP tools are async Python functions inside it.'
      : 'codemode-bridge runs TypeScript for you in a sandbox; MCP tools are typed async functions inside it.',
    servers,
    ...(python ? HELPERS : []),
    // With Python beside it, run_typescript's own description says how to reach the tools: the
    // instructions stay within their budget.
    ...(python
      ? []
      : [
          'Grant `servers`, call `await mcp.<alias>.<tool>({...})`; `await mcp.runtime.search("task")` finds tools, `mcp.runtime.docs(server)` shows their types.',
        ]),
    `Resources: ${CAPABILITIES_URI} (every server, its summary and tool count), ${SERVER_URI_PREFIX}<name>, ${SKILLS_URI}, ${SESSIONS_URI}.`,
  ].join('\n');
}

type ServerDescription = Awaited<ReturnType<Engine['describeServer']>>;
type SavedSkill = Awaited<ReturnType<Engine['savedSkills']>>[number];

function describeSkill(skill: SavedSkill): string {
  const versions =
    skill.versions && skill.versions.length > 1 ? `, versions ${skill.versions.join(', ')}` : '';
  const about = skill.description ? ` — ${summary(skill.description)}` : '';
  const servers = skill.servers?.length ? ` (uses ${skill.servers.join(', ')})` : '';
  const broken = skill.error ? ` — cannot load: ${skill.error}` : '';
  const whose =
    skill.origin === 'shared'
      ? `, shared by ${skill.author}`
      : skill.shadows
        ? `, yours, hiding the shared one by ${skill.shadows.author}`
        : '';
  return `- ${skill.isAsync ? 'async ' : ''}${skill.name}${skill.signature || '(...)'} [version ${skill.version}${versions}${whose}]${about}${servers}${broken}`;
}

function describeSkills(skills: SavedSkill[]): string {
  return [
    '# Saved skills',
    '',
    ...(skills.length > 0
      ? skills.map(describeSkill)
      : ['None yet. In run_python, `save_tool(func)` keeps a function for every later run.']),
    '',
    'In run_python: `from skills import <name>`, or call it by name; `delete_skill(name)` removes one;',
    '`save_tool(func, shared=True)` publishes one for everyone on this bridge.',
    `Source: ${SKILL_URI_PREFIX}<name>. From a shell: \`codemode-bridge skills list|show|remove|publish\`.`,
  ].join('\n');
}

function describeServer(server: ServerDescription): string {
  const lines = [`# ${server.name} (mcp_${server.alias})`];
  if (server.description) lines.push(summary(server.description));
  lines.push('', `${server.tools.length} tools:`);
  for (const tool of server.tools) {
    // With a policy in force, each tool carries its decision (engine/policy): show all but `allow`.
    const action = (tool as { policy?: { action?: string } }).policy?.action;
    const policy = action && action !== 'allow' ? ` [policy: ${action}]` : '';
    lines.push(`- ${tool.alias}${policy}${tool.description ? ` — ${summary(tool.description)}` : ''}`);
  }
  return lines.join('\n');
}

function describeSessions(sessions: ReturnType<Engine['listSessions']>): string {
  return [
    '# Sessions',
    '',
    ...(sessions.length > 0
      ? sessions.map(
          (s) =>
            `- ${s.name}: ${s.runs} runs, last used ${s.lastUsedAt}, ${s.busy ? 'running' : `expires in ${s.expiresInS} s if idle`}`,
        )
      : ['None. Pass `session="name"` to run_python to keep globals, imports and files between calls.']),
    '',
    'In run_python: `await mcp.runtime.list_sessions()`, `await mcp.runtime.reset_session(name)`.',
  ].join('\n');
}

/**
 * Registers the resources for `principal`: the named sessions and skills they show are its own (and
 * the shared skills); no client sees another principal's.
 */
export function registerResources(server: McpServer, engine: Engine, principal: Principal): void {
  const owner = principal.id;
  server.registerResource(
    'sessions',
    SESSIONS_URI,
    {
      title: 'run_python sessions',
      description: 'Live named sessions of this client: sandboxes kept between run_python calls.',
      mimeType: 'text/markdown',
    },
    async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'text/markdown',
          text: describeSessions(engine.listSessions(owner)),
        },
      ],
    }),
  );

  server.registerResource(
    'capabilities',
    CAPABILITIES_URI,
    {
      title: 'codemode-bridge capabilities',
      description:
        'The MCP servers run_python can reach, with summaries and tool counts, and the discovery helpers.',
      mimeType: 'text/markdown',
    },
    async (uri, extra) => {
      const catalog = engine.catalog();
      const rows = await Promise.all(
        catalog.map(async (entry) => {
          try {
            const described = await engine.describeServer(entry.name, extra.signal);
            const about = described.description ? ` — ${summary(described.description)}` : '';
            return `- ${entry.name} (mcp_${entry.alias}): ${described.tools.length} tools${about}`;
          } catch (error) {
            return `- ${entry.name} (mcp_${entry.alias}): unavailable: ${errorMessage(error)}`;
          }
        }),
      );
      const text = [
        '# codemode-bridge',
        '',
        catalog.length > 0 ? '## Servers' : 'No upstream MCP servers are configured.',
        ...rows,
        '',
        '## Helpers',
        ...HELPERS,
      ].join('\n');
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text }] };
    },
  );

  server.registerResource(
    'skills',
    SKILLS_URI,
    {
      title: 'Saved skills',
      description: 'Functions saved with save_tool in earlier runs, importable in every run_python call.',
      mimeType: 'text/markdown',
    },
    async (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: 'text/markdown',
          text: describeSkills(await engine.savedSkills(principal)),
        },
      ],
    }),
  );

  server.registerResource(
    'skill',
    new ResourceTemplate(`${SKILL_URI_PREFIX}{name}`, {
      complete: {
        name: async (typed) =>
          completions(
            typed,
            (await engine.savedSkills()).map((skill) => skill.name),
          ),
      },
      list: async () => ({
        resources: (await engine.savedSkills(principal)).map((skill) => ({
          uri: `${SKILL_URI_PREFIX}${skill.name}`,
          name: `skill ${skill.name}`,
          title: `Saved skill ${skill.name}`,
          description: summary(skill.description) || `The source of skill ${skill.name}`,
          mimeType: 'text/x-python',
        })),
      }),
    }),
    {
      title: 'A saved skill',
      description: "The newest version's source of one saved skill.",
      mimeType: 'text/x-python',
    },
    async (uri, variables) => {
      const name = decodeURIComponent(String(variables.name ?? ''));
      const skills = await engine.savedSkills(principal);
      const skill = skills.find((candidate) => candidate.name === name);
      if (!skill) {
        throw notFound(
          uri,
          `no saved skill is named ${JSON.stringify(name)}`,
          skills.map((each) => each.name),
        );
      }
      const text =
        skill.source === undefined
          ? `# skill ${name} (version ${skill.version}) cannot load: ${skill.error ?? 'unreadable'}\n`
          : skill.source;
      return { contents: [{ uri: uri.href, mimeType: 'text/x-python', text }] };
    },
  );

  server.registerResource(
    'server',
    new ResourceTemplate(`${SERVER_URI_PREFIX}{name}`, {
      complete: {
        name: (typed) =>
          completions(
            typed,
            engine.catalog().map((entry) => entry.name),
          ),
      },
      list: async () => ({
        resources: engine.catalog().map((entry) => ({
          uri: `${SERVER_URI_PREFIX}${encodeURIComponent(entry.name)}`,
          name: entry.name,
          title: `MCP server ${entry.name}`,
          description: `Tools of ${entry.name}, callable as mcp_${entry.alias}.<tool> in run_python`,
          mimeType: 'text/markdown',
        })),
      }),
    }),
    {
      title: 'An upstream MCP server',
      description: "One server's tools with one-line summaries.",
      mimeType: 'text/markdown',
    },
    async (uri, variables, extra) => {
      const name = decodeURIComponent(String(variables.name ?? ''));
      const catalog = engine.catalog();
      if (!catalog.some((entry) => entry.name === name)) {
        throw notFound(
          uri,
          `no MCP server is named ${JSON.stringify(name)}`,
          catalog.map((entry) => entry.name),
        );
      }
      // A configured server that cannot be reached still has its resource, saying why.
      let text: string;
      try {
        text = describeServer(await engine.describeServer(name, extra.signal));
      } catch (error) {
        text = `# ${name}\nunavailable: ${errorMessage(error)}`;
      }
      return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text }] };
    },
  );
}
