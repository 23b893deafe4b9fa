/**
 * A tool's Python signature as the console shows it, from its JSON Schema: required parameters first,
 * optional ones `= None`, JSON types as Python annotations. A summary for reading; `codemode-bridge
 * stubs` prints the exact stubs the sandbox builds, with docstrings.
 */
const PY_TYPES: Readonly<Record<string, string>> = {
  string: 'str',
  integer: 'int',
  number: 'float',
  boolean: 'bool',
  array: 'list',
  object: 'dict',
  null: 'None',
};

function annotation(schema: unknown): string {
  const type = (schema as { type?: unknown } | undefined)?.type;
  if (typeof type === 'string') return PY_TYPES[type] ?? 'Any';
  if (Array.isArray(type)) {
    const names = type.map((each) => (typeof each === 'string' ? (PY_TYPES[each] ?? 'Any') : 'Any'));
    return [...new Set(names)].join(' | ') || 'Any';
  }
  return 'Any';
}

export function pythonSignature(alias: string, inputSchema: Record<string, unknown>): string {
  const properties = (inputSchema.properties ?? {}) as Record<string, unknown>;
  const required = new Set(Array.isArray(inputSchema.required) ? (inputSchema.required as unknown[]) : []);
  const names = Object.keys(properties).filter((name) => /^[A-Za-z_]\w*$/.test(name));
  // As the sandbox builds them: required parameters positional-or-keyword, optional ones keyword-only.
  const positional = names.filter((name) => required.has(name));
  const keywordOnly = names.filter((name) => !required.has(name));
  const params = positional.map((name) => `${name}: ${annotation(properties[name])}`);
  if (keywordOnly.length > 0) params.push('*');
  for (const name of keywordOnly) {
    const fallback = (properties[name] as { default?: unknown } | undefined)?.default;
    params.push(`${name}: ${annotation(properties[name])} = ${pythonLiteral(fallback)}`);
  }
  return `async def ${alias}(${params.join(', ')})`;
}

function pythonLiteral(value: unknown): string {
  if (value === undefined || value === null) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  return '...';
}
