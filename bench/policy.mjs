// Issue 14: what the policy costs a tool call. In process: PolicyGate.call around a no-op upstream
// against the no-op alone (the check itself, in µs). End to end: sequential calls from inside
// run_python to server-everything's echo, on a bridge with a policy (rules, budgets, a rate limit)
// and on one without, interleaved in short rounds so both see the same machine load; the overhead
// is the median over rounds of each round's ratio to the baseline (target ≤ 5%), which a load that
// drifts between rounds cannot bias. A third bridge adds the audit log.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from '../dist/engine/policy/audit-log.js';
import { compilePolicy } from '../dist/engine/policy/policy-file.js';
import { PolicyGate } from '../dist/engine/policy/policy-gate.js';
import { createLogger } from '../dist/shared/logger.js';
import { EVERYTHING, engine, percentile, runPython, sleep, startBridge } from './lib.mjs';

const CALLS = Number(process.env.BENCH_POLICY_CALLS ?? 100);
const ROUNDS = Number(process.env.BENCH_POLICY_ROUNDS ?? 25);

const POLICY = {
  default: 'allow',
  deny: ['*.delete_*', '*.drop_*'],
  budget: { tool_calls: 1_000_000, calls_per_tool: 1_000_000 },
  servers: {
    everything: {
      allow: ['echo', 'get_*'],
      deny: ['trigger-*'],
      rate_limit: { calls: 1_000_000, per_seconds: 1 },
    },
  },
};

async function inProcess(policy, audit) {
  const gate = new PolicyGate({
    policy: compilePolicy(policy, 'bench'),
    ...(audit ? { audit } : {}),
    redactorFor: () => (text) => text,
    logger: createLogger('error'),
  });
  // As in a run: the server was described when it was granted, so decisions are looked up per call.
  gate.describe({
    name: 'everything',
    alias: 'everything',
    tools: [{ name: 'echo', alias: 'echo', inputSchema: {} }],
  });
  const signal = new AbortController().signal;
  const next = async () => ({ ok: true });
  const request = { server: 'everything', tool: 'echo', args: { message: 'hi' } };
  const N = 200_000;
  const time = async (work) => {
    const started = performance.now();
    for (let i = 0; i < N; i++) await work();
    return ((performance.now() - started) * 1000) / N;
  };
  // Runs are fresh contexts every 100 calls, as programs would be.
  let context = { runId: 'bench-0' };
  let n = 0;
  const gated = () => {
    if (++n % 100 === 0) context = { runId: `bench-${n}` };
    return gate.call(request, signal, context, next);
  };
  // Warm both paths up (JIT) before measuring.
  await time(next);
  await time(gated);
  const bare = await time(next);
  const checked = await time(gated);
  return { bare, checked };
}

export async function benchPolicy() {
  console.log('\n## Policy overhead on a tool call (issue 14; target ≤ 5%)');
  const withBytes = { ...POLICY, budget: { ...POLICY.budget, result_bytes: '1g' } };
  const auditDir = mkdtempSync(join(tmpdir(), 'codemode-bench-audit-'));
  const audit = new AuditLog({ path: join(auditDir, 'audit.jsonl'), maxBytes: 10 * 1024 * 1024, files: 1 });
  for (const [name, policy, log] of [
    ['rules, call budgets, rate limit', POLICY],
    ['the same + a result_bytes budget (measures every result)', withBytes],
    ['the same + the audit log (one synchronous write per call)', POLICY, audit],
  ]) {
    const { bare, checked } = await inProcess(policy, log);
    console.log(
      `in process, ${name}: PolicyGate.call ${checked.toFixed(2)} µs vs the bare upstream call ` +
        `${bare.toFixed(2)} µs: the check costs ${(checked - bare).toFixed(2)} µs per call`,
    );
  }
  audit.close();
  rmSync(auditDir, { recursive: true, force: true });

  const runtime = process.env.MCP_BRIDGE_RUNTIME ?? engine() ?? 'embedded';
  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-policy-'));
  const home = join(root, 'home');
  mkdirSync(home);
  writeFileSync(
    join(home, '.claude.json'),
    JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING] } } }),
  );
  const policyPath = join(root, 'policy.json');
  writeFileSync(policyPath, JSON.stringify(POLICY));
  const common = { HOME: home, MCP_BRIDGE_RUNTIME: runtime, MCP_BRIDGE_STATE_DIR: join(root, 'state') };
  const variants = [
    ['no policy', common],
    ['policy', { ...common, MCP_BRIDGE_POLICY: policyPath }],
    [
      'policy + audit log',
      { ...common, MCP_BRIDGE_POLICY: policyPath, MCP_BRIDGE_AUDIT_LOG: join(root, 'audit.jsonl') },
    ],
  ];
  const bridges = [];
  for (const [name, env] of variants) bridges.push({ name, bridge: await startBridge(env), perCall: [] });
  const code = [
    'import time',
    'for i in range(30):',
    '    await mcp_everything.echo(message="warm")',
    'started = time.perf_counter()',
    `for i in range(${CALLS}):`,
    '    await mcp_everything.echo(message=str(i))',
    `print((time.perf_counter() - started) * 1000 / ${CALLS})`,
  ].join('\n');
  try {
    for (const entry of bridges) {
      await runPython(entry.bridge.client, 'print(1)', { timeout: 120 });
      await runPython(entry.bridge.client, code, { servers: ['everything'], timeout: 120 });
    }
    await sleep(500);
    for (let round = 0; round < ROUNDS; round++) {
      // The order rotates each round, so no variant always runs first (or right after another).
      for (let k = 0; k < bridges.length; k++) {
        const entry = bridges[(round + k) % bridges.length];
        const { result } = await runPython(entry.bridge.client, code, {
          servers: ['everything'],
          timeout: 120,
        });
        entry.perCall.push(Number(result.structuredContent.stdout.trim()));
      }
    }
  } finally {
    for (const entry of bridges) await entry.bridge.close();
    rmSync(root, { recursive: true, force: true });
  }
  const base = bridges[0].perCall;
  const best = (values) => Math.min(...values);
  console.log(
    `end to end (${runtime}, ${ROUNDS} interleaved rounds of ${CALLS} sequential echo calls from run_python). ` +
      'Per call: the best round (least disturbed by other load) and the median round; the overhead is the ' +
      'ratio of best rounds and the median of per-round ratios:',
  );
  for (const entry of bridges) {
    const ratio = percentile(
      entry.perCall.map((value, round) => value / base[round]),
      50,
    );
    const ofBest = best(entry.perCall) / best(base);
    console.log(
      `  ${entry.name.padEnd(20)} best ${(best(entry.perCall) * 1000).toFixed(0)} µs, median ` +
        `${(percentile(entry.perCall, 50) * 1000).toFixed(0)} µs per call   ${ofBest.toFixed(3)}× best ` +
        `(${((ofBest - 1) * 100).toFixed(1)}%), ${ratio.toFixed(3)}× paired median`,
    );
  }
}
