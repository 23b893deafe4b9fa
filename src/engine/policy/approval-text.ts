/**
 * A call's arguments as an approval prompt shows them (pure). Every argument by name, shortest values
 * first, so a long value cannot push a short one out of sight; paths and URLs in full, wherever they
 * are nested (one longer than {@link MAX_LOCATION_CHARS} shows its head and tail and says so); other
 * long values cut, each visibly, sharing {@link MAX_VALUES_CHARS}; each value as JSON with every
 * character that could forge the prompt's own text escaped (`\n`, `\u2028`, `\u202e`, …). A call
 * whose names, paths and URLs alone would exceed {@link MAX_PROMPT_CHARS} cannot be shown honestly:
 * the answer says so, and the caller refuses the call without asking.
 */
import { groupDigits } from '../../shared/digits.js';
import { visibleJson } from '../../shared/visible-text.js';

/** What the values that are not paths or URLs may take together (each keeps at least 80 characters). */
export const MAX_VALUES_CHARS = 3000;
const MIN_VALUE_CHARS = 80;
/** A path or URL is shown in full up to this; a longer one shows its head and tail and says so. */
export const MAX_LOCATION_CHARS = 4096;
/** The most a prompt's arguments may take; a call needing more to show its names, paths and URLs is refused. */
export const MAX_PROMPT_CHARS = 64 * 1024;

/** Argument keys whose values a prompt never shows. */
const SECRET_KEY = /pass(word|phrase)?|secret|token|api[_-]?key|auth|credential|private[_-]?key/i;
/** Keys whose string values are paths or URLs, whatever they look like (`path`, `filePath`, `dest_url`). */
const LOCATION_KEY =
  /(?:path|file|filename|dir|directory|folder|url|uri|href|link|src|source|dest|destination|target|root|cwd|location|endpoint|repo|repository)s?$/i;
const BARE_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

export type PromptArguments = { ok: true; text: string } | { ok: false; why: string };

interface Shown {
  /** The label: the argument's name, or a nested path such as `edits[0].path`. */
  label: string;
  json: string;
}

interface Entry extends Shown {
  location: boolean;
  /** Paths and URLs inside an object or array argument, listed when the argument itself is cut. */
  nested: Shown[];
}

/** Whether a string is a path or a URL: by its key, or by its shape (absolute, relative, `scheme:`). */
export function isLocation(key: string, value: string): boolean {
  if (LOCATION_KEY.test(key)) return true;
  if (value.length > MAX_LOCATION_CHARS || value.includes('\n')) return false;
  if (/^(?:[\\/~]|\.\.?[\\/]|[A-Za-z]:[\\/])/.test(value)) return true;
  return !/\s/.test(value) && (/[\\/]/.test(value) || /^[A-Za-z][A-Za-z0-9+.-]*:\S/.test(value));
}

const labelOf = (key: string) => (BARE_NAME.test(key) ? key : visibleJson(JSON.stringify(key)));

/**
 * Renders `args` for a prompt; `redact` scrubs the server's secrets from each value's JSON. Keys that
 * look secret (`password`, `token`, `api_key`, …) show `[redacted]` instead of their value.
 */
export function promptArguments(
  args: Record<string, unknown>,
  redact: (text: string) => string,
): PromptArguments {
  const names = Object.keys(args);
  if (names.length === 0) return { ok: true, text: 'No arguments.' };
  const hideSecrets = (key: string, value: unknown) =>
    key !== '' && SECRET_KEY.test(key) && (value === null || typeof value !== 'object')
      ? '[redacted]'
      : value;
  const render = (value: unknown) => visibleJson(redact(JSON.stringify(value, hideSecrets) ?? 'null'));

  // What must be shown in full: every name, every path and URL (capped), and a little of each value.
  let fixed = 0;
  const entries: Entry[] = [];
  for (const name of names) {
    const value = hideSecrets(name, args[name]);
    const label = labelOf(name);
    const json = render(value);
    const location = typeof value === 'string' && isLocation(name, value);
    const nested: Shown[] = [];
    if (value !== null && typeof value === 'object') {
      const within = MAX_PROMPT_CHARS - fixed;
      const found = collectLocations(value, label, render, nested, within);
      if (found > within) return tooLarge(names.length);
      fixed += found;
    }
    fixed += label.length + Math.min(json.length, location ? MAX_LOCATION_CHARS : MIN_VALUE_CHARS);
    if (fixed > MAX_PROMPT_CHARS) return tooLarge(names.length);
    entries.push({ label, json, location, nested });
  }

  // Short values first: a long one cannot push the rest out of sight (sort is stable).
  entries.sort((a, b) => a.json.length - b.json.length);
  let budget = MAX_VALUES_CHARS;
  let left = entries.filter((entry) => !entry.location).length;
  const lines: string[] = [];
  for (const entry of entries) {
    if (entry.location) {
      lines.push(`  ${entry.label}: ${showLocation(entry.json)}`);
      continue;
    }
    const allowance = Math.max(MIN_VALUE_CHARS, Math.floor(budget / left));
    left--;
    const shown = cut(entry.json, allowance);
    budget = Math.max(0, budget - Math.min(entry.json.length, allowance));
    lines.push(`  ${entry.label}: ${shown}`);
    if (shown !== entry.json) {
      for (const inner of entry.nested) lines.push(`    ${inner.label}: ${showLocation(inner.json)}`);
    }
  }
  const count = names.length === 1 ? '1 argument' : `${names.length} arguments`;
  return { ok: true, text: `${count}, shortest first (long values cut where marked):\n${lines.join('\n')}` };
}

function tooLarge(count: number): PromptArguments {
  return {
    ok: false,
    why:
      `its ${count} argument${count === 1 ? '' : 's'} cannot be shown in an approval prompt: their names, ` +
      `paths and URLs alone exceed ${groupDigits(MAX_PROMPT_CHARS)} characters`,
  };
}

/**
 * Adds the paths and URLs inside `value` to `found`, labelled by where they are; returns the
 * characters they take, stopping once that passes `limit` (the call is then refused anyway).
 */
function collectLocations(
  value: object,
  label: string,
  render: (value: unknown) => string,
  found: Shown[],
  limit: number,
): number {
  let total = 0;
  const stack: Array<[unknown, string, string]> = [[value, label, '']];
  while (stack.length > 0 && total <= limit) {
    const [item, at, key] = stack.pop() as [unknown, string, string];
    if (typeof item === 'string') {
      if (!SECRET_KEY.test(key) && isLocation(key, item)) {
        const json = render(item);
        found.push({ label: at, json });
        total += at.length + Math.min(json.length, MAX_LOCATION_CHARS);
      }
    } else if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) stack.push([item[i], `${at}[${i}]`, key]);
    } else if (item !== null && typeof item === 'object') {
      const keys = Object.keys(item);
      for (let i = keys.length - 1; i >= 0; i--) {
        const child = keys[i] as string;
        const childLabel = BARE_NAME.test(child) ? `${at}.${child}` : `${at}[${labelOf(child)}]`;
        stack.push([(item as Record<string, unknown>)[child], childLabel, child]);
      }
    }
  }
  return total;
}

/** The first `allowance` characters and how many more there are, or the whole text when it fits. */
function cut(text: string, allowance: number): string {
  if (text.length <= allowance) return text;
  let end = allowance;
  // Never half a surrogate pair: a lone surrogate is itself a hidden character.
  if (/[\ud800-\udbff]/.test(text[end - 1] ?? '')) end--;
  return `${text.slice(0, end)}… [cut: ${groupDigits(text.length - end)} more characters]`;
}

/** A path or URL in full, or (longer than the cap) its head and tail with what is left out said. */
function showLocation(json: string): string {
  if (json.length <= MAX_LOCATION_CHARS) return json;
  let head = MAX_LOCATION_CHARS / 2;
  let tail = json.length - MAX_LOCATION_CHARS / 2;
  if (/[\ud800-\udbff]/.test(json[head - 1] ?? '')) head--;
  if (/[\udc00-\udfff]/.test(json[tail] ?? '')) tail++;
  const hidden = groupDigits(tail - head);
  return `${json.slice(0, head)}…[${hidden} characters of this path or URL not shown: it is longer than a prompt shows]…${json.slice(tail)}`;
}
