/**
 * Tool documentation for the Monty tier, the same dicts the container runtime's
 * `codemode_runtime/docs.py` builds (a differential test holds the two together): signatures from a
 * tool's JSON Schema as `inspect.Signature` renders them, one-line summaries, full parameter lists.
 * Also how a call's arguments bind to those parameters, with the container's error messages.
 */
import type { ServerGrant, SkillGrant, ToolGrant } from '../types.js';
import { jsonRepr } from './python-repr.js';

const SUMMARY_CHARS = 200;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(
    ' ',
  ),
);
const JSON_TYPES: Record<string, string> = {
  string: 'str',
  integer: 'int',
  number: 'float',
  boolean: 'bool',
  array: 'list',
  object: 'dict',
  null: 'NoneType',
};

export interface ToolParameter {
  name: string;
  required: boolean;
  /** The rendered annotation (`str`, `Any`, `Union[str, int]`, `Optional[str]`). */
  annotation: string;
  default?: unknown;
}

export interface ToolSignature {
  /** Identifier-named parameters: required ones first (positional or keyword), then keyword-only. */
  parameters: ToolParameter[];
  /** The `**name` that carries properties which are not identifiers; undefined when there are none. */
  extra: string | undefined;
  /** Per-parameter doc lines, as the docstring lists them. */
  docLines: string[];
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The annotation `_annotation` in tool_functions.py derives from a property's `type`. */
function annotationOf(property: Record<string, unknown>): { text: string; docName: string } {
  const kind = property.type;
  if (Array.isArray(kind)) {
    const names = [
      ...new Set(
        kind.flatMap((entry) => (typeof entry === 'string' && JSON_TYPES[entry] ? [JSON_TYPES[entry]] : [])),
      ),
    ];
    if (names.length === 0) return { text: 'Any', docName: 'any' };
    if (names.length === 1) return { text: names[0] as string, docName: names[0] as string };
    const withoutNone = names.filter((name) => name !== 'NoneType');
    const union =
      withoutNone.length === 1 && names.length === 2
        ? `Optional[${withoutNone[0]}]`
        : `Union[${names.join(', ')}]`;
    return { text: union, docName: union };
  }
  const name = typeof kind === 'string' ? JSON_TYPES[kind] : undefined;
  return name ? { text: name, docName: name } : { text: 'Any', docName: 'any' };
}

/** `signature_and_docs` of tool_functions.py. Malformed schemas degrade to fewer parameters, never throw. */
export function toolSignature(tool: ToolGrant): ToolSignature {
  const schema = record(tool.inputSchema);
  const properties = record(schema.properties);
  const listed = Array.isArray(schema.required) ? schema.required : [];
  const required = listed.filter(
    (name): name is string => typeof name === 'string' && Object.hasOwn(properties, name),
  );
  const optional = Object.keys(properties).filter((name) => !required.includes(name));
  const parameters: ToolParameter[] = [];
  const docLines: string[] = [];
  const unnamed: string[] = [];
  for (const name of [...required, ...optional]) {
    const property = record(properties[name]);
    if (!IDENTIFIER.test(name) || KEYWORDS.has(name)) {
      unnamed.push(name);
      continue;
    }
    const annotation = annotationOf(property);
    const isRequired = required.includes(name);
    parameters.push({
      name,
      required: isRequired,
      annotation: annotation.text,
      ...(isRequired ? {} : { default: property.default ?? null }),
    });
    const description = String(property.description ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .join(' ');
    docLines.push(
      `    ${name} (${annotation.docName}${isRequired ? '' : ', optional'})${description ? `: ${description}` : ''}`,
    );
  }
  let extra: string | undefined;
  if (unnamed.length > 0) {
    extra = Object.hasOwn(properties, 'arguments') ? 'more_arguments' : 'arguments';
    docLines.push(`    **${extra}: ${unnamed.join(', ')}`);
  }
  return { parameters, extra, docLines };
}

/** `str(inspect.Signature)` of a tool's signature: `(query: str, *, limit: int = 10)`. */
export function renderSignature(signature: ToolSignature): string {
  const parts: string[] = [];
  let separated = false;
  for (const parameter of signature.parameters) {
    if (!parameter.required && !separated) {
      parts.push('*');
      separated = true;
    }
    parts.push(
      parameter.required
        ? `${parameter.name}: ${parameter.annotation}`
        : `${parameter.name}: ${parameter.annotation} = ${jsonRepr(parameter.default)}`,
    );
  }
  if (signature.extra) parts.push(`**${signature.extra}`);
  return `(${parts.join(', ')})`;
}

export type Binding = { arguments: Record<string, unknown> } | { error: string };

/**
 * What `inspect.Signature.bind` makes of a call (positional arguments fill required parameters in
 * order), in the container's words on failure: `missing a required argument: 'query'`.
 */
export function bindArguments(
  signature: ToolSignature,
  args: unknown[],
  kwargs: Record<string, unknown>,
): Binding {
  const positional = signature.parameters.filter((parameter) => parameter.required);
  if (args.length > positional.length) return { error: 'too many positional arguments' };
  const bound: Record<string, unknown> = {};
  args.forEach((value, index) => {
    bound[(positional[index] as ToolParameter).name] = value;
  });
  const named = new Set(signature.parameters.map((parameter) => parameter.name));
  const extra: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(kwargs)) {
    if (Object.hasOwn(bound, name)) return { error: `multiple values for argument '${name}'` };
    if (named.has(name)) bound[name] = value;
    else if (signature.extra) extra[name] = value;
    else return { error: `got an unexpected keyword argument '${name}'` };
  }
  for (const parameter of positional) {
    if (!Object.hasOwn(bound, parameter.name))
      return { error: `missing a required argument: '${parameter.name}'` };
  }
  return { arguments: { ...bound, ...extra } };
}

export function firstLine(text: string | undefined): string {
  for (const raw of (text ?? '').trim().split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (line) return line.length <= SUMMARY_CHARS ? line : `${line.slice(0, SUMMARY_CHARS - 1).trimEnd()}…`;
  }
  return '';
}

type ServerLike = Pick<ServerGrant, 'name' | 'alias'>;

/** `tool_doc` of docs.py. */
export function toolDoc(
  server: ServerLike,
  tool: ToolGrant & { policy?: unknown },
  detail: 'summary' | 'full',
): Record<string, unknown> {
  const alias = tool.alias || tool.name;
  const doc: Record<string, unknown> = {
    server: server.name,
    serverAlias: server.alias,
    tool: tool.name,
    toolAlias: alias,
    description: firstLine(tool.description),
    signature: `await mcp_${server.alias}.${alias}${renderSignature(toolSignature(tool))}`,
  };
  if (tool.policy) doc.policy = tool.policy;
  if (detail === 'full') {
    doc.description = (tool.description ?? '').trim();
    doc.parameters = parameterDocs(tool);
    doc.inputSchema = tool.inputSchema ?? {};
  }
  return doc;
}

function parameterDocs(tool: ToolGrant): Array<Record<string, unknown>> {
  const schema = record(tool.inputSchema);
  const properties = record(schema.properties);
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(properties).map(([name, raw]) => {
    const property = record(raw);
    const entry: Record<string, unknown> = {
      name,
      type: property.type ?? 'any',
      required: required.has(name),
      description: String(property.description ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .join(' '),
    };
    if (Object.hasOwn(property, 'default')) entry.default = property.default;
    if (Object.hasOwn(property, 'enum')) entry.enum = property.enum;
    return entry;
  });
}

/** `skill_doc` of docs.py: a saved skill in the shape of a tool doc. */
export function skillDoc(
  entry: Omit<SkillGrant, 'source'>,
  detail: 'summary' | 'full',
): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    server: 'skills',
    serverAlias: 'skills',
    tool: entry.name,
    toolAlias: entry.name,
    description: firstLine(entry.description),
    signature: `${entry.isAsync ? 'await ' : ''}${entry.name}${entry.signature || '(...)'}`,
    skill: true,
    version: entry.version ?? null,
    import: `from skills import ${entry.name}`,
  };
  if (entry.servers?.length) doc.servers = [...entry.servers];
  if (detail === 'full') {
    doc.description = (entry.description ?? '').trim();
    doc.parameters = (entry.parameters ?? []).map((name) => ({ name }));
  }
  return doc;
}

/** `server_metadata` of codemode_runtime/shapes.py: a server as `describe_server` returns it. */
export function serverMetadata(server: ServerGrant): Record<string, unknown> {
  return {
    name: server.name,
    alias: server.alias,
    description: server.description ?? '',
    cwd: server.cwd ?? null,
    tools: server.tools.map((tool) => {
      const policy = (tool as ToolGrant & { policy?: unknown }).policy;
      return {
        name: tool.name,
        alias: tool.alias || tool.name,
        description: tool.description ?? '',
        input_schema: tool.inputSchema ?? {},
        ...(policy ? { policy } : {}),
      };
    }),
  };
}
