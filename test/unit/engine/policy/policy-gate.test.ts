/** The gate's per-call logic against a plain function standing in for the upstream pool. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, readAuditLog } from '../../../../src/engine/policy/audit-log.js';
import { compilePolicy } from '../../../../src/engine/policy/policy-file.js';
import { PolicyGate } from '../../../../src/engine/policy/policy-gate.js';
import type { ApprovalAnswer, CallContext } from '../../../../src/engine/types.js';
import type { ToolCallRequest } from '../../../../src/sandbox/types.js';
import { BridgeError } from '../../../../src/shared/errors.js';
import { createLogger } from '../../../../src/shared/logger.js';

const logger = createLogger('error');
const signal = new AbortController().signal;
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function gate(doc: unknown, audit?: AuditLog, auditValues = false) {
  return new PolicyGate({
    policy: compilePolicy(doc, 'policy.json'),
    ...(audit ? { audit } : {}),
    auditValues,
    redactorFor: () => (text) => text.replaceAll('hunter2-secret', '[redacted]'),
    logger,
  });
}

const echo = async (request: ToolCallRequest) => ({ echoed: request.args });
const call = (g: PolicyGate, context: CallContext, tool: string, args: Record<string, unknown> = {}) =>
  g.call({ server: 'srv', tool, args }, signal, context, echo);

async function refusal(work: Promise<unknown>): Promise<BridgeError> {
  const error = await work.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(BridgeError);
  return error as BridgeError;
}

describe('PolicyGate', () => {
  it('refuses denied tools with the rule at the end of the message', async () => {
    const g = gate({ servers: { srv: { deny: ['drop_*'] } } });
    const error = await refusal(call(g, { runId: 'r1' }, 'drop_table'));
    expect(error.code).toBe('POLICY_DENIED');
    expect(error.message).toMatch(
      /srv\.drop_table is refused by the policy.*\[rule: servers\.srv\.deny\["drop_\*"\]\]$/,
    );
    await expect(call(g, { runId: 'r1' }, 'select')).resolves.toEqual({ echoed: {} });
  });

  it('spends per-run budgets: calls, calls per tool, bytes; a new run starts afresh', async () => {
    const g = gate({ budget: { tool_calls: 3, calls_per_tool: 2 } });
    const run = { runId: 'r1' };
    await call(g, run, 'a');
    await call(g, run, 'a');
    expect((await refusal(call(g, run, 'a'))).message).toMatch(/\[rule: budget\.calls_per_tool\]$/);
    await call(g, run, 'b');
    expect((await refusal(call(g, run, 'c'))).message).toMatch(
      /made its 3 tool calls.*\[rule: budget\.tool_calls\]$/,
    );
    await expect(call(g, { runId: 'r2' }, 'a')).resolves.toBeDefined();

    const bytes = gate({ budget: { result_bytes: 40 } });
    const other = { runId: 'r3' };
    await call(bytes, other, 'a', { x: 1 });
    const error = await refusal(call(bytes, other, 'a', { x: 'a long enough value to pass the budget' }));
    expect(error.code).toBe('POLICY_BUDGET');
    expect(error.message).toMatch(/result was withheld/);
    expect((await refusal(call(bytes, other, 'a'))).message).toMatch(/\[rule: budget\.result_bytes\]$/);
  });

  it('rate-limits a server across runs', async () => {
    const g = gate({ servers: { srv: { rate_limit: { calls: 2, per_seconds: 60 } } } });
    await call(g, { runId: 'r1' }, 'a');
    await call(g, { runId: 'r2' }, 'a');
    const error = await refusal(call(g, { runId: 'r3' }, 'a'));
    expect(error.code).toBe('POLICY_RATE_LIMIT');
    expect(error.message).toMatch(/allows 2 calls per 60 s.*\[rule: servers\.srv\.rate_limit\]$/);
  });

  it('asks, with secrets redacted; remembers "accept-run" for the rest of the run; asks one prompt at a time', async () => {
    const g = gate({ ask: ['srv.write'] });
    const prompts: string[] = [];
    let answer: ApprovalAnswer = 'accept-run';
    const run: CallContext = {
      runId: 'r1',
      approve: async (request) => {
        prompts.push(request.arguments);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return answer;
      },
    };
    await Promise.all([
      call(g, run, 'write', { password: 'pw', body: 'has hunter2-secret' }),
      call(g, run, 'write', { n: 2 }),
      call(g, run, 'write', { n: 3 }),
    ]);
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toContain('"password": "[redacted]"');
    expect(prompts[0]).toContain('has [redacted]');
    expect(prompts[0]).not.toContain('hunter2');

    answer = 'decline';
    const declined = await refusal(call(g, { ...run, runId: 'r2' }, 'write'));
    expect(declined.code).toBe('POLICY_DECLINED');
    expect(declined.message).toMatch(/the user declined it/);
    answer = 'cancel';
    expect((await refusal(call(g, { ...run, runId: 'r3' }, 'write'))).message).toMatch(/dismissed/);
  });

  it('without elicitation: refuses by default, allows when configured so', async () => {
    const strict = gate({ ask: ['srv.*'] });
    const refused = await refusal(call(strict, { runId: 'r1', approve: async () => 'unsupported' }, 'x'));
    expect(refused.message).toMatch(/cannot be asked \(it does not support elicitation\)/);
    await refusal(call(strict, { runId: 'r2' }, 'x'));
    const lenient = gate({ ask: ['srv.*'], approval: { without_elicitation: 'allow' } });
    await expect(call(lenient, { runId: 'r3' }, 'x')).resolves.toBeDefined();
  });

  it('tokenizes results and restores placeholders only for the allowed servers', async () => {
    const g = gate({ tokenize: { detect: ['email'], restore_to: ['srv'] } });
    const run = { runId: 'r1' };
    const sent: unknown[] = [];
    const upstream = async (request: ToolCallRequest) => {
      sent.push(request.args);
      return request.tool === 'read' ? { text: 'mail ada@example.com' } : 'ok';
    };
    expect(await g.call({ server: 'srv', tool: 'read', args: {} }, signal, run, upstream)).toEqual({
      text: 'mail [EMAIL_1]',
    });
    await g.call({ server: 'srv', tool: 'send', args: { to: '[EMAIL_1]' } }, signal, run, upstream);
    await g.call({ server: 'other', tool: 'send', args: { to: '[EMAIL_1]' } }, signal, run, upstream);
    expect(sent.slice(1)).toEqual([{ to: 'ada@example.com' }, { to: '[EMAIL_1]' }]);
    // Another run has its own vault: the placeholder means nothing there.
    await g.call(
      { server: 'srv', tool: 'send', args: { to: '[EMAIL_1]' } },
      signal,
      { runId: 'r2' },
      upstream,
    );
    expect(sent.at(-1)).toEqual({ to: '[EMAIL_1]' });
  });

  it('audits every call with digests, decisions and outcomes, never values', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gate-audit-'));
    const audit = new AuditLog({ path: join(dir, 'audit.jsonl'), maxBytes: 1 << 20, files: 1 });
    const g = gate({ deny: ['srv.drop'] }, audit);
    await call(g, { runId: 'r1', session: 's1' }, 'read', { path: '/very/secret/path' });
    await refusal(call(g, { runId: 'r1' }, 'drop', { table: 'users' }));
    await refusal(
      g.call({ server: 'srv', tool: 'fail', args: {} }, signal, { runId: 'r1' }, async () => {
        throw new BridgeError('TOOL_ERROR', 'srv.fail failed: /very/secret/path');
      }),
    );
    audit.close();
    const records = readAuditLog(join(dir, 'audit.jsonl'));
    expect(records).toMatchObject([
      {
        run: 'r1',
        session: 's1',
        server: 'srv',
        tool: 'read',
        action: 'allow',
        rule: 'default',
        outcome: 'ok',
      },
      { tool: 'drop', action: 'deny', rule: 'deny["srv.drop"]', outcome: 'refused', code: 'POLICY_DENIED' },
      { tool: 'fail', outcome: 'error', code: 'TOOL_ERROR' },
    ]);
    expect(records[0]?.args.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(records[0]?.bytes).toBeGreaterThan(0);
    expect(JSON.stringify(records)).not.toContain('secret');
    expect(JSON.stringify(records)).not.toContain('users');
  });

  it('records argument values, redacted, only when asked to', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gate-audit-'));
    const audit = new AuditLog({ path: join(dir, 'audit.jsonl'), maxBytes: 1 << 20, files: 1 });
    const g = gate({}, audit, true);
    await call(g, { runId: 'r1' }, 'read', { path: '/data', token: 'hunter2-secret' });
    audit.close();
    expect(readAuditLog(join(dir, 'audit.jsonl'))[0]?.values).toEqual({ path: '/data', token: '[redacted]' });
  });
});
