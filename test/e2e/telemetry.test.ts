/**
 * Telemetry from a real `serve --http` (embedded sandbox, the reference `everything` server, a
 * policy): the real OTLP/HTTP exporter sends JSON to a receiver started here on loopback, which
 * checks the span tree and its attributes; Debian's Prometheus, started here, scrapes /metrics with
 * the bearer token and its query API returns the run, process, upstream and policy metrics.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/environment.js';
import { type HttpBridge, runPython, startHttpBridge, textOf } from '../helpers/http-bridge.js';
import {
  attributesOf as attributes,
  type OtlpReceiver,
  SPAN_KIND,
  startOtlpReceiver,
} from '../helpers/otlp-receiver.js';
import { systemBinarySkipReason } from '../helpers/system-binaries.js';
import { freePort, serverEntry } from '../helpers/upstreams.js';

const TOKEN = 'telemetry-token-0123456789';
const PROMETHEUS = '/usr/bin/prometheus';
const RUN_SPAN = 'tools/call run_python';

describe('telemetry', () => {
  let dir: string;
  let receiver: OtlpReceiver;
  let bridge: HttpBridge;
  let client: Client;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-otel-'));
    receiver = await startOtlpReceiver();
    const policy = join(dir, 'policy.toml');
    writeFileSync(policy, '[servers.everything]\ndeny = ["get-env"]\n');
    const config = join(dir, 'mcp.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: { everything: { command: process.execPath, args: [serverEntry('server-everything')] } },
      }),
    );
    bridge = await startHttpBridge(
      ['serve', '--http', '0'],
      {
        HOME: dir,
        MCP_BRIDGE_CONFIG: config,
        MCP_BRIDGE_HTTP_TOKEN: TOKEN,
        MCP_BRIDGE_POLICY: policy,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_SERVICE_NAME: 'bridge-under-test',
      },
      { cwd: dir },
    );
    client = await bridge.connect({ token: TOKEN });
  }, 90_000);

  afterAll(async () => {
    await client?.close();
    await bridge?.stop();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports a span per run with a child span per tool call over OTLP/HTTP JSON', async () => {
    const ok = await runPython(client, {
      code: [
        'import mcp',
        'r = await mcp_everything.echo(message="traced")',
        'print(r)',
        'try:',
        '    await mcp_everything.get_env()',
        'except mcp.PolicyError as error:',
        '    print("refused:", error.code)',
      ].join('\n'),
      servers: ['everything'],
      timeout: 90,
    });
    expect(textOf(ok)).toContain('traced');
    expect(textOf(ok)).toContain('refused: POLICY_DENIED');
    const failed = await runPython(client, { code: 'raise ValueError("boom")', timeout: 90 });
    expect(failed.isError).toBe(true);
    const { spans } = receiver;
    const runs = () => spans.filter((span) => span.name === RUN_SPAN);
    expect(await eventually(() => runs().length >= 2, 20_000)).toBe(true);
    expect(receiver.contentTypes.every((type) => type.startsWith('application/json'))).toBe(true);

    const [first, second] = runs();
    if (!first || !second) throw new Error('no run spans');
    const okRun = attributes(first)['codemode.run.status'] === 'ok' ? first : second;
    const errorRun = okRun === first ? second : first;
    const okAttributes = attributes(okRun);
    expect(okAttributes['codemode.run.status']).toBe('ok');
    expect(Number(okAttributes['codemode.run.duration_ms'])).toBeGreaterThan(0);
    expect(Number(okAttributes['codemode.run.bytes_out'])).toBeGreaterThan(0);
    expect(String(okAttributes['codemode.sandbox.backend'])).toContain('embedded');
    expect(okAttributes['codemode.sandbox.kind']).toBe('embedded');
    expect(okRun.parentSpanId ?? '').toBe('');
    // The server side of the client's tools/call, after OpenTelemetry's MCP conventions.
    expect(okRun.kind).toBe(SPAN_KIND.server);
    expect(okAttributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'run_python',
      'gen_ai.operation.name': 'execute_tool',
      'network.transport': 'tcp',
    });
    expect(String(okAttributes['mcp.session.id'])).toMatch(/^[0-9a-f-]{36}$/);
    expect(String(okAttributes['mcp.protocol.version'])).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(okAttributes['jsonrpc.request.id']).toMatch(/^\d+$/);
    expect(Number(okAttributes['codemode.run.queue_wait_ms'])).toBeGreaterThanOrEqual(0);
    expect(attributes(errorRun)['codemode.run.status']).toBe('error');
    expect(attributes(errorRun)['error.type']).toBe('tool_error');
    expect(errorRun.status?.code).toBe(2);

    const call = spans.find(
      (span) => span.name === 'tools/call' && attributes(span)['gen_ai.tool.name'] === 'echo',
    );
    if (!call) throw new Error(`no tool span among ${spans.map((span) => span.name).join(', ')}`);
    expect(call.traceId).toBe(okRun.traceId);
    expect(call.parentSpanId).toBe(okRun.spanId);
    expect(call.kind).toBe(SPAN_KIND.client);
    const callAttributes = attributes(call);
    // OpenTelemetry's conventions for MCP tool calls, plus the bridge's own.
    expect(callAttributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'echo',
      'network.transport': 'pipe',
      'codemode.tool.server': 'everything',
      'codemode.tool.outcome': 'ok',
    });
    expect(String(callAttributes['mcp.protocol.version'])).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(Number(callAttributes['codemode.tool.duration_ms'])).toBeGreaterThan(0);
  }, 120_000);

  const prometheusSkip = systemBinarySkipReason(PROMETHEUS, 'prometheus');
  it.skipIf(prometheusSkip !== undefined)(
    `Prometheus scrapes /metrics with the token and returns the run counters${prometheusSkip ? ` (skipped: ${prometheusSkip})` : ''}`,
    async () => {
      const target = new URL(bridge.base).host;
      const promPort = await freePort();
      writeFileSync(
        join(dir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          'scrape_configs:',
          '  - job_name: codemode-bridge',
          '    metrics_path: /metrics',
          '    authorization:',
          `      credentials: ${TOKEN}`,
          '    static_configs:',
          `      - targets: ["${target}"]`,
          '',
        ].join('\n'),
      );
      const prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      prometheus.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
      });
      try {
        const query = async (expression: string) => {
          const response = await fetch(
            `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expression)}`,
          ).catch(() => undefined);
          if (!response?.ok) return [];
          const body = (await response.json()) as {
            data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
          };
          return body.data.result;
        };
        let results: Awaited<ReturnType<typeof query>> = [];
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          results = await query('codemode_runs_total');
          if (results.length >= 2) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        const byStatus = Object.fromEntries(results.map((result) => [result.metric.status, result.value[1]]));
        expect(byStatus, log.slice(-2000)).toMatchObject({ ok: '1', error: '1' });
        expect(results.map((result) => result.metric.sandbox)).toEqual(['embedded', 'embedded']);
        expect(results[0]?.metric.job).toBe('codemode-bridge');
        const histogram = await query('codemode_tool_call_duration_seconds_count');
        expect(histogram.map((result) => result.metric.server)).toContain('everything');
        const alive = await query('codemode_sandboxes_alive');
        expect(alive.length).toBe(1);
        const value = async (expression: string) =>
          (await query(expression)).map((result) => result.value[1]);

        // Runs waited for their slot (no wait at all here: one bucket count per run).
        expect(await value('codemode_run_queue_wait_seconds_count')).toEqual(['2']);
        // The upstream's connection state, one series per state, and its failures by kind.
        expect(
          await value('codemode_upstream_connection_state{server="everything",state="connected"}'),
        ).toEqual(['1']);
        expect(await value('sum(codemode_upstream_connection_state{server="everything"})')).toEqual(['1']);
        const errors = await query('codemode_upstream_errors_total{server="everything"}');
        expect(errors.map((result) => result.metric.kind).sort()).toEqual([
          'call_failed',
          'closed',
          'connect',
          'list_tools',
          'timeout',
          'too_large',
          'tool_error',
        ]);
        // The policy's decisions: the echo allowed, get-env denied.
        expect(await value('codemode_policy_decisions_total{action="deny",outcome="denied"}')).toEqual(['1']);
        expect(await value('codemode_policy_decisions_total{action="allow",outcome="allowed"}')).toEqual([
          '1',
        ]);
        // The process, under OpenTelemetry's names for process and Node.js runtime metrics.
        const cpu = await query('process_cpu_time_total');
        expect(cpu.map((result) => result.metric.cpu_mode).sort()).toEqual(['system', 'user']);
        expect(Number((await value('process_memory_usage'))[0])).toBeGreaterThan(10_000_000);
        expect(Number((await value('process_unix_file_descriptor_count'))[0])).toBeGreaterThan(3);
        const heap = await query('v8js_memory_heap_used');
        expect(heap.map((result) => result.metric.v8js_heap_space_name)).toContain('old_space');
        const utilization = Number((await value('nodejs_eventloop_utilization'))[0]);
        expect(utilization).toBeGreaterThanOrEqual(0);
        expect(utilization).toBeLessThanOrEqual(1);
        expect(await value('nodejs_eventloop_delay_p99')).toHaveLength(1);
        expect(
          (await query('nodejs_eventloop_time_total')).map((r) => r.metric.nodejs_eventloop_state).sort(),
        ).toEqual(['active', 'idle']);
      } finally {
        prometheus.kill('SIGTERM');
      }
    },
    90_000,
  );

  it('keeps span names fixed and tool names escaped and cut, whatever names a program calls', async () => {
    const result = await runPython(client, {
      code: [
        'import mcp.runtime as rt',
        'names = ["\\x1b[31mred\\x1b[0m\\x1b[2J", "evil\\u202etxt.exe", "forged\\nline\\u2028too", "x" * 250]',
        'names += ["made_up_%d" % i for i in range(40)]',
        'for name in names:',
        '    try:',
        '        await rt.call_tool("everything", name, {})',
        '    except Exception:',
        '        pass',
        'print(len(names), "calls")',
      ].join('\n'),
      servers: ['everything'],
      timeout: 120,
    });
    expect(textOf(result)).toContain('44 calls');
    const { spans } = receiver;
    const called = () =>
      spans.filter((span) =>
        /made_up_|red|evil|forged|xxxx/.test(String(attributes(span)['gen_ai.tool.name'])),
      );
    expect(await eventually(() => called().length >= 44, 20_000)).toBe(true);

    // One name for every tool call, however many tools a program makes up.
    expect(new Set(spans.map((span) => span.name))).toEqual(new Set([RUN_SPAN, 'tools/call']));
    const names = called().map((span) => String(attributes(span)['gen_ai.tool.name']));
    expect(names).toContain('\\u001b[31mred\\u001b[0m\\u001b[2J');
    expect(names).toContain('evil\\u202etxt.exe');
    expect(names).toContain('forged\\u000aline\\u2028too');
    expect(names).toContain(`${'x'.repeat(127)}…`);
    // Controls, bidi marks and overrides, separators, invisible characters.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
    for (const span of called()) {
      const text = JSON.stringify(span);
      for (const { value } of span.attributes)
        expect(unsafe.test(String(value.stringValue ?? '')), text).toBe(false);
      expect(unsafe.test(span.status?.message ?? ''), text).toBe(false);
      // Names the server never listed: refused before any call, whatever the name.
      expect(attributes(span)['error.type']).toBe('unknown_tool');
    }

    // Metrics label tools by server and outcome only: made-up names add no series.
    const metrics = await (
      await fetch(`${bridge.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).text();
    expect(metrics).toContain('codemode_tool_call_duration_seconds_count{');
    expect(metrics).not.toMatch(/made_up_|evil|forged|31mred/);
  }, 120_000);
});
