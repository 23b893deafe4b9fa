/**
 * The listed names closest to one a program asked for (pure): for the error that refuses a tool the
 * server never listed. Names are compared normalised (NFKC, lower case, hidden characters dropped, any
 * run of spaces, dashes of every kind, dots and underscores as one `_`), so `DELETE-FILE`,
 * `delete‐file` (U+2010) and `delete-file ` all find `delete-file`; then by edit distance, bounded so
 * the cost per candidate stays a few hundred steps.
 */

/** Characters of a normalised name compared; longer names are compared by their start. */
const COMPARED_CHARS = 48;
/** The largest edit distance still suggested. */
const MAX_DISTANCE = 4;

const HIDDEN = /[\p{Cc}\p{Cf}]/gu;
const SEPARATORS = /[\s\p{Pd}\u2212._]+/gu;

export function normalizeName(name: string): string {
  return name
    .normalize('NFKC')
    .replace(HIDDEN, '')
    .toLowerCase()
    .replace(SEPARATORS, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, COMPARED_CHARS);
}

/**
 * Levenshtein distance of `a` and `b`, or `limit + 1` as soon as it is known to exceed `limit`
 * (only the diagonal band of width `limit` is computed).
 */
export function boundedDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - limit);
    const to = Math.min(b.length, i + limit);
    current.fill(limit + 1);
    current[0] = i;
    let best = i <= limit ? i : limit + 1;
    for (let j = from; j <= to; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(
        (previous[j - 1] as number) + cost,
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
      );
      current[j] = value;
      if (value < best) best = value;
    }
    if (best > limit) return limit + 1;
    [previous, current] = [current, previous];
  }
  return Math.min(previous[b.length] as number, limit + 1);
}

/**
 * Up to `limit` of `candidates` closest to `name`, closest first: equal once normalised, then within
 * a small edit distance (a quarter of the name's length, at least 1, at most 4), then names that
 * contain it or that it contains (at least 3 characters).
 */
export function closestNames(name: string, candidates: readonly string[], limit = 3): string[] {
  const wanted = normalizeName(name);
  if (wanted === '') return [];
  const allowed = Math.min(MAX_DISTANCE, Math.max(1, Math.floor(wanted.length / 4)));
  const scored: Array<{ candidate: string; score: number }> = [];
  for (const candidate of candidates) {
    const normalized = normalizeName(candidate);
    const distance = boundedDistance(wanted, normalized, allowed);
    if (distance <= allowed) scored.push({ candidate, score: distance });
    else if (
      Math.min(wanted.length, normalized.length) >= 3 &&
      (normalized.includes(wanted) || wanted.includes(normalized))
    ) {
      scored.push({ candidate, score: allowed + 1 + Math.abs(normalized.length - wanted.length) / 100 });
    }
  }
  scored.sort((a, b) => a.score - b.score || (a.candidate < b.candidate ? -1 : 1));
  return scored.slice(0, limit).map((entry) => entry.candidate);
}
