/**
 * JSON-with-comments support. VS Code's `mcp.json` (and files people copy from it) may hold `//` and
 * `/* *\/` comments and trailing commas; plain `JSON.parse` rejects them.
 */

/**
 * Blanks out comments and trailing commas so the text becomes plain JSON. Every removed character is
 * replaced by a space (newlines are kept), so positions in a later `JSON.parse` error still point into
 * the original text. Strings are left untouched, including ones that contain `//`.
 */
export function stripJsonComments(text: string): string {
  const out = text.split('');
  let i = 0;
  // Index of the last comma outside strings, cleared by any other significant character.
  let pendingComma = -1;
  while (i < text.length) {
    const ch = text[i];
    const next = text[i + 1];
    if (ch === '"') {
      pendingComma = -1;
      i++;
      while (i < text.length && text[i] !== '"') {
        i += text[i] === '\\' ? 2 : 1;
      }
      i++;
    } else if (ch === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') out[i++] = ' ';
    } else if (ch === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      for (; i < stop; i++) if (text[i] !== '\n') out[i] = ' ';
    } else if (ch === ',') {
      pendingComma = i++;
    } else if ((ch === '}' || ch === ']') && pendingComma !== -1) {
      out[pendingComma] = ' ';
      pendingComma = -1;
      i++;
    } else {
      if (ch !== undefined && !/\s/.test(ch)) pendingComma = -1;
      i++;
    }
  }
  return out.join('');
}

/** Parses JSON, falling back to JSON with comments and trailing commas. Throws `SyntaxError` like `JSON.parse`. */
export function parseJsonc(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(stripJsonComments(text));
  }
}
