/**
 * Pieces of TypeScript source built from text an upstream server chose (pure): names, literals and doc
 * comments. Nothing a server writes can end a comment or a string early, or become code.
 */

/** Words that cannot name a type alias (TypeScript's predefined types and JavaScript's reserved words). */
const RESERVED_TYPE_NAMES: ReadonlySet<string> = new Set([
  'any',
  'bigint',
  'boolean',
  'never',
  'null',
  'number',
  'object',
  'string',
  'symbol',
  'undefined',
  'unknown',
  'void',
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'while',
  'with',
  'implements',
  'interface',
  'let',
  'package',
  'private',
  'protected',
  'public',
  'static',
  'yield',
  'await',
  'async',
  'type',
  'keyof',
  'infer',
  'is',
  'asserts',
  'readonly',
  'unique',
  'declare',
  'module',
  'namespace',
  'global',
  'require',
  'of',
  'get',
  'set',
  'abstract',
  'as',
  'satisfies',
  'accessor',
  'out',
  'override',
  'constructor',
]);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * A property name as it may stand in a type literal: bare when it is a plain identifier, else a
 * quoted string (`"get-sum"`, `"__proto__"`). `constructor` is quoted too: bare, a class would read
 * it as its constructor.
 */
export function propertyKey(name: string): string {
  return IDENTIFIER.test(name) && name !== 'constructor' && name !== '__proto__'
    ? name
    : JSON.stringify(name);
}

/** A type alias name derived from `raw` (a `$defs` key, a tool alias): an identifier no keyword takes. */
export function typeName(raw: string): string {
  const core = raw.replace(/[^A-Za-z0-9_$]+/g, '_').replace(/^_+|_+$/g, '') || 'Type';
  const named = /^[0-9]/.test(core) ? `_${core}` : core;
  return RESERVED_TYPE_NAMES.has(named) ? `${named}_` : named;
}

/** The literal type of a JSON value, or undefined when it has none (objects, arrays, non-finite numbers). */
export function literalType(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Longest text one doc comment keeps; a server's description is for a model, not a manual. */
const MAX_DOC_CHARS = 2000;

/**
 * Text fit for the inside of a `/** … *\/` comment: `*\/` cannot close it (the slash is escaped, as
 * JSDoc does), control characters and Unicode line separators become spaces, runs of blank lines one.
 */
export function docText(text: string): string {
  const cut = text.length > MAX_DOC_CHARS ? `${text.slice(0, MAX_DOC_CHARS)}…` : text;
  return (
    cut
      .replace(/\r\n?/g, '\n')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029]/g, ' ')
      .replace(/\*\//g, '*\\/')
      .replace(/\n{3,}/g, '\n\n')
      .trim()
  );
}

/** A doc comment holding `lines` (each may span lines), indented by `indent`; empty when there is nothing. */
export function docComment(lines: readonly string[], indent: string): string {
  const text = lines.map(docText).filter(Boolean).join('\n');
  if (text === '') return '';
  const body = text.split('\n').map((line) => (line ? `${indent} * ${line}` : `${indent} *`));
  if (body.length === 1) return `${indent}/** ${body[0]?.slice(indent.length + 3)} */\n`;
  return `${indent}/**\n${body.join('\n')}\n${indent} */\n`;
}
