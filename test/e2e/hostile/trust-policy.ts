/**
 * Hostile cases (issue 27): a program against the policy, the audit log, the tokenizer and tool names.
 * The harness's policy concerns the `trust` server only (test/fixtures/trust-server.mjs): `delete-file`
 * is denied, e-mails in its results are tokenized, and only `trust.send` gets real values back.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { hasHiddenCharacters } from '../../../src/shared/visible-text.js';
import { BRIDGE_MAIN } from '../../helpers/environment.js';
import { type CaseContext, type HostileCase, literal, python, report } from './kit.js';

/** Every line of the audit log, parsed. */
function auditEntries(context: CaseContext): Array<Record<string, unknown>> {
  return readFileSync(context.auditLog, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
}

/** `codemode-bridge audit` on the suite's log. */
function auditCommand(context: CaseContext, args: string[]): string {
  return execFileSync(process.execPath, [BRIDGE_MAIN, 'audit', '--file', context.auditLog, ...args], {
    encoding: 'utf8',
  });
}

/** Names that would forge lines or clear a reviewer's terminal if printed as they are. */
const FORGING_NAMES = [
  'x\x1b[2J\x1b[H',
  'x\r2026-01-01T00:00:00.000Z [1] run-1 trust.report ok',
  'x\n2026-01-01T00:00:00.000Z [1] run-1 trust.report ok',
  'x\u2028forged',
  'x\u202egnp.exe',
  'x\u2066isolated\u2069\u200f',
];

/** How many refused calls a run may make before every call is refused (the gate's default). */
const REFUSED_CALLS = 100;
const AUDIT_RUN_LINES = 1000;

export const TRUST_POLICY: HostileCase[] = [
  {
    name: 'a flood of refused calls cannot wipe the audit log: the run keeps its own denied call, at most cap + 1 lines',
    category: 'policy',
    drive: async (context) => {
      const marker = await context.run({ code: 'print(await mcp_trust.report())', servers: ['trust'] });
      const flood = await context.run({
        servers: ['trust'],
        code: python`
import asyncio, json, mcp, time
async def refused():
    try:
        await mcp_trust.delete_file(path="/etc/passwd")
        return "made"
    except mcp.PolicyError as error:
        return error.code + " " + error.rule
counts = {}
deadline = time.monotonic() + 8
while time.monotonic() < deadline:
    for code in await asyncio.gather(*[refused() for _ in range(32)]):
        counts[code] = counts.get(code, 0) + 1
print(json.dumps(counts))
`,
      });
      return { ...flood, others: [marker], sandboxes: [...flood.sandboxes, ...marker.sandboxes] };
    },
    expect: {
      status: 'ok',
      check: (run, context) => {
        const counts = report(run) as Record<string, number>;
        expect(counts['POLICY_DENIED servers.trust.deny["delete-file"]']).toBe(REFUSED_CALLS);
        // Past its refused calls the run is refused slowly: a few thousand in 8 s, not hundreds of thousands.
        const slowed = counts['POLICY_BUDGET budget.refused_calls'] ?? 0;
        expect(slowed).toBeGreaterThan(0);
        expect(slowed).toBeLessThan(10_000);
        const entries = auditEntries(context).filter((entry) => entry.pid === context.bridgePid);
        const summaries = entries.filter((entry) => entry.kind === 'summary');
        const summary = summaries.at(-1) as Record<string, unknown>;
        expect(summary).toMatchObject({
          cap: `MCP_BRIDGE_AUDIT_RUN_LINES=${AUDIT_RUN_LINES}`,
          calls: REFUSED_CALLS + slowed - AUDIT_RUN_LINES,
          tools: { trust: { 'delete-file': REFUSED_CALLS + slowed - AUDIT_RUN_LINES } },
        });
        const ofRun = entries.filter((entry) => entry.run === summary.run);
        expect(ofRun).toHaveLength(AUDIT_RUN_LINES + 1);
        expect(ofRun[0]).toMatchObject({ tool: 'delete-file', outcome: 'refused', code: 'POLICY_DENIED' });
        expect(ofRun.at(-1)).toBe(summary);
        // The run before it is still on record.
        const marker = run.others?.[0]?.outcome?.stdout ?? '';
        expect(marker).toMatch(/sent/);
        const earlier = entries.filter((entry) => entry.tool === 'report' && entry.outcome === 'ok');
        expect(earlier.length).toBeGreaterThan(0);
      },
    },
  },
  {
    name: 'codemode-bridge audit prints program-chosen names escaped, and --json stays JSON of the same names',
    category: 'policy',
    servers: ['trust'],
    code: python`
import mcp
for name in ${literal(FORGING_NAMES)}:
    try:
        await mcp.runtime.call_tool("trust", name, {})
    except mcp.ToolError as error:
        print(error.code)
`,
    expect: {
      status: 'ok',
      stdout: 'UNKNOWN_TOOL\n'.repeat(FORGING_NAMES.length),
      check: (_run, context) => {
        const text = auditCommand(context, [
          '--server',
          'trust',
          '--tool',
          'x*',
          '--last',
          String(FORGING_NAMES.length),
        ]);
        const lines = text.trimEnd().split('\n');
        expect(lines).toHaveLength(FORGING_NAMES.length);
        for (const line of lines) {
          expect(hasHiddenCharacters(line)).toBe(false);
          expect(line).toMatch(/ trust\.x\\.* refused UNKNOWN_TOOL /);
        }
        const json = auditCommand(context, [
          '--server',
          'trust',
          '--tool',
          'x*',
          '--last',
          String(FORGING_NAMES.length),
          '--json',
        ]);
        const jsonLines = json.trimEnd().split('\n');
        for (const line of jsonLines) expect(hasHiddenCharacters(line)).toBe(false);
        expect(jsonLines.map((line) => JSON.parse(line).tool)).toEqual(FORGING_NAMES);
      },
    },
  },
  {
    name: "a placeholder kept from an earlier run is refused, never restored to the next run's person",
    category: 'policy',
    drive: async (context) => {
      const first = await context.run({
        servers: ['trust'],
        code: 'text = await mcp_trust.contact(n=0)\nprint(text[text.index("<") + 1:text.index(">")])',
      });
      const kept = first.outcome?.stdout.trim() ?? '';
      const next = await context.run({
        servers: ['trust'],
        code: python`
import json, mcp
text = await mcp_trust.contact(n=1)
own = text[text.index("<") + 1:text.index(">")]
outcome = {"own": own, "kept": ${literal(kept)}}
try:
    await mcp_trust.send(to=${literal(kept)}, body="for Ada")
    outcome["kept_sent"] = True
except mcp.PolicyError as error:
    outcome["refused"] = [error.code, error.rule, str(error).split(":")[0]]
outcome["echo"] = await mcp_trust.send(to=own, body="for Bob")
outcome["report"] = await mcp_trust.report()
print(json.dumps(outcome))
`,
      });
      return { ...next, others: [first], sandboxes: [...next.sandboxes, ...first.sandboxes] };
    },
    expect: {
      status: 'ok',
      check: (run) => {
        const outcome = report(run) as {
          own: string;
          kept: string;
          refused: string[];
          echo: { sent: string };
          report: { sent: number };
        };
        // Both runs' first e-mail is EMAIL_1, but each vault has its own tag.
        expect(outcome.kept).toMatch(/^\[EMAIL_1:[a-z2-7]{6}\]$/);
        expect(outcome.own).toMatch(/^\[EMAIL_1:[a-z2-7]{6}\]$/);
        expect(outcome.own).not.toBe(outcome.kept);
        expect(outcome.refused).toEqual([
          'POLICY_PLACEHOLDER',
          'tokenize.restore_to',
          'trust.send was not called',
        ]);
        // The run's own placeholder went out as Bob's address, and came back tokenized again.
        expect(outcome.echo.sent).toBe(outcome.own);
        expect(JSON.stringify(run.result)).not.toMatch(/ada@example|bob@example/);
      },
    },
  },
  {
    name: 'a searchable tool is no oracle: only the tool restore_to names gets real values',
    category: 'policy',
    servers: ['trust'],
    code: python`
import json
text = await mcp_trust.contact(n=0)
placeholder = text[text.index("<") + 1:text.index(">")]
sent = await mcp_trust.send(to=placeholder, body="hello")
found = await mcp_trust.search(query=placeholder)
found_at = await mcp_trust.search(query=placeholder[1:-1])
print(json.dumps({"placeholder": placeholder, "sent": sent, "found": found, "found_at": found_at, "report": await mcp_trust.report()}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const outcome = report(run) as {
          placeholder: string;
          sent: { sent: string };
          found: { matches: number };
          found_at: { matches: number };
          report: { searches: string[] };
        };
        expect(outcome.sent.sent).toBe(outcome.placeholder);
        // search got the placeholder as written: it cannot match (or test guesses against) the address.
        expect(outcome.found.matches).toBe(0);
        expect(outcome.found_at.matches).toBe(0);
        expect(outcome.report.searches.slice(-2)).toEqual([
          outcome.placeholder,
          outcome.placeholder.slice(1, -1),
        ]);
        expect(JSON.stringify(run.result)).not.toContain('ada@example.com');
      },
    },
  },
  {
    name: 'a tool name the server never listed is refused before any rule, naming the listed one',
    category: 'policy',
    servers: ['trust'],
    code: python`
import json, mcp
seen = []
for name in ("DELETE-FILE", "delete\u2010file", "delete-file ", "Delete_File", "delete-file"):
    try:
        await mcp.runtime.call_tool("trust", name, {"path": "/etc/passwd"})
        seen.append("made")
    except mcp.ToolError as error:
        seen.append([error.code, str(error).split(". ")[-1]])
seen.append((await mcp_trust.report())["deleted"])
print(json.dumps(seen))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const hint = 'Did you mean "delete-file"?';
        expect(report(run)).toEqual([
          ['UNKNOWN_TOOL', hint],
          ['UNKNOWN_TOOL', hint],
          ['UNKNOWN_TOOL', hint],
          ['UNKNOWN_TOOL', hint],
          ['POLICY_DENIED', '[rule: servers.trust.deny["delete-file"]]'],
          [],
        ]);
      },
    },
  },
];
