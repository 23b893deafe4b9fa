/**
 * Counts in messages, with thousands separators ("1,000,000"), as `toLocaleString('en-US')` prints
 * them. That call initialises ICU's number formatting the first time: ~20 ms, which fell on the
 * bridge's startup (tools/list's description) and on the first run whose output was cut.
 */
export function groupDigits(count: number): string {
  // Fractions would need the locale's rules after the point; every count here is whole.
  if (!Number.isSafeInteger(count)) return count.toLocaleString('en-US');
  return String(count).replace(/\B(?=(\d{3})+$)/g, ',');
}
