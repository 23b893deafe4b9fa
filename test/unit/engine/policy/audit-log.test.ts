import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { filterAudit, sinceTime } from '../../../../src/engine/policy/audit-filter.js';
import {
  AuditLog,
  type AuditRecord,
  type AuditSummary,
  digest,
  isSummary,
  readAuditLog,
} from '../../../../src/engine/policy/audit-log.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const record = (n: number, fields: Partial<AuditRecord> = {}): AuditRecord => ({
  time: new Date(Date.UTC(2026, 11, 1, 6, 0, n)).toISOString(),
  pid: 1,
  run: `run-${n}`,
  server: 'fs',
  tool: 'read_file',
  outcome: 'ok',
  args: digest({ path: `/tmp/${n}` }),
  ms: 1,
  ...fields,
});

describe('AuditLog', () => {
  it('rotates by size, keeps the configured number of files, and reads them back oldest first', () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-'));
    const path = join(dir, 'logs', 'audit.jsonl');
    const log = new AuditLog({ path, maxBytes: 1000, files: 2 });
    for (let n = 0; n < 40; n++) log.write(record(n));
    log.close();
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    for (const file of [path, `${path}.1`, `${path}.2`])
      expect(statSync(file).size).toBeLessThanOrEqual(1000);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const runs = readAuditLog(path).map((entry) => Number(entry.run.slice(4)));
    expect(runs.length).toBeGreaterThan(10);
    expect(runs).toEqual([...runs].sort((a, b) => a - b));
    expect(runs.at(-1)).toBe(39);
  });

  it('appends to an existing log and skips torn lines', () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-'));
    const path = join(dir, 'audit.jsonl');
    new AuditLog({ path, maxBytes: 1 << 20, files: 1 }).write(record(1));
    const again = new AuditLog({ path, maxBytes: 1 << 20, files: 1 });
    again.write(record(2));
    again.close();
    expect(readFileSync(path, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
    expect(readAuditLog(path).map((entry) => entry.run)).toEqual(['run-1', 'run-2']);
  });

  it('digests arguments without keeping them', () => {
    const { sha256, bytes } = digest({ path: '/secret' });
    expect(sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(bytes).toBe(JSON.stringify({ path: '/secret' }).length);
  });
});

describe('filterAudit', () => {
  const records = [
    record(1),
    record(2, { server: 'memory', tool: 'delete_entities', outcome: 'refused', action: 'deny' }),
    record(3, { tool: 'write_file', action: 'ask', approval: 'declined', outcome: 'refused' }),
    record(4, { run: 'run-3', principal: 'bob' }),
    // Another bridge (or the same one restarted) counts runs from run-1 again.
    record(5, { run: 'run-3', pid: 2 }),
  ];
  it.each([
    [{ run: 'run-3' }, ['run-3', 'run-3', 'run-3']],
    [{ run: 'run-3', pid: 1 }, ['run-3', 'run-3']],
    [{ pid: 2 }, ['run-3']],
    [{ server: 'mem*' }, ['run-2']],
    [{ tool: '*_file' }, ['run-1', 'run-3', 'run-3', 'run-3']],
    [{ outcome: 'refused' }, ['run-2', 'run-3']],
    [{ action: 'ask' }, ['run-3']],
    [{ last: 2 }, ['run-3', 'run-3']],
    [{ principal: 'bob' }, ['run-3']],
    [{ since: '2026-12-01T06:00:03Z' }, ['run-3', 'run-3', 'run-3']],
  ])('%j', (filter, runs) => {
    expect(filterAudit(records, filter).map((entry) => entry.run)).toEqual(runs);
  });

  it('reads durations and refuses nonsense', () => {
    expect(sinceTime('2h', 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(() => sinceTime('yesterday')).toThrow(RangeError);
  });
});

describe('summary lines', () => {
  const summary: AuditSummary = {
    time: '2026-12-01T06:00:09.000Z',
    pid: 1,
    run: 'run-9',
    kind: 'summary',
    cap: 'MCP_BRIDGE_AUDIT_RUN_LINES=2',
    calls: 40,
    outcomes: { refused: 39, ok: 1 },
    tools: { memory: { delete_entities: 39, read_graph: 1 } },
  };

  it('are read back with the records, and pass the filters any of their calls would', () => {
    dir = mkdtempSync(join(tmpdir(), 'audit-'));
    const path = join(dir, 'audit.jsonl');
    const log = new AuditLog({ path, maxBytes: 1 << 20, files: 1 });
    log.write(record(1, { run: 'run-9' }));
    log.write(summary);
    log.close();
    const entries = readAuditLog(path);
    expect(entries).toHaveLength(2);
    const runs = (filter: Parameters<typeof filterAudit>[1]) =>
      filterAudit(entries, filter).map((entry) => (isSummary(entry) ? 'summary' : entry.tool));
    expect(runs({ run: 'run-9' })).toEqual(['read_file', 'summary']);
    expect(runs({ server: 'mem*' })).toEqual(['summary']);
    expect(runs({ tool: 'delete_*' })).toEqual(['summary']);
    expect(runs({ outcome: 'refused' })).toEqual(['summary']);
    expect(runs({ outcome: 'aborted' })).toEqual([]);
    expect(runs({ outcome: 'constructor' })).toEqual([]);
    expect(runs({ action: 'deny' })).toEqual([]);
  });
});
