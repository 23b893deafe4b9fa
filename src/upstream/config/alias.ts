/**
 * Python identifiers for server and tool names (docs/architecture.md, "Upstream servers"): `get-sum` →
 * `get_sum`. The original name stays in metadata; the alias is only what Python code writes.
 */

// Hard keywords only: soft keywords (match, case, type, _) are valid identifiers.
const PYTHON_KEYWORDS: ReadonlySet<string> = new Set([
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield',
]);

/**
 * Derives a Python identifier from `name`. Every run of characters outside ASCII letters, digits and
 * `_` (non-ASCII included) becomes one `_`; repeated `_` collapse; leading and trailing `_` are
 * trimmed (`@scope/pkg` → `scope_pkg`). Case is kept. A leading digit gets a `_` prefix, a Python
 * keyword a `_` suffix (`class` → `class_`), and a name with nothing usable becomes `_`.
 */
export function toPythonIdentifier(name: string): string {
  const core = name
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  if (core === '') return '_';
  if (/^[0-9]/.test(core)) return `_${core}`;
  return PYTHON_KEYWORDS.has(core) ? `${core}_` : core;
}

/**
 * Keys the TypeScript sandbox's `mcp` object holds itself (`mcp.runtime`, the error classes): no
 * server is given one as its alias, in either language, so a program reads the same in both.
 */
export const MCP_OWN_KEYS: readonly string[] = ['runtime', 'ToolError', 'PolicyError'];

/** Options for {@link assignAliases}. */
export interface AssignAliasesOptions {
  /** Identifiers no name may receive, e.g. helper functions living beside the aliases. Default: none. */
  reserved?: Iterable<string>;
}

/**
 * Gives each distinct name a unique Python identifier. A name keeps its natural alias
 * ({@link toPythonIdentifier}) unless an earlier name in the input took it, or it is reserved; then it
 * gets the first free `alias_2`, `alias_3`, … (`class_2`, not `class__2`) that is neither reserved nor any name's natural alias. So
 * the outcome depends only on input order, and adding a colliding name never renames an earlier one.
 */
export function assignAliases(
  names: readonly string[],
  options: AssignAliasesOptions = {},
): Map<string, string> {
  const reserved = new Set(options.reserved ?? []);
  const unique = [...new Set(names)];
  const natural = new Map(unique.map((name) => [name, toPythonIdentifier(name)]));
  const taken = new Set(reserved);
  const aliases = new Map<string, string>();
  const losers: string[] = [];

  for (const name of unique) {
    const alias = natural.get(name) ?? '_';
    if (taken.has(alias)) {
      losers.push(name);
    } else {
      taken.add(alias);
      aliases.set(name, alias);
    }
  }
  // Suffixes also avoid natural aliases of losers, so `foo_2` from a name like "foo 2" is never
  // handed to a different name that merely collided on `foo`.
  const blocked = new Set([...taken, ...natural.values()]);
  for (const name of losers) {
    const own = natural.get(name) ?? '_';
    // `class_` + 2 reads better as `class_2` than `class__2`.
    const base = own.endsWith('_') ? own : `${own}_`;
    let n = 2;
    while (blocked.has(`${base}${n}`)) n++;
    const alias = `${base}${n}`;
    blocked.add(alias);
    aliases.set(name, alias);
  }
  // Keep the caller's input order in the map.
  return new Map(unique.map((name) => [name, aliases.get(name) ?? '_']));
}
