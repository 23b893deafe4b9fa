/**
 * How `codemode-bridge audit` prints entries (pure, unit-tested). Every text field may hold what a
 * program chose (a tool name, a refusal's reason quoting it), so each is escaped for the terminal:
 * an ANSI sequence, a carriage return or U+2028 shows as `\x1b[2J`, `\r`, `\u2028` and can neither
 * forge a line nor clear the reviewer's screen.
 */
import { groupDigits } from '../../shared/digits.js';
import { visibleJson, visibleText } from '../../shared/visible-text.js';
import { type AuditEntry, type AuditRecord, type AuditSummary, isSummary } from './audit-log.js';

/** Names a summary line prints; the rest are counted. */
const SUMMARY_NAMES_SHOWN = 10;

const text = (value: unknown): string => visibleText(String(value ?? ''));

/** One entry as a JSON line whose strings carry no character a terminal acts on (still the same JSON value). */
export function formatAuditJson(entry: AuditEntry): string {
  return visibleJson(JSON.stringify(entry));
}

/** ` (alice)`: whose run, when the line says (lines from before principals do not). */
function whose(principal: unknown): string {
  return principal === undefined ? '' : ` (${text(principal)})`;
}

/** One entry as one line of text. */
export function formatAuditEntry(entry: AuditEntry): string {
  return isSummary(entry) ? formatSummary(entry) : formatRecord(entry);
}

/** Time, [bridge pid] run, server.tool, decision, outcome, duration, sizes. */
function formatRecord(record: AuditRecord): string {
  const decision = record.action
    ? ` ${text(record.action)}${record.rule ? ` (${text(record.rule)})` : ''}`
    : '';
  const approval = record.approval ? ` approval=${text(record.approval)}` : '';
  const code = record.code ? ` ${text(record.code)}` : '';
  const bytes = record.bytes !== undefined ? ` ${text(record.bytes)}B out` : '';
  const tokenized = record.tokenized ? ` ${text(record.tokenized)} tokenized` : '';
  const args = `args=${text(record.args?.bytes ?? '?')}B sha256:${text(record.args?.sha256 ?? '').slice(0, 12)}`;
  return (
    `${text(record.time)} [${text(record.pid)}] ${text(record.run)}${whose(record.principal)} ${text(record.server)}.${text(record.tool)}` +
    `${decision}${approval} ${text(record.outcome)}${code} ${text(record.ms)}ms ${args}${bytes}${tokenized}`
  );
}

/** `… run-7 summary: 4,211 more calls (cap MCP_BRIDGE_AUDIT_RUN_LINES=1000): refused 4,200, ok 11; srv.x 4,200, …`. */
function formatSummary(summary: AuditSummary): string {
  const count = (n: unknown) => (typeof n === 'number' ? groupDigits(n) : text(n));
  const outcomes = Object.entries(summary.outcomes ?? {})
    .map(([outcome, n]) => `${text(outcome)} ${count(n)}`)
    .join(', ');
  const tools: Array<[string, number]> = [];
  for (const [server, byTool] of Object.entries(summary.tools ?? {})) {
    for (const [tool, n] of Object.entries(byTool ?? {}))
      tools.push([`${text(server)}.${text(tool)}`, Number(n)]);
  }
  tools.sort((a, b) => b[1] - a[1]);
  const hidden = tools.slice(SUMMARY_NAMES_SHOWN).reduce((sum, [, n]) => sum + n, 0) + (summary.others ?? 0);
  const names = tools.slice(0, SUMMARY_NAMES_SHOWN).map(([name, n]) => `${name} ${count(n)}`);
  if (hidden > 0) names.push(`other tools ${count(hidden)}`);
  return (
    `${text(summary.time)} [${text(summary.pid)}] ${text(summary.run)}${whose(summary.principal)} summary: ${count(summary.calls)} more ` +
    `calls not recorded one by one (cap ${text(summary.cap)}): ${outcomes}; ${names.join(', ')}`
  );
}
