/**
 * Text a program chose (tool and argument names, argument values), made safe to show a person: every
 * character that moves a terminal's cursor, clears or recolours its screen, breaks a line, reorders
 * text (bidi controls) or is invisible is written as an escape anyone can read (`\x1b`, `\u2028`,
 * `\u{e0041}`), so one value can pass neither for several lines nor for the text around it.
 */

/**
 * What is escaped: C0 and C1 controls and DEL (`Cc`), format characters (`Cf`: bidi embeddings,
 * overrides, isolates and marks, zero-width characters, U+061C, the BOM, tag characters), U+2028 and
 * U+2029, lone surrogates, every space but U+0020, and the characters that render as nothing although
 * they are letters or marks (Hangul fillers, variation selectors, the combining grapheme joiner).
 */
const HIDDEN_CLASS =
  '\\p{Cc}\\p{Cf}\\p{Cs}\\p{Zl}\\p{Zp}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000' +
  '\\u034f\\u115f\\u1160\\u3164\\uffa0\\ufe00-\\ufe0f\\u{e0100}-\\u{e01ef}';
const HIDDEN = new RegExp(`[${HIDDEN_CLASS}]`, 'u');
const HIDDEN_ALL = new RegExp(`[${HIDDEN_CLASS}]`, 'gu');
const HIDDEN_OR_BACKSLASH = new RegExp(`[${HIDDEN_CLASS}\\\\]`, 'u');
const HIDDEN_OR_BACKSLASH_ALL = new RegExp(`[${HIDDEN_CLASS}\\\\]`, 'gu');

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\\': '\\\\' };

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

/**
 * `text` for a terminal or a prompt: hidden and control characters as `\n`, `\r`, `\t`, `\xHH`,
 * `\uHHHH` or `\u{HHHHH}`, and `\` as `\\`, so what is shown reads back to exactly one text.
 */
export function visibleText(text: string): string {
  if (!HIDDEN_OR_BACKSLASH.test(text)) return text;
  return text.replace(HIDDEN_OR_BACKSLASH_ALL, (char) => {
    const short = SHORT[char];
    if (short) return short;
    const code = char.codePointAt(0) as number;
    if (code <= 0xff) return `\\x${hex(code, 2)}`;
    if (code <= 0xffff) return `\\u${hex(code, 4)}`;
    return `\\u{${code.toString(16)}}`;
  });
}

/**
 * Compact JSON text (`JSON.stringify` without indentation) with the characters JSON leaves as they
 * are (DEL, C1, U+2028/U+2029, bidi and other format characters, odd spaces) written as `\uHHHH`
 * escapes: still valid JSON that parses to the same value, but safe to print. Outside strings, compact
 * JSON has none of these characters, so only string contents change.
 */
export function visibleJson(json: string): string {
  if (!HIDDEN.test(json)) return json;
  return json.replace(HIDDEN_ALL, (char) => {
    let out = '';
    for (let i = 0; i < char.length; i++) out += `\\u${hex(char.charCodeAt(i), 4)}`;
    return out;
  });
}

/** Whether `text` holds anything {@link visibleText} would escape other than `\`. */
export function hasHiddenCharacters(text: string): boolean {
  return HIDDEN.test(text);
}
