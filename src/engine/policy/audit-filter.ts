/** Filters for `codemode-bridge audit` (pure, so the CLI stays thin and the rules are unit-tested). */
import { type AuditEntry, isSummary } from './audit-log.js';

export interface AuditFilter {
  /** A run id is per bridge process (`run-1` again after a restart): `pid` picks the bridge. */
  run?: string;
  pid?: number;
  /** Whose runs: a principal's id, exactly. */
  principal?: string;
  /** Server and tool names match exactly, or as globs with `*`. */
  server?: string;
  tool?: string;
  outcome?: string;
  action?: string;
  /** An ISO time, or a duration back from `now`: `30s`, `15m`, `2h`, `7d`. */
  since?: string;
  /** Keep only the last N records that pass the other filters. */
  last?: number;
}

const DURATION_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The earliest time `since` admits; throws `RangeError` for something that is neither form. */
export function sinceTime(since: string, now: number = Date.now()): number {
  const duration = /^(\d+)([smhd])$/.exec(since.trim());
  if (duration) return now - Number(duration[1]) * (DURATION_MS[duration[2] as string] as number);
  const time = Date.parse(since);
  if (Number.isNaN(time)) {
    throw new RangeError(
      `--since takes an ISO time (2026-12-01T06:00Z) or a duration (30s, 15m, 2h, 7d), not '${since}'`,
    );
  }
  return time;
}

function nameMatcher(pattern: string): (name: string) => boolean {
  if (!pattern.includes('*')) return (name) => name === pattern;
  const parts = pattern.split('*');
  return (name) => {
    // Each literal part in order; linear, no regular expression built from user input.
    if (!name.startsWith(parts[0] as string)) return false;
    let at = (parts[0] as string).length;
    for (let i = 1; i < parts.length - 1; i++) {
      const found = name.indexOf(parts[i] as string, at);
      if (found === -1) return false;
      at = found + (parts[i] as string).length;
    }
    const tail = parts.at(-1) as string;
    return name.length - tail.length >= at && name.endsWith(tail);
  };
}

/**
 * The entries that pass every filter. A run's summary line passes the server, tool and outcome
 * filters when any of the calls it counts would (it has no action: `action` excludes it).
 */
export function filterAudit(
  records: readonly AuditEntry[],
  filter: AuditFilter,
  now = Date.now(),
): AuditEntry[] {
  const server = filter.server ? nameMatcher(filter.server) : undefined;
  const tool = filter.tool ? nameMatcher(filter.tool) : undefined;
  const since = filter.since ? sinceTime(filter.since, now) : undefined;
  const calls = (record: AuditEntry): boolean => {
    if (!isSummary(record)) {
      return (
        (!server || server(record.server)) &&
        (!tool || tool(record.tool)) &&
        (filter.outcome === undefined || record.outcome === filter.outcome) &&
        (filter.action === undefined || record.action === filter.action)
      );
    }
    if (filter.action !== undefined) return false;
    if (filter.outcome !== undefined && !Object.hasOwn(record.outcomes ?? {}, filter.outcome)) return false;
    if (!server && !tool) return true;
    return Object.entries(record.tools ?? {}).some(
      ([name, tools]) => (!server || server(name)) && (!tool || Object.keys(tools ?? {}).some(tool)),
    );
  };
  const kept = records.filter(
    (record) =>
      (filter.run === undefined || record.run === filter.run) &&
      (filter.pid === undefined || record.pid === filter.pid) &&
      (filter.principal === undefined || record.principal === filter.principal) &&
      (since === undefined || Date.parse(record.time) >= since) &&
      calls(record),
  );
  return filter.last !== undefined ? kept.slice(-filter.last) : kept;
}
