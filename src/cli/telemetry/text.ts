/**
 * Text a program chooses (tool names, error messages) as it may appear in telemetry: every control
 * character, bidi mark or override, line or paragraph separator and invisible character is written
 * as a visible `\uXXXX` escape, so no trace viewer or terminal interprets it, and the result is cut
 * to a length, visibly. Pure; unit-tested.
 */

// C0 and C1 controls and DEL; the Arabic letter mark; zero-width space, joiners and the LRM/RLM
// marks; U+2028/U+2029; the bidi embeddings and overrides; the word joiner, invisible operators and
// bidi isolates; the byte-order mark.
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** `text` with unsafe characters escaped, at most `maxChars` characters (code points), `…` marking a cut. */
export function telemetryText(text: string, maxChars: number): string {
  const escaped = text.replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  // No more code points than UTF-16 units: a short text needs no counting (the common case, per call).
  if (escaped.length <= maxChars) return escaped;
  const chars = Array.from(escaped);
  return chars.length <= maxChars ? escaped : `${chars.slice(0, maxChars - 1).join('')}…`;
}
