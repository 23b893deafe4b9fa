/**
 * The `mcp` API on the Monty tier, on the host side: what a program finds in its globals (granted
 * servers as objects whose tools are host functions, `mcp_servers`, `mcp` with `runtime`,
 * `ToolError`/`MCPError`/`PolicyError`) and what each of its calls means. Monty has no classes with
 * inheritance, so the exception names are `RuntimeError` (which `mcp.ToolError` subclasses in the
 * container runtime); the subset checker routes programs that need more of them to full Python.
 * Wording of errors and the shape of every answer follow runtime/python/mcp/runtime.py.
 */
import type { CatalogEntry, ServerGrant, SkillGrant, ToolCallRequest, ToolGrant } from '../types.js';
import { encodeInputs, type MontyValue } from './messages.js';
import {
  bindArguments,
  firstLine,
  serverMetadata,
  skillDoc,
  type ToolSignature,
  toolDoc,
  toolSignature,
} from './tool-docs.js';
import { fromJson, NotJson, toJson } from './values.js';

/** The helpers of `mcp.runtime` the tier serves (the subset checker sends programs using others to full Python). */
export const TIER_RUNTIME_HELPERS = [
  'call_tool',
  'describe_server',
  'discovered_servers',
  'list_loaded_server_metadata',
  'list_servers',
  'list_servers_sync',
  'list_tools',
  'list_tools_sync',
  'query_tool_docs',
  'query_tool_docs_sync',
  'search_tool_docs',
] as const;

/** The module-level names of `mcp` the tier serves. */
export const TIER_MCP_NAMES = ['runtime', 'servers'] as const;
/**
 * The exception classes of `mcp` (and `mcp.runtime.MCPError`): Monty cannot take a class from the host
 * into an `except` clause, so the checker writes `RuntimeError` in their place (what `ToolError`
 * subclasses in the container runtime).
 */
export const TIER_ERROR_NAMES = ['ToolError', 'MCPError'] as const;

const MAX_SEARCH_LIMIT = 50;
const RUNTIME_PREFIX = 'mcp.runtime.';

export type SurfaceAction =
  /** Answer now with this value. */
  | { kind: 'value'; value: MontyValue }
  /** Raise this now, at the call. */
  | { kind: 'raise'; type: string; message: string }
  /** A tool call through the host; its JSON result becomes the program's value. */
  | { kind: 'tool'; request: ToolCallRequest; label: string }
  /** A host operation; `finish` turns its answer into the program's value (and maybe stderr). */
  | {
      kind: 'host';
      op: string;
      args: Record<string, unknown>;
      finish: (answer: unknown) => { value: MontyValue; stderr?: string };
    }
  /** An awaitable answered from what the run holds: a future resolved at once. */
  | { kind: 'ready'; value: MontyValue }
  /** Not a function of ours: the program called a name the host does not provide. */
  | { kind: 'unknown' };

interface ToolEntry {
  server: ServerGrant;
  tool: ToolGrant;
  /** Its parameters, derived from the schema at the first call (the entry lives as long as its layout). */
  signature?: ToolSignature;
}

export interface SurfaceProgram {
  servers: ServerGrant[];
  catalog: CatalogEntry[];
}

const EMPTY = Buffer.alloc(0);
const str = (value: string): MontyValue => ({ kind: 'str', value });
const uuid = (seed: string): Buffer => Buffer.from(`${seed}________________`.slice(0, 16), 'latin1');

function instance(className: string, seed: string, attrs: Array<[string, MontyValue]>): MontyValue {
  return { kind: 'instance', className, classId: uuid(`c:${seed}`), instanceId: uuid(`i:${seed}`), attrs };
}

/** What a program's globals hold for one list of granted servers; built once per list (`layoutFor`). */
interface SurfaceLayout {
  tools: ReadonlyMap<string, ToolEntry>;
  inputs: ReadonlyMap<string, MontyValue>;
  /** Each input as a field of a feed, encoded once (all of them, for no servers, are ~1.8 kB). */
  encoded: ReadonlyMap<string, Buffer>;
}

/** The names a program may use of the surface's globals, as words (in code, strings or comments alike). */
const SURFACE_WORDS = /\b(?:mcp\w*|__codemode_mcp|LOADED_MCP_SERVERS)\b/g;

/** Layouts by the identities of their servers (descriptions are kept while their session lasts). */
const layouts = new Map<string, SurfaceLayout>();
const MAX_LAYOUTS = 64;
const identities = new WeakMap<ServerGrant, number>();
let nextIdentity = 0;

function layoutFor(servers: ServerGrant[]): SurfaceLayout {
  let key = '';
  for (const server of servers) {
    let id = identities.get(server);
    if (id === undefined) {
      id = ++nextIdentity;
      identities.set(server, id);
    }
    key += `${id},`;
  }
  let layout = layouts.get(key);
  if (!layout) {
    layout = buildLayout(servers);
    if (layouts.size >= MAX_LAYOUTS) layouts.delete(layouts.keys().next().value as string);
    layouts.set(key, layout);
  }
  return layout;
}

function buildLayout(servers: ServerGrant[]): SurfaceLayout {
  const tools = new Map<string, ToolEntry>();
  const serverValues: Array<[string, MontyValue]> = [];
  const serverMap: Array<[MontyValue, MontyValue]> = [];
  for (const server of servers) {
    const functions: Array<[string, MontyValue]> = [];
    const byName: Array<[MontyValue, MontyValue]> = [];
    for (const tool of server.tools) {
      const alias = tool.alias || tool.name;
      const name = `mcp_${server.alias}.${alias}`;
      tools.set(name, { server, tool });
      const fn: MontyValue = { kind: 'function', name, docstring: firstLine(tool.description) };
      functions.push([alias, fn]);
      byName.push([str(tool.name), fn]);
    }
    const module = instance('module', `s:${server.alias}`, functions);
    serverValues.push([server.alias, module]);
    serverMap.push([str(server.name), { kind: 'dict', pairs: byName }]);
  }
  const runtime = instance('module', 'mcp.runtime', [
    ...TIER_RUNTIME_HELPERS.map((name): [string, MontyValue] => [
      name,
      { kind: 'function', name: `${RUNTIME_PREFIX}${name}` },
    ]),
  ]);
  const mcp = instance('module', 'mcp', [
    ['runtime', runtime],
    ['servers', instance('module', 'mcp.servers', serverValues)],
  ]);
  const inputs = new Map<string, MontyValue>([
    ['mcp', mcp],
    ['__codemode_mcp', mcp],
    ['mcp_servers', { kind: 'dict', pairs: serverMap }],
    ['LOADED_MCP_SERVERS', { kind: 'tuple', items: servers.map((server) => str(server.name)) }],
    ...serverValues.map(([alias, value]): [string, MontyValue] => [`mcp_${alias}`, value]),
  ]);
  const encoded = new Map([...inputs].map(([name, value]) => [name, encodeInputs([[name, value]])]));
  return { tools, inputs, encoded };
}

export class McpSurface {
  readonly #servers: ServerGrant[];
  readonly #catalog: CatalogEntry[];
  readonly #layout: SurfaceLayout;
  readonly #tools: ReadonlyMap<string, ToolEntry>;
  /** Messages of tool failures raised in this run, to name an uncaught one `mcp.ToolError`. */
  readonly #toolErrors = new Map<string, string>();

  constructor(program: SurfaceProgram) {
    this.#servers = program.servers;
    this.#catalog = program.catalog;
    this.#layout = layoutFor(program.servers);
    this.#tools = this.#layout.tools;
  }

  /**
   * The globals `code` names, as the fields of its feed. Only those are sent: decoding and building
   * all of them is half of what the worker spends on `print(1)` (30 of 60 µs, measured). A name used
   * in a way no word shows is still served, when the program looks it up (`global`).
   */
  encodedInputs(code: string): Buffer {
    const words = code.match(SURFACE_WORDS);
    if (!words) return EMPTY;
    const fields: Buffer[] = [];
    for (const name of new Set(words)) {
      const field = this.#layout.encoded.get(name);
      if (field) fields.push(field);
    }
    return fields.length === 1 ? (fields[0] as Buffer) : Buffer.concat(fields);
  }

  /** The value of one of the surface's globals, for a name the program looked up. */
  global(name: string): MontyValue | undefined {
    return this.#layout.inputs.get(name);
  }

  /**
   * What an uncaught exception should be called: `mcp.ToolError`/`mcp.PolicyError` when it is a tool
   * failure this run raised (as `RuntimeError`, which is what the tier's `ToolError` is).
   */
  errorName(type: string, message: string | undefined): string {
    if (type !== 'RuntimeError' || message === undefined) return type;
    return this.#toolErrors.get(message) ?? type;
  }

  /** Records a tool failure about to be raised in the program. */
  toolFailed(message: string, code: string): void {
    this.#toolErrors.set(message, code.startsWith('POLICY_') ? 'mcp.PolicyError' : 'mcp.ToolError');
  }

  call(name: string, args: MontyValue[], kwargs: Array<[MontyValue, MontyValue]>): SurfaceAction {
    const tool = this.#tools.get(name);
    if (tool) return this.#toolCall(tool, args, kwargs);
    if (name.startsWith(RUNTIME_PREFIX)) return this.#helper(name.slice(RUNTIME_PREFIX.length), args, kwargs);
    return { kind: 'unknown' };
  }

  #toolCall(entry: ToolEntry, args: MontyValue[], kwargs: Array<[MontyValue, MontyValue]>): SurfaceAction {
    const { server, tool } = entry;
    const label = `${server.alias}.${tool.alias || tool.name}`;
    let plainArgs: unknown[];
    let plainKwargs: Record<string, unknown>;
    try {
      plainArgs = args.map((value) => toJson(value));
      plainKwargs = keywordsOf(kwargs);
    } catch (error) {
      return raiseFor(error);
    }
    entry.signature ??= toolSignature(tool);
    const bound = bindArguments(entry.signature, plainArgs, plainKwargs);
    if ('error' in bound) return { kind: 'raise', type: 'TypeError', message: `${label}(): ${bound.error}` };
    return { kind: 'tool', request: { server: server.name, tool: tool.name, args: bound.arguments }, label };
  }

  #helper(helper: string, args: MontyValue[], kwargs: Array<[MontyValue, MontyValue]>): SurfaceAction {
    let plain: Parameters;
    try {
      plain = new Parameters(
        helper,
        args.map((value) => toJson(value)),
        keywordsOf(kwargs),
      );
    } catch (error) {
      return raiseFor(error);
    }
    try {
      return this.#serveHelper(helper, plain);
    } catch (error) {
      if (error instanceof HelperError)
        return { kind: 'raise', type: error.pythonType, message: error.message };
      throw error;
    }
  }

  #serveHelper(helper: string, call: Parameters): SurfaceAction {
    switch (helper) {
      case 'discovered_servers': {
        const detailed = call.take('detailed', false);
        call.done();
        if (!detailed) return value({ kind: 'tuple', items: this.#catalog.map((entry) => str(entry.name)) });
        return value({
          kind: 'tuple',
          items: this.#catalog.map((entry) =>
            fromJson({
              name: entry.name,
              alias: entry.alias,
              description: entry.description || this.#granted(entry.name)?.description || '',
            }),
          ),
        });
      }
      case 'list_servers':
        // An awaitable answered from the catalog the run came with, as the Python runtime answers it.
        call.done();
        return {
          kind: 'ready',
          value: { kind: 'tuple', items: this.#catalog.map((entry) => str(entry.name)) },
        };
      case 'list_servers_sync':
        call.done();
        return value({ kind: 'tuple', items: this.#servers.map((server) => str(server.name)) });
      case 'list_loaded_server_metadata':
        call.done();
        return value({
          kind: 'tuple',
          items: this.#servers.map((server) => fromJson(serverMetadata(server))),
        });
      case 'describe_server': {
        const name = call.take('name');
        call.done();
        this.#known(name);
        return this.#described(String(name), (server) => fromJson(serverMetadata(server)));
      }
      case 'list_tools': {
        const server = call.take('server');
        call.done();
        this.#known(server);
        return this.#described(String(server), (described) => fromJson(toolList(described)));
      }
      case 'list_tools_sync': {
        const server = this.#grantedFor(call.take('server'), 'list_tools_sync');
        call.done();
        return value({
          kind: 'tuple',
          items: (serverMetadata(server).tools as unknown[]).map((tool) => fromJson(tool)),
        });
      }
      case 'query_tool_docs':
      case 'query_tool_docs_sync': {
        const server = call.take('server');
        const tool = call.take('tool', null);
        const detail = checkDetail(call.take('detail', 'summary'));
        call.done();
        const docs = (described: ServerGrant) => {
          const selected = selectTools(described, tool);
          const rendered = selected.map((entry) => toolDoc(described, entry, detail));
          return helper === 'query_tool_docs' && tool !== null ? rendered[0] : rendered;
        };
        if (helper === 'query_tool_docs_sync') {
          return value(fromJson(docs(this.#grantedFor(server, 'query_tool_docs_sync'))));
        }
        this.#known(server);
        return this.#described(String(server), (described) => fromJson(docs(described)));
      }
      case 'search_tool_docs': {
        const query = call.take('query');
        const limit = call.take('limit', 5);
        const detail = checkDetail(call.take('detail', 'summary'));
        call.done();
        if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
          throw new HelperError('ValueError', 'limit must be a positive integer');
        }
        return {
          kind: 'host',
          op: 'search_tool_docs',
          args: { query: pyStr(query), limit: Math.min(limit, MAX_SEARCH_LIMIT) },
          finish: (answer) => searchAnswer(answer, detail),
        };
      }
      case 'call_tool': {
        const server = call.take('server');
        const tool = call.take('tool');
        const args = call.take('arguments', null);
        const raw = call.take('raw', false);
        call.done();
        if (args !== null && (typeof args !== 'object' || Array.isArray(args))) {
          throw new HelperError('TypeError', `call_tool: arguments must be a dict, not ${pyTypeName(args)}`);
        }
        const granted = this.#servers.find(
          (candidate) => server === candidate.name || server === candidate.alias,
        );
        if (!granted) {
          this.#known(server);
          throw new HelperError(
            'RuntimeError',
            `server ${pyStrRepr(server)} is not granted to this run; pass it in run_python's \`servers\``,
          );
        }
        const named = granted.tools.find((candidate) => tool === candidate.name || tool === candidate.alias);
        return {
          kind: 'tool',
          request: {
            server: granted.name,
            tool: named?.name ?? String(tool),
            args: (args ?? {}) as Record<string, unknown>,
            ...(raw ? { raw: true } : {}),
          },
          label: `call_tool(${granted.name}, ${String(tool)})`,
        };
      }
      default:
        return { kind: 'unknown' };
    }
  }

  #granted(name: string): ServerGrant | undefined {
    return this.#servers.find((server) => server.name === name);
  }

  /** A granted server's answer at once; any other's after the host describes it. */
  #described(name: string, render: (server: ServerGrant) => MontyValue | undefined): SurfaceAction {
    const local = this.#granted(name);
    if (local) {
      const rendered = render(local);
      return { kind: 'ready', value: rendered ?? { kind: 'none' } };
    }
    return {
      kind: 'host',
      op: 'describe_server',
      args: { name },
      finish: (answer) => {
        const rendered = render(answer as ServerGrant);
        return { value: rendered ?? { kind: 'none' } };
      },
    };
  }

  #known(name: unknown): void {
    const names = this.#catalog.map((entry) => entry.name);
    if (typeof name === 'string' && names.includes(name)) return;
    const configured =
      names.length > 0 ? `Configured servers: ${names.join(', ')}.` : 'No MCP servers are configured.';
    throw new HelperError('RuntimeError', `Unknown MCP server ${pyStrRepr(name)}. ${configured}`);
  }

  #grantedFor(server: unknown, helper: string): ServerGrant {
    const granted = this.#servers.find(
      (candidate) => server === candidate.name || server === candidate.alias,
    );
    if (granted) return granted;
    this.#known(server);
    throw new HelperError(
      'RuntimeError',
      `${helper}(${pyStrRepr(server)}): that server is not granted to this run, and ${helper} reads only granted ones; ` +
        `grant it in run_python's \`servers\`, or use the async helper (\`await runtime.${helper.slice(0, -'_sync'.length)}(...)\`), which asks the host`,
    );
  }
}

class HelperError extends Error {
  constructor(
    readonly pythonType: string,
    message: string,
  ) {
    super(message);
  }
}

/** A helper's arguments, bound by name like a Python signature (positional in declaration order). */
class Parameters {
  readonly #helper: string;
  readonly #positional: unknown[];
  readonly #keywords: Record<string, unknown>;
  #index = 0;

  constructor(helper: string, positional: unknown[], keywords: Record<string, unknown>) {
    this.#helper = helper;
    this.#positional = positional;
    this.#keywords = { ...keywords };
  }

  take(name: string, fallback?: unknown): unknown {
    if (this.#index < this.#positional.length) {
      if (Object.hasOwn(this.#keywords, name)) {
        throw new HelperError('TypeError', `${this.#helper}() got multiple values for argument '${name}'`);
      }
      return this.#positional[this.#index++];
    }
    if (Object.hasOwn(this.#keywords, name)) {
      const found = this.#keywords[name];
      delete this.#keywords[name];
      return found;
    }
    if (fallback === undefined) {
      throw new HelperError(
        'TypeError',
        `${this.#helper}() missing 1 required positional argument: '${name}'`,
      );
    }
    return fallback;
  }

  done(): void {
    if (this.#index < this.#positional.length) {
      throw new HelperError(
        'TypeError',
        `${this.#helper}() takes ${this.#index} positional arguments but ${this.#positional.length} were given`,
      );
    }
    const [unexpected] = Object.keys(this.#keywords);
    if (unexpected !== undefined) {
      throw new HelperError(
        'TypeError',
        `${this.#helper}() got an unexpected keyword argument '${unexpected}'`,
      );
    }
  }
}

function value(montyValue: MontyValue): SurfaceAction {
  return { kind: 'value', value: montyValue };
}

function keywordsOf(kwargs: Array<[MontyValue, MontyValue]>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of kwargs) {
    if (key.kind !== 'str') throw new NotJson('TypeError', 'keywords must be strings');
    Object.defineProperty(out, key.value, {
      value: toJson(item),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function raiseFor(error: unknown): SurfaceAction {
  if (error instanceof NotJson) return { kind: 'raise', type: error.pythonType, message: error.message };
  throw error;
}

function checkDetail(detail: unknown): 'summary' | 'full' {
  if (detail === 'summary' || detail === 'full') return detail;
  throw new HelperError('ValueError', `detail must be 'summary' or 'full', not ${pyStrRepr(detail)}`);
}

function selectTools(described: ServerGrant, tool: unknown): ToolGrant[] {
  const tools = described.tools ?? [];
  if (tool === null) return tools;
  const wanted = String(tool).toLowerCase();
  const selected = tools.filter(
    (candidate) =>
      candidate.name.toLowerCase() === wanted || String(candidate.alias ?? '').toLowerCase() === wanted,
  );
  if (selected.length === 0) {
    const names = tools.map((candidate) => candidate.alias || candidate.name).join(', ');
    throw new HelperError(
      'RuntimeError',
      `server ${pyStrRepr(described.name)} has no tool ${pyStrRepr(tool)}; it has: ${names || 'none'}`,
    );
  }
  return selected.slice(0, 1);
}

function toolList(described: ServerGrant): unknown[] {
  return described.tools.map((tool) => {
    const policy = (tool as ToolGrant & { policy?: { action?: string } }).policy;
    return {
      name: tool.name,
      alias: tool.alias || tool.name,
      description: firstLine(tool.description),
      ...(policy ? { policy: policy.action } : {}),
    };
  });
}

function searchAnswer(answer: unknown, detail: 'summary' | 'full'): { value: MontyValue; stderr?: string } {
  const { hits = [], unavailable = [] } = (answer ?? {}) as {
    hits?: Array<
      | { server: { name: string; alias: string }; tool: ToolGrant; score: number }
      | { skill: Omit<SkillGrant, 'source'>; score: number }
    >;
    unavailable?: Array<{ server: string; error: string }>;
  };
  const docs = hits.map((hit) => {
    const doc = 'skill' in hit ? skillDoc(hit.skill, detail) : toolDoc(hit.server, hit.tool, detail);
    doc.score = hit.score;
    return doc;
  });
  const stderr = unavailable
    .map((problem) => `search_tool_docs: server ${pyStrRepr(problem.server)} skipped: ${problem.error}\n`)
    .join('');
  return { value: fromJson(docs), ...(stderr ? { stderr } : {}) };
}

function pyStr(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

function pyStrRepr(value: unknown): string {
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    return `${quote}${value.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`)}${quote}`;
  }
  return pyStr(value);
}

function pyTypeName(value: unknown): string {
  if (typeof value === 'string') return 'str';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'boolean') return 'bool';
  if (Array.isArray(value)) return 'list';
  return 'object';
}
