/**
 * The TypeScript declaration of a granted server (pure): each tool as a method of `mcp.<alias>`, its
 * arguments typed from its input schema and its result from its output schema (else `unknown`), with
 * the server's words as doc comments. Named types (from `$ref`s) live in a namespace `mcp_<alias>`,
 * echoing the Python module's name. Aliases are the Python ones (upstream/config/alias.ts).
 *
 * Size is bounded: past `maxChars` a tool keeps its name and description with loose types, then its
 * name only, then is left out (the program can still reach it through `mcp.runtime.callTool`).
 */
import { MCP_OWN_KEYS } from '../../upstream/config/alias.js';
import { SchemaRenderer, TypeBudgetExceeded } from './schema-to-ts.js';
import { docComment, propertyKey } from './ts-syntax.js';

/** A tool as the declaration needs it: the sandbox's `ToolGrant` plus the output schema. */
export interface TypedTool {
  name: string;
  /** Its Python identifier, which is also its name on `mcp.<server>`. */
  alias: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
}

export interface TypedServer {
  name: string;
  alias: string;
  description?: string;
  tools: readonly TypedTool[];
}

/**
 * Keys the sandbox's `mcp` object holds itself. A server alias equal to one would hide it, so the
 * upstream pool reserves them when it assigns aliases; a declaration refuses them.
 */
export { MCP_OWN_KEYS };

/** Default bound on one server's declaration, characters (~64k tokens at worst). */
export const DEFAULT_MAX_DECLARATION_CHARS = 256 * 1024;
/** A tool's own schemas may take at most this share of what is left, so one tool cannot crowd out all. */
const TOOL_SHARE = 0.5;

export interface DeclarationOptions {
  /** Bound on the declaration's length, characters. Default {@link DEFAULT_MAX_DECLARATION_CHARS}. */
  maxChars?: number;
}

export interface ServerDeclaration {
  /** A global declaration (a script, no imports or exports), to sit beside the runtime's `mcp.d.ts`. */
  text: string;
  /** Tools whose types were loosened or left out to keep the bound, by name. */
  degraded: string[];
}

/** The namespace holding a server's named types. */
export function typesNamespace(serverAlias: string): string {
  return `mcp_${serverAlias}`;
}

function assertAlias(server: TypedServer): void {
  if (MCP_OWN_KEYS.includes(server.alias)) {
    throw new TypeError(
      `server '${server.name}' has the alias '${server.alias}', which mcp.${server.alias} already holds; aliases must reserve ${MCP_OWN_KEYS.join(', ')}`,
    );
  }
}

interface RenderedTool {
  member: string;
  named: string;
}

function renderTool(
  tool: TypedTool,
  namespace: string,
  taken: Set<string>,
  budgetChars: number,
): RenderedTool {
  const renderer = new SchemaRenderer({ taken, namespace, budgetChars });
  const argsType = renderer.render(tool.inputSchema, '    ', `${tool.alias}_args`);
  const resultType =
    tool.outputSchema === undefined
      ? 'unknown'
      : renderer.render(tool.outputSchema, '    ', `${tool.alias}_result`);
  const required = Array.isArray(tool.inputSchema.required) && tool.inputSchema.required.length > 0;
  const named = renderer.named
    .map(
      (entry) =>
        `${docComment(entry.description ? [entry.description] : [], '  ')}  type ${entry.name} = ${entry.type};\n`,
    )
    .join('');
  const doc = docComment(tool.description ? [tool.description] : [], '    ');
  const member = `${doc}    ${propertyKey(tool.alias)}(args${required ? '' : '?'}: ${argsType}): Promise<${resultType}>;\n`;
  return { member, named };
}

function looseTool(tool: TypedTool, withDescription: boolean): string {
  const note =
    'Types left out: this server declares more than the bridge shows; check arguments in its docs.';
  const doc = withDescription ? docComment([tool.description ?? '', note], '    ') : '';
  return `${doc}    ${propertyKey(tool.alias)}(args?: Record<string, unknown>): Promise<unknown>;\n`;
}

/** The declaration of `server`'s tools, within `options.maxChars`. */
export function serverDeclaration(server: TypedServer, options: DeclarationOptions = {}): ServerDeclaration {
  assertAlias(server);
  const maxChars = options.maxChars ?? DEFAULT_MAX_DECLARATION_CHARS;
  const namespace = typesNamespace(server.alias);
  const taken = new Set<string>();
  const about = [server.description ?? '', `MCP server "${server.name}".`];
  const head = `interface McpServers {\n${docComment(about, '  ')}  readonly ${propertyKey(server.alias)}: {\n`;
  const tail = '  };\n}\n';
  let members = '';
  let named = '';
  const degraded: string[] = [];
  let left = 0;
  const room = () => maxChars - head.length - tail.length - members.length - named.length - 200;
  for (const tool of server.tools) {
    const budget = Math.floor(room() * TOOL_SHARE);
    let rendered: RenderedTool | undefined;
    if (budget > 0) {
      const claimed = new Set(taken);
      try {
        rendered = renderTool(tool, namespace, claimed, budget);
        if (rendered.member.length + rendered.named.length > budget) rendered = undefined;
        else for (const name of claimed) taken.add(name);
      } catch (error) {
        if (!(error instanceof TypeBudgetExceeded)) throw error;
      }
    }
    if (rendered) {
      members += rendered.member;
      named += rendered.named;
      continue;
    }
    degraded.push(tool.name);
    const loose = looseTool(tool, true);
    const bare = looseTool(tool, false);
    if (loose.length <= room()) members += loose;
    else if (bare.length <= room()) members += bare;
    else left++;
  }
  if (left > 0) {
    members += `    // ${left} more tools are left out to keep this declaration short: call them with mcp.runtime.callTool.\n`;
  }
  const types = named ? `declare namespace ${namespace} {\n${named}}\n` : '';
  return { text: `${types}${head}${members}${tail}`, degraded };
}

/** Bound on one tool's signature as `mcp.runtime.docs` shows it, characters. */
const MAX_SIGNATURE_CHARS = 16 * 1024;

/**
 * Each tool's own declaration, for the docs helpers: the named types its schemas need, then its
 * method (`echo(args: { … }): Promise<…>;`), by tool name. Past the bound, its loose form.
 */
export function toolSignatures(server: TypedServer): Map<string, string> {
  assertAlias(server);
  const namespace = typesNamespace(server.alias);
  const signatures = new Map<string, string>();
  for (const tool of server.tools) {
    let text: string | undefined;
    try {
      const rendered = renderTool(tool, namespace, new Set(), MAX_SIGNATURE_CHARS);
      if (rendered.member.length + rendered.named.length <= MAX_SIGNATURE_CHARS) {
        const named = rendered.named ? `declare namespace ${namespace} {\n${rendered.named}}\n` : '';
        text = `${named}${rendered.member.replace(/^ {4}/gm, '')}`;
      }
    } catch (error) {
      if (!(error instanceof TypeBudgetExceeded)) throw error;
    }
    signatures.set(tool.name, (text ?? looseTool(tool, false).trimStart()).trimEnd());
  }
  return signatures;
}
