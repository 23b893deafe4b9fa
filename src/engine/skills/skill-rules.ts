/**
 * What the host accepts as a skill, checked without Python (the host may have none): name rules,
 * size, UTF-8, and a top-level `def` of that name. Whether it compiles is checked by the sandbox that
 * saves it and, lazily, by every sandbox that loads it (a hand-edited file may not). Also the file
 * format: one `.py` per version, its first line a comment holding the metadata as JSON.
 */
import { HostCallError } from '../../sandbox/types.js';
import { groupDigits } from '../../shared/digits.js';
import { PYTHON_BUILTINS, PYTHON_KEYWORDS, PYTHON_STDLIB_MODULES } from './python-names.js';

const MAX_SKILL_NAME_CHARS = 64;
/** One skill's source, UTF-8 bytes. Every run receives the newest version of every skill. */
export const MAX_SKILL_SOURCE_BYTES = 64 * 1024;
const MAX_DESCRIPTION_CHARS = 2000;
const MAX_SIGNATURE_CHARS = 500;
const MAX_PARAMETERS = 64;
const MAX_SERVERS = 64;
const MAX_SERVER_NAME_CHARS = 256;

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;
/** What a file or directory of the store may be called at all: no dots, no separators, no NUL. */
const STORE_NAME_PATTERN = /^[A-Za-z0-9_]{1,64}$/;
/** The globals every program gets (and the names our docs import `mcp.runtime` as); see skill_names.py. */
const SANDBOX_NAMES: ReadonlySet<string> = new Set([
  'LOADED_MCP_SERVERS',
  'call_tool',
  'delete_skill',
  'list_skills',
  'mcp',
  'mcp_servers',
  'rt',
  'runtime',
  'save_tool',
  'skills',
]);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const HEADER_PREFIX = '# codemode-bridge skill: ';
const VERSION_FILE = /^v([1-9][0-9]{0,8})\.py$/;

/**
 * Why `name` cannot name a skill, or undefined. The same rules as the sandbox's `name_problem`: a
 * skill is injected into every later program under its name, so it must not shadow Python or us.
 */
export function skillNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length > MAX_SKILL_NAME_CHARS || !NAME_PATTERN.test(name)) {
    return `a skill name is an ASCII identifier that starts with a letter, at most ${MAX_SKILL_NAME_CHARS} characters`;
  }
  if (PYTHON_KEYWORDS.has(name)) return `'${name}' is a Python keyword`;
  if (SANDBOX_NAMES.has(name) || name.startsWith('mcp_'))
    return `'${name}' is a name the sandbox gives every program`;
  if (PYTHON_BUILTINS.has(name)) return `'${name}' would shadow the builtin of that name`;
  if (PYTHON_STDLIB_MODULES.has(name)) return `'${name}' is the name of a standard library module`;
  return undefined;
}

/** Whether `name` may be looked up in the store at all (delete, show): one path segment, nothing else. */
export function isStoreName(name: unknown): name is string {
  return typeof name === 'string' && STORE_NAME_PATTERN.test(name);
}

/** The metadata kept in a version file's first line. */
export interface SkillHeader {
  name: string;
  savedAt: string;
  description: string;
  /** `(a, b=1)`, as `inspect.signature` printed it. */
  signature: string;
  parameters: string[];
  isAsync: boolean;
  /** Upstream servers the function uses through `mcp_<alias>`, as the saving sandbox saw them. */
  servers: string[];
}

/** A skill as a sandbox asked to save it, validated. */
export type SkillDraft = Omit<SkillHeader, 'savedAt'> & { source: string };

/** A value from a sandbox, quoted for an error message, at most 80 characters of it. */
export function preview(value: unknown): string {
  if (typeof value !== 'string') {
    // Never String(value): a frame's `{"toString": 1}` would throw.
    return value === null || typeof value !== 'object' ? JSON.stringify(String(value)) : `(${typeof value})`;
  }
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

function invalid(message: string): HostCallError {
  return new HostCallError(message, 'INVALID_SKILL');
}

function oneLine(value: unknown, maxChars: number): string {
  if (typeof value !== 'string') return '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what is removed
  const clean = value.replace(/\u0000/g, '');
  return clean.length <= maxChars ? clean : `${clean.slice(0, maxChars - 1)}…`;
}

function stringList(value: unknown, maxItems: number, accept: (item: string) => boolean): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is string => typeof item === 'string' && accept(item)).slice(0, maxItems);
}

/** Whether `source` defines `name` with a `def` (or `async def`) at its top level. */
export function definesFunction(source: string, name: string): boolean {
  return new RegExp(`^(?:async[ \\t]+)?def[ \\t]+${name}[ \\t]*\\(`, 'm').test(source);
}

/** The source's problem as a stored skill (size, encoding, NUL, no `def`), or undefined. */
export function sourceProblem(source: string, name: string): string | undefined {
  if (source.includes('\u0000')) return 'the source contains a NUL character';
  if (LONE_SURROGATE.test(source)) return 'the source is not valid UTF-8';
  const bytes = Buffer.byteLength(source);
  if (bytes > MAX_SKILL_SOURCE_BYTES) {
    return `the source is ${groupDigits(bytes)} bytes; a skill holds at most ${groupDigits(MAX_SKILL_SOURCE_BYTES)}`;
  }
  if (!definesFunction(source, name))
    return `the source does not define a function '${name}' at its top level`;
  return undefined;
}

/** Checks a `save_skill` request from a sandbox; throws `HostCallError('INVALID_SKILL')` saying what is wrong. */
export function validateSkillDraft(args: Record<string, unknown>): SkillDraft {
  const problem = skillNameProblem(args.name);
  if (problem) throw invalid(`cannot save a skill named ${preview(args.name)}: ${problem}`);
  const name = args.name as string;
  if (typeof args.source !== 'string' || args.source.trim() === '') {
    throw invalid(`skill '${name}': the source must be a non-empty string`);
  }
  const sourceIssue = sourceProblem(args.source, name);
  if (sourceIssue) throw invalid(`skill '${name}': ${sourceIssue}`);
  const signature = oneLine(args.signature, MAX_SIGNATURE_CHARS).replace(/[\r\n]+/g, ' ');
  return {
    name,
    source: args.source,
    description: oneLine(args.description, MAX_DESCRIPTION_CHARS),
    signature: signature.startsWith('(') ? signature : '',
    parameters: stringList(args.parameters, MAX_PARAMETERS, (item) =>
      /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(item),
    ),
    isAsync: args.isAsync === true,
    servers: stringList(
      args.servers,
      MAX_SERVERS,
      (item) => item.length > 0 && item.length <= MAX_SERVER_NAME_CHARS,
    ),
  };
}

/** A version file's text: the metadata line, then the source exactly as it will be compiled. */
export function encodeSkillFile(header: SkillHeader, source: string): string {
  return `${HEADER_PREFIX}${JSON.stringify(header)}\n${source}`;
}

/**
 * Splits a version file into metadata and source. A file without our first line (written by hand)
 * is all source, with no metadata; a first line that does not parse is dropped and ignored.
 */
export function decodeSkillFile(text: string): { header: Partial<SkillHeader>; source: string } {
  if (!text.startsWith(HEADER_PREFIX)) return { header: {}, source: text };
  const newline = text.indexOf('\n');
  const line = newline === -1 ? text : text.slice(0, newline);
  const source = newline === -1 ? '' : text.slice(newline + 1);
  try {
    const parsed: unknown = JSON.parse(line.slice(HEADER_PREFIX.length));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { header: {}, source };
    const raw = parsed as Record<string, unknown>;
    const header: Partial<SkillHeader> = {
      description: oneLine(raw.description, MAX_DESCRIPTION_CHARS),
      signature: oneLine(raw.signature, MAX_SIGNATURE_CHARS),
      parameters: stringList(raw.parameters, MAX_PARAMETERS, () => true),
      isAsync: raw.isAsync === true,
      servers: stringList(raw.servers, MAX_SERVERS, () => true),
    };
    if (typeof raw.name === 'string') header.name = raw.name;
    if (typeof raw.savedAt === 'string') header.savedAt = oneLine(raw.savedAt, 64);
    return { header, source };
  } catch {
    return { header: {}, source };
  }
}

/** The version a file name stands for (`v12.py` → 12), or undefined for any other file. */
export function versionOfFile(fileName: string): number | undefined {
  const match = VERSION_FILE.exec(fileName);
  return match ? Number(match[1]) : undefined;
}

export function versionFileName(version: number): string {
  return `v${version}.py`;
}
