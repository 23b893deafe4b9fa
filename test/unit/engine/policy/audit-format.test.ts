/** What `codemode-bridge audit` prints, for records whose names a hostile program chose. */
import { describe, expect, it } from 'vitest';
import { formatAuditEntry, formatAuditJson } from '../../../../src/engine/policy/audit-format.js';
import { type AuditRecord, type AuditSummary, digest } from '../../../../src/engine/policy/audit-log.js';
import { hasHiddenCharacters } from '../../../../src/shared/visible-text.js';

const record = (fields: Partial<AuditRecord>): AuditRecord => ({
  time: '2026-12-01T06:00:00.000Z',
  pid: 42,
  run: 'run-1',
  server: 'fs',
  tool: 'read_file',
  outcome: 'ok',
  args: digest({}),
  ms: 3,
  ...fields,
});

const HOSTILE = [
  'x\x1b[2J\x1b[H',
  'x\r2026-12-01T06:00:01.000Z [42] run-1 fs.read_file ok',
  'x\n2026-12-01T06:00:01.000Z [42] run-1 fs.read_file ok',
  'x\u2028forged',
  'x\u2029forged',
  'x\u202eelif_daer',
  'x\u2066isolated\u2069',
  'x\u200fmark\u061c',
  'x\x9b2J',
  'x\x7f',
];

describe('formatAuditEntry', () => {
  it.each(HOSTILE)('prints a tool named %j on one line with nothing a terminal acts on', (tool) => {
    const line = formatAuditEntry(
      record({
        tool,
        action: 'deny',
        rule: `deny[${JSON.stringify(tool)}]`,
        outcome: 'refused',
        code: 'POLICY_DENIED',
      }),
    );
    expect(line).not.toMatch(/[\n\r]/);
    expect(hasHiddenCharacters(line)).toBe(false);
    expect(line).toMatch(/^2026-12-01T06:00:00\.000Z \[42\] run-1 fs\.x\\/);
  });

  it('prints an ordinary record as before', () => {
    expect(formatAuditEntry(record({ action: 'allow', rule: 'default', bytes: 120, tokenized: 2 }))).toMatch(
      /^2026-12-01T06:00:00\.000Z \[42\] run-1 fs\.read_file allow \(default\) ok 3ms args=2B sha256:[0-9a-f]{12} 120B out 2 tokenized$/,
    );
  });

  it('prints whose run it was after the run id, escaped', () => {
    expect(formatAuditEntry(record({ principal: 'alice' }))).toMatch(
      /^2026-12-01T06:00:00\.000Z \[42\] run-1 \(alice\) fs\.read_file ok /,
    );
    expect(formatAuditEntry(record({ principal: 'x\x1b[2J' }))).toContain('run-1 (x\\x1b[2J) fs.read_file');
  });

  it('prints a run’s summary line with its counts, escaped', () => {
    const summary: AuditSummary = {
      time: '2026-12-01T06:01:00.000Z',
      pid: 42,
      run: 'run-9',
      kind: 'summary',
      cap: 'MCP_BRIDGE_AUDIT_RUN_LINES=1000',
      calls: 441_000,
      outcomes: { refused: 440_990, ok: 10 },
      tools: { fs: { 'drop\x1b[2J': 440_990, read_file: 10 } },
      others: 5,
    };
    expect(formatAuditEntry(summary)).toBe(
      '2026-12-01T06:01:00.000Z [42] run-9 summary: 441,000 more calls not recorded one by one ' +
        '(cap MCP_BRIDGE_AUDIT_RUN_LINES=1000): refused 440,990, ok 10; fs.drop\\x1b[2J 440,990, ' +
        'fs.read_file 10, other tools 5',
    );
  });
});

describe('formatAuditJson', () => {
  it.each(HOSTILE)('writes a tool named %j as valid JSON of the same value, safe to print', (tool) => {
    const entry = record({ tool });
    const line = formatAuditJson(entry);
    expect(hasHiddenCharacters(line)).toBe(false);
    expect(line).not.toMatch(/[\n\r]/);
    expect(JSON.parse(line)).toEqual(entry);
  });
});
