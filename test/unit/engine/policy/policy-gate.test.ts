/** The gate's per-call logic against a plain function standing in for the upstream pool. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog, type AuditRecord, readAuditLog } from '../../../../src/engine/policy/audit-log.js';
import { compilePolicy } from '../../../../src/engine/policy/policy-file.js';
import { PolicyGate, REFUSED_CALL_DELAY_MS } from '../../../../src/engine/policy/policy-gate.js';
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
    const g = gate({ budget: { tool_calls: 4, calls_per_tool: 2 } });
    const run = { runId: 'r1' };
    await call(g, run, 'a');
    await call(g, run, 'a');
    expect((await refusal(call(g, run, 'a'))).message).toMatch(/\[rule: budget\.calls_per_tool\]$/);
    // The refused call counted too: this is the fourth.
    await call(g, run, 'b');
    expect((await refusal(call(g, run, 'c'))).message).toMatch(
      /made its 4 tool calls.*\[rule: budget\.tool_calls\]$/,
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

  it('counts its decisions by action and outcome, once per call', async () => {
    const g = gate({
      servers: { srv: { deny: ['drop'], rate_limit: { calls: 3, per_seconds: 60 } } },
      ask: ['srv.write'],
    });
    let answer: ApprovalAnswer = 'accept';
    const run: CallContext = { runId: 'r1', approve: async () => answer };
    await call(g, run, 'select');
    await refusal(call(g, run, 'drop'));
    await call(g, run, 'write');
    answer = 'decline';
    await refusal(call(g, run, 'write'));
    await call(g, run, 'select');
    await refusal(call(g, run, 'select')); // the fourth call to srv the rate limit counts
    const counts = Object.fromEntries(
      g.decisionCounts().map(({ action, outcome, count }) => [`${action} ${outcome}`, count]),
    );
    expect(counts).toEqual({
      'allow allowed': 2,
      'deny denied': 1,
      'ask approved': 1,
      'ask declined': 1,
      'allow rate_limited': 1,
    });
  });

  it('rate-limits a server across runs', async () => {
    const g = gate({ servers: { srv: { rate_limit: { calls: 2, per_seconds: 60 } } } });
    await call(g, { runId: 'r1' }, 'a');
    await call(g, { runId: 'r2' }, 'a');
    const error = await refusal(call(g, { runId: 'r3' }, 'a'));
    expect(error.code).toBe('POLICY_RATE_LIMIT');
    expect(error.message).toMatch(/allows 2 calls per 60 s.*\[rule: servers\.srv\.rate_limit\]$/);
  });

  it("gives each principal a rate limit of its own: one spending it leaves another's whole", async () => {
    const g = gate({ servers: { srv: { rate_limit: { calls: 2, per_seconds: 60 } } } });
    const alice = { id: 'alice', name: 'alice', role: 'user' } as const;
    const bob = { id: 'bob', name: 'bob', role: 'user' } as const;
    await call(g, { runId: 'a1', principal: alice }, 'a');
    await call(g, { runId: 'a2', principal: alice }, 'a');
    expect((await refusal(call(g, { runId: 'a3', principal: alice }, 'a'))).code).toBe('POLICY_RATE_LIMIT');
    await call(g, { runId: 'b1', principal: bob }, 'a');
    await call(g, { runId: 'b2', principal: bob }, 'a');
    expect((await refusal(call(g, { runId: 'b3', principal: bob }, 'a'))).code).toBe('POLICY_RATE_LIMIT');
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
    expect(prompts[0]).toContain('password: "[redacted]"');
    expect(prompts[0]).toContain('has [redacted]');
    expect(prompts[0]).not.toContain('hunter2');

    answer = 'decline';
    const declined = await refusal(call(g, { ...run, runId: 'r2' }, 'write'));
    expect(declined.code).toBe('POLICY_DECLINED');
    expect(declined.message).toMatch(/the user declined it/);
    answer = 'cancel';
    expect((await refusal(call(g, { ...run, runId: 'r3' }, 'write'))).message).toMatch(/dismissed/);
  });

  it('refuses without asking a call whose arguments a prompt cannot show', async () => {
    const g = gate({ ask: ['srv.*'] });
    let asked = 0;
    const run: CallContext = {
      runId: 'r1',
      approve: async () => {
        asked++;
        return 'accept';
      },
    };
    const args: Record<string, unknown> = {};
    for (let i = 0; i < 5000; i++) args[`argument_number_${i}`] = i;
    const error = await refusal(call(g, run, 'write', args));
    expect(error.code).toBe('POLICY_DECLINED');
    expect(error.message).toMatch(
      /cannot be shown in an approval prompt.*nobody was asked and the call was not made/,
    );
    expect(asked).toBe(0);
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
    const read = (await g.call({ server: 'srv', tool: 'read', args: {} }, signal, run, upstream)) as {
      text: string;
    };
    expect(read.text).toMatch(/^mail \[EMAIL_1:[a-z2-7]{6}\]$/);
    const placeholder = read.text.slice(5);
    await g.call({ server: 'srv', tool: 'send', args: { to: placeholder } }, signal, run, upstream);
    await g.call({ server: 'other', tool: 'send', args: { to: placeholder } }, signal, run, upstream);
    expect(sent.slice(1)).toEqual([{ to: 'ada@example.com' }, { to: placeholder }]);
  });

  it('refuses a placeholder from an earlier run instead of restoring it to that run’s value', async () => {
    const g = gate({ tokenize: { detect: ['email'], restore_to: ['srv'] } });
    const sent: unknown[] = [];
    const people = ['ada@example.com', 'bob@example.org'];
    const upstream = async (request: ToolCallRequest) => {
      sent.push(request.args);
      return request.tool === 'read' ? people.shift() : 'ok';
    };
    const kept = await g.call({ server: 'srv', tool: 'read', args: {} }, signal, { runId: 'r1' }, upstream);
    // The next run has a value of its own under the same number.
    const next = { runId: 'r2' };
    const own = await g.call({ server: 'srv', tool: 'read', args: {} }, signal, next, upstream);
    expect(String(own).replace(/:.*/, '')).toBe(String(kept).replace(/:.*/, ''));
    const error = await refusal(
      g.call({ server: 'srv', tool: 'send', args: { to: kept } }, signal, next, upstream),
    );
    expect(error.code).toBe('POLICY_PLACEHOLDER');
    expect(error.message).toMatch(
      /srv\.send was not called: \[EMAIL_1:[a-z2-7]{6}\] is a placeholder from another run or session.*\[rule: tokenize\.restore_to\]$/,
    );
    expect(sent).toHaveLength(2);
    await g.call({ server: 'srv', tool: 'send', args: { to: own } }, signal, next, upstream);
    expect(sent.at(-1)).toEqual({ to: 'bob@example.org' });
  });

  it('one vault for all runs of a session’s life: placeholders keep their meaning, and lose it when it ends', async () => {
    const g = gate({ tokenize: { detect: ['email'], restore_to: ['srv'] } });
    const sent: unknown[] = [];
    const upstream = async (request: ToolCallRequest) => {
      sent.push(request.args);
      return request.tool === 'read' ? 'ada@example.com' : 'ok';
    };
    const life = {};
    const first = await g.call(
      { server: 'srv', tool: 'read', args: {} },
      signal,
      { runId: 'r1', sessionName: 's', sessionScope: life },
      upstream,
    );
    const second = { runId: 'r2', sessionName: 's', sessionScope: life };
    await g.call({ server: 'srv', tool: 'send', args: { to: first } }, signal, second, upstream);
    expect(sent.at(-1)).toEqual({ to: 'ada@example.com' });
    // The session ended and started again: a new life, a new vault.
    const after = { runId: 'r3', sessionName: 's', sessionScope: {} };
    const error = await refusal(
      g.call({ server: 'srv', tool: 'send', args: { to: first } }, signal, after, upstream),
    );
    expect(error.code).toBe('POLICY_PLACEHOLDER');
  });

  it('restores to the tools restore_to names, and tokenizes what they return whatever `from` says', async () => {
    const g = gate({ tokenize: { detect: ['email'], from: ['crm'], restore_to: ['mail.send'] } });
    const run = { runId: 'r1' };
    const sent: Array<[string, unknown]> = [];
    const upstream = async (request: ToolCallRequest) => {
      sent.push([request.tool, request.args]);
      if (request.tool === 'lookup') return 'ada@example.com';
      // A searchable tool that echoes what it was given: an oracle unless its result is tokenized.
      return { matched: JSON.stringify(request.args) };
    };
    const placeholder = String(
      await g.call({ server: 'crm', tool: 'lookup', args: {} }, signal, run, upstream),
    );
    const sentTo = await g.call(
      { server: 'mail', tool: 'send', args: { to: placeholder } },
      signal,
      run,
      upstream,
    );
    expect(JSON.stringify(sentTo)).not.toContain('ada@example.com');
    expect(JSON.stringify(sentTo)).toContain(placeholder);
    await g.call({ server: 'mail', tool: 'search', args: { q: placeholder } }, signal, run, upstream);
    expect(sent).toEqual([
      ['lookup', {}],
      ['send', { to: 'ada@example.com' }],
      ['search', { q: placeholder }],
    ]);
  });

  it('refused calls cost: they count against tool_calls, and past refused_calls every call is refused', async () => {
    const g = gate({ deny: ['srv.drop'], budget: { tool_calls: 5, refused_calls: 3 } });
    const run = { runId: 'r1' };
    for (let i = 0; i < 3; i++) expect((await refusal(call(g, run, 'drop'))).code).toBe('POLICY_DENIED');
    // Three refusals spent three of the five calls; past refused_calls even an allowed call is refused.
    const started = performance.now();
    const stopped = await refusal(call(g, run, 'select'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(REFUSED_CALL_DELAY_MS - 5);
    expect(stopped.message).toMatch(/made 3 refused tool calls.*\[rule: budget\.refused_calls\]$/);

    const budget = gate({ deny: ['srv.drop'], budget: { tool_calls: 3 } });
    const other = { runId: 'r2' };
    await refusal(call(budget, other, 'drop'));
    await refusal(call(budget, other, 'drop'));
    await call(budget, other, 'select');
    expect((await refusal(call(budget, other, 'select'))).message).toMatch(/\[rule: budget\.tool_calls\]$/);
  });

  it('answers a run the same on the short path (nothing after the call) as on the full one (an audit log)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gate-paths-'));
    const doc = {
      deny: ['srv.drop'],
      ask: ['srv.write'],
      budget: { tool_calls: 12, calls_per_tool: 4, refused_calls: 6 },
      servers: { srv: { rate_limit: { calls: 7, per_seconds: 60 } } },
    };
    const script = [
      'a',
      'drop',
      'write',
      'a',
      'write',
      'a',
      'a',
      'a',
      'b',
      'drop',
      'b',
      'c',
      'c',
      'd',
      'e',
      'f',
    ];
    const outcomes = async (g: PolicyGate) => {
      let answers = 0;
      const run: CallContext = {
        runId: 'r1',
        approve: async () => (++answers % 2 === 1 ? 'decline' : 'accept'),
      };
      const seen: string[] = [];
      for (const tool of script) {
        seen.push(
          await call(g, run, tool).then(
            () => `${tool}: ok`,
            (error: BridgeError) => `${tool}: ${error.code} ${/\[rule: (.*)\]$/.exec(error.message)?.[1]}`,
          ),
        );
      }
      return seen;
    };
    const audit = new AuditLog({ path: join(dir, 'audit.jsonl'), maxBytes: 1 << 20, files: 1 });
    const short = await outcomes(gate(doc));
    expect(await outcomes(gate(doc, audit))).toEqual(short);
    audit.close();
    expect(short).toEqual([
      'a: ok',
      'drop: POLICY_DENIED deny["srv.drop"]',
      'write: POLICY_DECLINED ask["srv.write"]',
      'a: ok',
      'write: ok',
      'a: ok',
      'a: ok',
      'a: POLICY_BUDGET budget.calls_per_tool',
      'b: ok',
      'drop: POLICY_DENIED deny["srv.drop"]',
      'b: ok',
      'c: POLICY_RATE_LIMIT servers.srv.rate_limit',
      'c: POLICY_BUDGET budget.tool_calls',
      'd: POLICY_BUDGET budget.refused_calls',
      'e: POLICY_BUDGET budget.refused_calls',
      'f: POLICY_BUDGET budget.refused_calls',
    ]);
  });

  it('refuses calls the port could not match to a listed tool, auditing and counting them', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gate-audit-'));
    const audit = new AuditLog({ path: join(dir, 'audit.jsonl'), maxBytes: 1 << 20, files: 1 });
    const g = gate({ budget: { refused_calls: 2 } }, audit);
    const run = { runId: 'r1' };
    let built = 0;
    const unknown = () => {
      built++;
      return new BridgeError('UNKNOWN_TOOL', 'MCP server \'srv\' has no tool "DELETE"');
    };
    const refuse = () => g.refuse({ server: 'srv', tool: 'DELETE', args: {} }, signal, run, unknown);
    expect((await refusal(refuse())).code).toBe('UNKNOWN_TOOL');
    expect((await refusal(refuse())).code).toBe('UNKNOWN_TOOL');
    expect((await refusal(refuse())).code).toBe('POLICY_BUDGET');
    expect(built).toBe(2);
    audit.close();
    expect(readAuditLog(join(dir, 'audit.jsonl'))).toMatchObject([
      { tool: 'DELETE', outcome: 'refused', code: 'UNKNOWN_TOOL' },
      { tool: 'DELETE', outcome: 'refused', code: 'UNKNOWN_TOOL' },
      { tool: 'DELETE', outcome: 'refused', code: 'POLICY_BUDGET', rule: 'budget.refused_calls' },
    ]);
  });

  it('writes at most its cap of lines per run, then one summary line when the run has ended', async () => {
    dir = mkdtempSync(join(tmpdir(), 'gate-audit-'));
    const path = join(dir, 'audit.jsonl');
    const audit = new AuditLog({ path, maxBytes: 1 << 20, files: 1 });
    const g = new PolicyGate({
      policy: compilePolicy({ deny: ['srv.drop'], budget: { refused_calls: 1000 } }, 'policy.json'),
      audit,
      auditRunLines: 3,
      redactorFor: () => (text) => text,
      logger,
    });
    const run: CallContext = { runId: 'flood' };
    await refusal(call(g, run, 'drop'));
    for (let i = 0; i < 20; i++) await refusal(call(g, run, 'drop'));
    for (let i = 0; i < 5; i++) await call(g, run, 'select');
    // A call still in flight when the run ends is counted before the summary is written.
    let finish = () => {};
    const late = g.call({ server: 'srv', tool: 'slow', args: {} }, signal, run, async () => {
      await new Promise<void>((resolve) => (finish = resolve));
      return 'late';
    });
    await call(g, { runId: 'other' }, 'select');
    g.runEnded(run);
    expect(readAuditLog(path).filter((entry) => entry.run === 'flood')).toHaveLength(3);
    finish();
    await late;
    g.runEnded(run);
    audit.close();
    const entries = readAuditLog(path);
    const flood = entries.filter((entry) => entry.run === 'flood');
    expect(flood).toHaveLength(4);
    // The run's own first denied call is still there.
    expect(flood[0]).toMatchObject({ tool: 'drop', outcome: 'refused', code: 'POLICY_DENIED' });
    expect(flood.at(-1)).toEqual({
      time: expect.any(String),
      pid: process.pid,
      run: 'flood',
      kind: 'summary',
      cap: 'MCP_BRIDGE_AUDIT_RUN_LINES=3',
      calls: 24,
      outcomes: { refused: 18, ok: 6 },
      tools: { srv: { drop: 18, select: 5, slow: 1 } },
    });
    expect(entries.filter((entry) => entry.run === 'other')).toHaveLength(1);
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
    const records = readAuditLog(join(dir, 'audit.jsonl')) as AuditRecord[];
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
    const [record] = readAuditLog(join(dir, 'audit.jsonl')) as AuditRecord[];
    expect(record?.values).toEqual({ path: '/data', token: '[redacted]' });
  });
});
