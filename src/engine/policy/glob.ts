/**
 * Name globs of the policy file: `*` matches any run of characters (dots included), `?` one character,
 * `\` makes the next character literal. Matching is the two-pointer wildcard algorithm (no regular
 * expression, no backtracking beyond the last `*`): O(name × pattern) at worst.
 */

type Token = { kind: 'literal'; char: string } | { kind: 'any' } | { kind: 'star' };

export interface Glob {
  /** The pattern as written, for rule names in messages. */
  readonly source: string;
  matches(name: string): boolean;
}

export function compileGlob(source: string): Glob {
  const tokens: Token[] = [];
  for (let i = 0; i < source.length; i++) {
    const char = source[i] as string;
    if (char === '\\' && i + 1 < source.length) tokens.push({ kind: 'literal', char: source[++i] as string });
    else if (char === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (char === '?') tokens.push({ kind: 'any' });
    else tokens.push({ kind: 'literal', char });
  }
  if (tokens.every((token) => token.kind === 'literal')) {
    const literal = tokens.map((token) => (token.kind === 'literal' ? token.char : '')).join('');
    return { source, matches: (name) => name === literal };
  }
  if (tokens.length === 1 && tokens[0]?.kind === 'star') return { source, matches: () => true };
  return { source, matches: (name) => matchTokens(tokens, name) };
}

function matchTokens(tokens: readonly Token[], name: string): boolean {
  // Once `*` has matched, a later mismatch only ever needs to retry from the most recent `*` (with
  // one more character consumed by it): earlier stars can absorb nothing that the latest cannot.
  let t = 0;
  let n = 0;
  let starToken = -1;
  let starName = 0;
  while (n < name.length) {
    const token = tokens[t];
    if (token?.kind === 'star') {
      starToken = t++;
      starName = n;
    } else if (token && (token.kind === 'any' || token.char === name[n])) {
      t++;
      n++;
    } else if (starToken >= 0) {
      t = starToken + 1;
      n = ++starName;
    } else {
      return false;
    }
  }
  while (tokens[t]?.kind === 'star') t++;
  return t === tokens.length;
}

/** Whether the name has glob characters (an exact server section beats a glob one). */
export function isPattern(source: string): boolean {
  return /[*?\\]/.test(source);
}
