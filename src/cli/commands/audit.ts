/**
 * `codemode-bridge audit`: prints the audit log (and its rotated files), oldest first, filtered.
 * Names in the log were chosen by programs (tool names, run ids of other bridges, rules quoting their
 * patterns): every text field is escaped for the terminal (audit-format.ts), and `--json` writes
 * those characters as `\uXXXX` escapes, still valid JSON with the same values.
 */
import { parseArgs } from 'node:util';
import { filterAudit } from '../../engine/policy/audit-filter.js';
import { formatAuditEntry, formatAuditJson } from '../../engine/policy/audit-format.js';
import { type AuditEntry, auditFiles, readAuditLog } from '../../engine/policy/audit-log.js';
import { UsageError } from '../context.js';
import type { Settings } from '../settings.js';

export const AUDIT_USAGE =
  'audit [--file PATH] [--run ID] [--pid PID] [--principal ID] [--server NAME] [--tool NAME] [--outcome ok|error|refused|aborted] ' +
  '[--action allow|ask|deny] [--refused] [--since TIME|DURATION] [--last N] [--json]';

export async function audit(args: string[], settings: Pick<Settings, 'auditLog'>): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      file: { type: 'string' },
      run: { type: 'string' },
      pid: { type: 'string' },
      principal: { type: 'string' },
      server: { type: 'string' },
      tool: { type: 'string' },
      outcome: { type: 'string' },
      action: { type: 'string' },
      refused: { type: 'boolean' },
      since: { type: 'string' },
      last: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length > 0)
    throw new UsageError(`unexpected '${positionals[0]}'. Usage: codemode-bridge ${AUDIT_USAGE}`);
  const file = values.file ?? settings.auditLog;
  if (!file) {
    throw new UsageError('no audit log: set MCP_BRIDGE_AUDIT_LOG (as the bridge has it) or pass --file PATH');
  }
  const last = positiveInteger('--last', values.last);
  const pid = positiveInteger('--pid', values.pid);
  if (auditFiles(file).length === 0) {
    process.stderr.write(`codemode-bridge: no audit log at ${file} (nothing has been recorded there yet)\n`);
    return 1;
  }
  let records: AuditEntry[];
  try {
    records = filterAudit(readAuditLog(file), {
      ...(values.run ? { run: values.run } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(values.principal ? { principal: values.principal } : {}),
      ...(values.server ? { server: values.server } : {}),
      ...(values.tool ? { tool: values.tool } : {}),
      ...(values.outcome ? { outcome: values.outcome } : {}),
      ...(values.refused ? { outcome: 'refused' } : {}),
      ...(values.action ? { action: values.action } : {}),
      ...(values.since ? { since: values.since } : {}),
      ...(last !== undefined ? { last } : {}),
    });
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
  for (const record of records) {
    process.stdout.write(`${values.json ? formatAuditJson(record) : formatAuditEntry(record)}\n`);
  }
  if (!values.json && records.length === 0)
    process.stderr.write(`codemode-bridge: no matching records in ${file}\n`);
  const pids = [...new Set(records.map((record) => record.pid))];
  if (values.run && pid === undefined && pids.length > 1) {
    process.stderr.write(
      `codemode-bridge: ${values.run} names runs of ${pids.length} bridge processes (pids ${pids.join(', ')}): ` +
        'run ids start again with each bridge; add --pid PID for one of them\n',
    );
  }
  return 0;
}

function positiveInteger(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,8}$/.test(value))
    throw new UsageError(`${flag} must be a positive integer, not '${value}'`);
  return Number(value);
}
