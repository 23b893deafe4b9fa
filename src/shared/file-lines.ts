/**
 * Where in a JSON or TOML file a value is written, for error messages that name a line: a path such
 * as `tokens[2].sha256` is mapped to the line its value starts on. JSON is scanned exactly (a small
 * recursive descent that records each value's line by path); TOML by its table headers and keys, which
 * covers the `[[array]]` tables and `key = value` lines configuration files are written in.
 */

export type ValuePath = ReadonlyArray<string | number>;

/** The line (1-based) each value of a JSON document starts on, by path (`tokens.2.sha256`). */
export function jsonValueLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  let index = 0;
  let line = 1;
  const skipSpace = () => {
    while (index < text.length) {
      const char = text[index];
      if (char === '\n') line++;
      else if (char !== ' ' && char !== '\t' && char !== '\r') return;
      index++;
    }
  };
  const skipString = () => {
    index++;
    while (index < text.length && text[index] !== '"') index += text[index] === '\\' ? 2 : 1;
    index++;
  };
  const readString = (): string => {
    const start = index;
    skipString();
    try {
      return JSON.parse(text.slice(start, index)) as string;
    } catch {
      return '';
    }
  };
  const value = (path: ValuePath, depth: number): void => {
    skipSpace();
    lines.set(path.join('.'), line);
    if (depth > 64) return;
    const char = text[index];
    if (char === '{') {
      index++;
      for (;;) {
        skipSpace();
        if (text[index] !== '"') break;
        const key = readString();
        skipSpace();
        if (text[index] !== ':') return;
        index++;
        value([...path, key], depth + 1);
        skipSpace();
        if (text[index] !== ',') break;
        index++;
      }
      if (text[index] === '}') index++;
    } else if (char === '[') {
      index++;
      for (let item = 0; ; item++) {
        skipSpace();
        if (text[index] === ']') break;
        value([...path, item], depth + 1);
        skipSpace();
        if (text[index] !== ',') break;
        index++;
      }
      if (text[index] === ']') index++;
    } else if (char === '"') {
      skipString();
    } else {
      while (index < text.length && !/[\s,\]}]/.test(text[index] as string)) index++;
    }
  };
  value([], 0);
  return lines;
}

/** The line of `path` in a JSON document: its own, or its nearest ancestor's. */
export function jsonLineOf(text: string, path: ValuePath): number | undefined {
  const lines = jsonValueLines(text);
  for (let length = path.length; length >= 0; length--) {
    const found = lines.get(path.slice(0, length).join('.'));
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The line of `path` in a TOML document written with `[[table]]` entries: `[table, n, key]` is the
 * `key = …` line of the n-th `[[table]]` (or that header, when the key is missing); `[key]` a top-level
 * `key = …` line. Undefined when the text is shaped otherwise (inline tables): the message names the
 * path without a line.
 */
export function tomlLineOf(text: string, path: ValuePath): number | undefined {
  const rows = text.split('\n');
  const [table, item, key] = path;
  const keyLine = (from: number, to: number, name: string) => {
    const pattern = new RegExp(`^\\s*(?:${escapeRegExp(name)}|"${escapeRegExp(name)}")\\s*=`);
    for (let row = from; row < to; row++) if (pattern.test(rows[row] as string)) return row + 1;
    return undefined;
  };
  const isHeader = (row: string) => /^\s*\[/.test(row);
  if (typeof table !== 'string') return undefined;
  if (typeof item !== 'number') {
    const end = rows.findIndex(isHeader);
    return keyLine(0, end === -1 ? rows.length : end, table);
  }
  const header = new RegExp(`^\\s*\\[\\[\\s*${escapeRegExp(table)}\\s*\\]\\]`);
  let seen = -1;
  for (let row = 0; row < rows.length; row++) {
    if (!header.test(rows[row] as string) || ++seen !== item) continue;
    if (typeof key !== 'string') return row + 1;
    let end = row + 1;
    while (end < rows.length && !isHeader(rows[end] as string)) end++;
    return keyLine(row + 1, end, key) ?? row + 1;
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `tokens[2].sha256`: a path as a person reads it. */
export function describePath(path: ValuePath): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}
