/**
 * Scrubs one server's secrets out of text the bridge writes about it (errors, stderr, log lines)
 * before that text can reach a sandbox or the MCP client. One pass over the text with an
 * Aho–Corasick automaton, so the cost is linear in the text whatever the number of secrets; every
 * character covered by any occurrence of any secret is replaced, overlapping and adjacent
 * occurrences by a single marker (which also makes the longest secret win over its substrings).
 */

/** What a secret is replaced by. */
export const REDACTED = '[redacted]';

/**
 * Values shorter than this are not treated as secrets: replacing every `1`, `on` or `dev` in an
 * error message would make it unreadable and protect nothing a guess would not reveal.
 */
const MIN_SECRET_CHARS = 4;

/** Words configs use as flags and placeholders; as common as short values and as little secret. */
const COMMON_VALUES: ReadonlySet<string> = new Set(['true', 'false', 'null', 'none', 'undefined', 'nil']);

/** Decimal integers of up to five digits (ports, counts, timeouts) are not secrets either. */
const PLAIN_NUMBER = /^\d{1,5}$/;

export type Redactor = (text: string) => string;

/**
 * Whether `value` is worth redacting. The rule: at least {@link MIN_SECRET_CHARS} characters once
 * trimmed, not a flag-like word (`true`, `false`, `null`, `none`, `undefined`, `nil`, any case), and
 * not a plain integer of up to five digits (`8080`, `30000`).
 */
export function isSecretCandidate(value: string): boolean {
  const trimmed = value.trim();
  if (trimmed.length < MIN_SECRET_CHARS) return false;
  if (COMMON_VALUES.has(trimmed.toLowerCase())) return false;
  return !PLAIN_NUMBER.test(trimmed);
}

/**
 * The forms a secret takes in text we build: as is, trimmed, escaped inside a JSON string (messages
 * quote values with `JSON.stringify`), and percent-encoded (inside a URL).
 */
function spellings(secret: string): string[] {
  return [secret, secret.trim(), JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)];
}

/**
 * Builds a redactor for `secrets`; values that fail {@link isSecretCandidate} are ignored. With no
 * secret left it returns the text unchanged.
 */
export function createRedactor(secrets: Iterable<string>): Redactor {
  const patterns = new Set<string>();
  for (const secret of secrets) {
    for (const spelling of spellings(secret)) if (isSecretCandidate(spelling)) patterns.add(spelling);
  }
  if (patterns.size === 0) return (text) => text;
  const automaton = buildAutomaton([...patterns]);
  return (text) => redactWith(automaton, text);
}

interface Automaton {
  /** Children of each node by UTF-16 code unit; node 0 is the root. */
  next: Array<Map<number, number>>;
  /** Failure link: the node of the longest proper suffix that is also a trie path. */
  fail: number[];
  /** Length of the longest pattern that ends at this node (itself or via failure links); 0 for none. */
  longest: number[];
}

function buildAutomaton(patterns: string[]): Automaton {
  const next: Array<Map<number, number>> = [new Map()];
  const fail = [0];
  const longest = [0];
  for (const pattern of patterns) {
    let node = 0;
    for (let i = 0; i < pattern.length; i++) {
      const unit = pattern.charCodeAt(i);
      let child = next[node]?.get(unit);
      if (child === undefined) {
        child = next.length;
        next.push(new Map());
        fail.push(0);
        longest.push(0);
        next[node]?.set(unit, child);
      }
      node = child;
    }
    longest[node] = pattern.length;
  }
  // Breadth-first, so a node's failure target is finished before the node.
  const queue: number[] = [...(next[0]?.values() ?? [])];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] as number;
    for (const [unit, child] of next[node] ?? []) {
      let target = fail[node] as number;
      while (target !== 0 && !next[target]?.has(unit)) target = fail[target] as number;
      const candidate = next[target]?.get(unit);
      fail[child] = candidate !== undefined && candidate !== child ? candidate : 0;
      longest[child] = Math.max(longest[child] as number, longest[fail[child] as number] as number);
      queue.push(child);
    }
  }
  return { next, fail, longest };
}

function redactWith({ next, fail, longest }: Automaton, text: string): string {
  // Covered ranges as [start, end) pairs, merged as they are found: a match ending later may start
  // earlier than ranges already recorded (a long secret containing a short one), so it absorbs them.
  const ranges: Array<[number, number]> = [];
  let node = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    while (node !== 0 && !next[node]?.has(unit)) node = fail[node] as number;
    node = next[node]?.get(unit) ?? 0;
    const length = longest[node] as number;
    if (length === 0) continue;
    let start = i + 1 - length;
    let last = ranges.at(-1);
    while (last !== undefined && last[1] >= start) {
      start = Math.min(start, last[0]);
      ranges.pop();
      last = ranges.at(-1);
    }
    ranges.push([start, i + 1]);
  }
  if (ranges.length === 0) return text;
  let result = '';
  let copied = 0;
  for (const [start, end] of ranges) {
    result += text.slice(copied, start) + REDACTED;
    copied = end;
  }
  return result + text.slice(copied);
}
