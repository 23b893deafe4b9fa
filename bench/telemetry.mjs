// Issue 32: what tracing costs a run and a tool call, two ways, each beside a baseline in this run:
// 1. in process: the observer a traced bridge puts around runs and tool calls (spans started and
//    ended, the context written for the upstream, batched for an OTLP exporter to a loopback sink),
//    around a no-op upstream port, against the same port without it;
// 2. end to end: two bridges over stdio, one without OTEL variables (no telemetry module loaded) and
//    one exporting every span to that sink, each called with a caller's trace context in `_meta`,
//    measured in alternating blocks so drift in the machine's load falls on both.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVERYTHING, fmt, percentile, ratio, sleep, startBridge } from './lib.mjs';

const RUN_BLOCKS = Number(process.env.BENCH_TELEMETRY_BLOCKS ?? 6);
const RUNS_PER_BLOCK = 25;
const CALLS_PER_RUN = Number(process.env.BENCH_TOOL_CALLS ?? 300);
const CALL_ROUNDS = 3;
const CALLER = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const IN_PROCESS_CALLS = Number(process.env.BENCH_TELEMETRY_CALLS ?? 20_000);
const IN_PROCESS_ROUNDS = 5;

/** µs per run (start, slot, end) and per tool call through the run observer's port, with and without tracing. */
async function inProcess(endpoint) {
  const { RunObservations } = await import('../dist/engine/run-observer.js');
  const { bridgeResource, startTracesExport } = await import('../dist/cli/telemetry/providers.js');
  const { runTracing } = await import('../dist/cli/telemetry/run-tracing.js');
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  const exported = await startTracesExport(await bridgeResource(process.env, 'bench'), 'bench');
  const traced = new RunObservations(runTracing(exported.tracer, { backend: () => 'bench' }));
  const noop = {
    catalog: () => [],
    describe: async () => [],
    search: async () => ({ hits: [], described: [], unavailable: [] }),
    runEnded: () => {},
    callTool: async () => 'ok',
  };
  const signal = new AbortController().signal;
  const origin = {
    parent: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 },
    requestId: 7,
    transport: 'pipe',
  };
  const outcome = { status: 'ok', stdout: 'x', stderr: '', durationMs: 1 };
  let runs = 0;
  const time = async (work) => {
    const started = performance.now();
    await work();
    return ((performance.now() - started) * 1000) / IN_PROCESS_CALLS;
  };
  const callsOf = async (port, runId) => {
    const context = { runId };
    const request = { server: 's', tool: 'echo', args: {} };
    for (let i = 0; i < IN_PROCESS_CALLS; i++) await port.callTool(request, signal, context);
  };
  const tracedPort = traced.port(noop);
  const result = { bareCall: [], tracedCall: [], tracedRun: [] };
  for (let round = 0; round < IN_PROCESS_ROUNDS; round++) {
    result.bareCall.push(await time(() => callsOf(noop, 'none')));
    const runId = `run-${++runs}`;
    const observation = traced.observer.runStarted({
      runId,
      code: 'x',
      servers: ['s'],
      origin,
      startedAt: Date.now(),
    });
    result.tracedCall.push(await time(() => callsOf(tracedPort, runId)));
    observation.ended(outcome);
    result.tracedRun.push(
      await time(async () => {
        for (let i = 0; i < IN_PROCESS_CALLS; i++) {
          const each = traced.observer.runStarted({
            runId: `r${i}`,
            code: 'x',
            servers: ['s'],
            origin,
            startedAt: Date.now(),
          });
          each.queued(0);
          each.ended(outcome);
        }
      }),
    );
  }
  await exported.shutdown();
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return result;
}

async function run(client, code, servers = []) {
  const started = performance.now();
  const result = await client.callTool({
    name: 'run_python',
    arguments: { code, servers, timeout: 300 },
    _meta: { traceparent: CALLER },
  });
  const ms = performance.now() - started;
  if (result.isError) throw new Error(`run failed: ${JSON.stringify(result.content)}`);
  return { ms, stdout: result.structuredContent.stdout };
}

export async function benchTelemetry() {
  // An OTLP receiver that takes every export and keeps nothing: the exporter's cost, not a collector's.
  let exports = 0;
  const sink = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      exports += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const root = mkdtempSync(join(tmpdir(), 'codemode-bench-otel-'));
  mkdirSync(join(root, 'home'));
  writeFileSync(
    join(root, 'home', '.claude.json'),
    JSON.stringify({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING] } } }),
  );
  const endpoint = `http://127.0.0.1:${sink.address().port}`;
  const measured = await inProcess(endpoint);
  const median = (values) => percentile(values, 50);
  console.log(
    `\n## Tracing overhead in process (${IN_PROCESS_ROUNDS} rounds of ${IN_PROCESS_CALLS}, medians)`,
  );
  console.log(`tool call through a no-op port          ${median(measured.bareCall).toFixed(2)} µs`);
  console.log(
    `the same call traced (span, context)   ${median(measured.tracedCall).toFixed(2)} µs   +${(median(measured.tracedCall) - median(measured.bareCall)).toFixed(2)} µs`,
  );
  console.log(`a run's span (start, slot wait, end)    ${median(measured.tracedRun).toFixed(2)} µs`);
  const env = { HOME: join(root, 'home'), MCP_BRIDGE_RUNTIME: process.env.MCP_BRIDGE_RUNTIME ?? 'embedded' };
  const plain = await startBridge(env);
  const traced = await startBridge({
    ...env,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  });
  try {
    await sleep(1500);
    const bridges = { plain, traced };
    for (const bridge of Object.values(bridges)) {
      for (let i = 0; i < 10; i++) await run(bridge.client, 'print(1)');
      await run(bridge.client, 'await mcp_everything.echo(message="warm")', ['everything']);
    }

    const runMs = { plain: [], traced: [] };
    for (let block = 0; block < RUN_BLOCKS; block++) {
      for (const name of block % 2 === 0 ? ['plain', 'traced'] : ['traced', 'plain']) {
        for (let i = 0; i < RUNS_PER_BLOCK; i++)
          runMs[name].push((await run(bridges[name].client, 'print(1)')).ms);
      }
    }

    const code = [
      'import time',
      'started = time.perf_counter()',
      `for i in range(${CALLS_PER_RUN}):`,
      '    await mcp_everything.echo(message=str(i))',
      'print((time.perf_counter() - started) * 1000)',
    ].join('\n');
    const callMs = { plain: [], traced: [] };
    for (let round = 0; round < CALL_ROUNDS; round++) {
      for (const name of round % 2 === 0 ? ['plain', 'traced'] : ['traced', 'plain']) {
        const { stdout } = await run(bridges[name].client, code, ['everything']);
        callMs[name].push(Number(stdout.trim()) / CALLS_PER_RUN);
      }
    }

    const p50 = (values) => percentile(values, 50);
    console.log(
      `\n## Tracing overhead (stdio, ${env.MCP_BRIDGE_RUNTIME} sandbox, OTLP/HTTP to a loopback sink)`,
    );
    console.log(
      `run_python print(1), p50 of ${runMs.plain.length}:  untraced ${fmt(p50(runMs.plain))}   traced ${fmt(p50(runMs.traced))}   ratio ${ratio(p50(runMs.traced), p50(runMs.plain))}`,
    );
    console.log(
      `                          p95:  untraced ${fmt(percentile(runMs.plain, 95))}   traced ${fmt(percentile(runMs.traced, 95))}`,
    );
    console.log(
      `tool call from a run (echo, median of ${CALL_ROUNDS} runs of ${CALLS_PER_RUN}):  untraced ${fmt(p50(callMs.plain))}   traced ${fmt(p50(callMs.traced))}   ratio ${ratio(p50(callMs.traced), p50(callMs.plain))}`,
    );
    console.log(`OTLP exports received: ${exports}`);
  } finally {
    await plain.close();
    await traced.close();
    sink.close();
    rmSync(root, { recursive: true, force: true });
  }
}
