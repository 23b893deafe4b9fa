/**
 * Traces that join: a client's W3C trace context (in the request's `_meta` over stdio, in `_meta` or
 * the HTTP headers over `serve --http`) becomes the parent of the run's span, and each tool call's
 * span becomes the parent of what the upstream servers receive, in `_meta` and, for Streamable HTTP
 * and SSE servers, in headers too. The real bridge exports to a loopback OTLP receiver; three
 * instances of a recording MCP server (stdio, Streamable HTTP, SSE) write down what each call carried.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { eventually } from '../helpers/environment.js';
import { type HttpBridge, startHttpBridge, textOf } from '../helpers/http-bridge.js';
import {
  attributesOf,
  type OtlpReceiver,
  type OtlpSpan,
  SPAN_KIND,
  startOtlpReceiver,
} from '../helpers/otlp-receiver.js';
import { freePort } from '../helpers/upstreams.js';

const RECORDER = fileURLToPath(new URL('../fixtures/trace-recording-server.mjs', import.meta.url));
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const HEADER_TRACE = 'a1a2a3a4a5a6a7a8b1b2b3b4b5b6b7b8';
const HEADER_SPAN = 'c1c2c3c4c5c6c7c8';

interface Recorded {
  transport: 'stdio' | 'http' | 'sse';
  message: string;
  meta: { traceparent?: string; tracestate?: string };
  headers: { traceparent?: string; tracestate?: string };
}

/** The recording server on a loopback port, in Streamable HTTP or SSE mode. */
async function startRecorder(
  mode: 'http' | 'sse',
  recordFile: string,
): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [RECORDER, mode, String(port)], {
    env: { ...process.env, TRACE_RECORD_FILE: recordFile },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening on port')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the recording server (${mode}) exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}${mode === 'sse' ? '/sse' : '/mcp'}`, child };
}

describe('trace context', () => {
  let dir: string;
  let receiver: OtlpReceiver;
  let recordFile: string;
  let config: string;
  const recorders: ChildProcess[] = [];
  let ports: { http: number; sse: number };
  let bridge: RunningBridge;

  const records = (): Recorded[] =>
    existsSync(recordFile)
      ? readFileSync(recordFile, 'utf8')
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Recorded)
      : [];
  const recordOf = (message: string) => records().filter((record) => record.message === message);
  const spansOfTrace = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);
  const runSpanOf = (traceId: string) =>
    spansOfTrace(traceId).find((span) => span.name === 'tools/call run_python');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'codemode-trace-'));
    recordFile = join(dir, 'records.jsonl');
    receiver = await startOtlpReceiver();
    const http = await startRecorder('http', recordFile);
    const sse = await startRecorder('sse', recordFile);
    recorders.push(http.child, sse.child);
    ports = { http: Number(new URL(http.url).port), sse: Number(new URL(sse.url).port) };
    config = join(dir, 'mcp.json');
    writeFileSync(
      config,
      JSON.stringify({
        mcpServers: {
          rec_stdio: { command: process.execPath, args: [RECORDER], env: { TRACE_RECORD_FILE: recordFile } },
          rec_http: { type: 'http', url: http.url },
          rec_sse: { type: 'sse', url: sse.url },
        },
      }),
    );
    bridge = await startBridge(
      {
        HOME: dir,
        MCP_BRIDGE_CONFIG: config,
        MCP_BRIDGE_RUNTIME: 'embedded',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      { cwd: dir },
    );
  }, 120_000);

  afterAll(async () => {
    await bridge?.close();
    for (const child of recorders) child.kill('SIGKILL');
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Calls every recording server once from one run, each call tagged with `tag`. */
  const callAll = (tag: string) =>
    [
      `await mcp_rec_stdio.echo(message="${tag}-stdio")`,
      `await mcp_rec_http.echo(message="${tag}-http")`,
      `await mcp_rec_sse.echo(message="${tag}-sse")`,
      'print("called")',
    ].join('\n');
  const servers = ['rec_stdio', 'rec_http', 'rec_sse'];

  it("makes the run's span a child of the caller's _meta context and sends each call's context to stdio, HTTP and SSE servers", async () => {
    const result = (await bridge.client.callTool(
      {
        name: 'run_python',
        arguments: { code: callAll('joined'), servers, timeout: 90 },
        _meta: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=abc' },
      },
      undefined,
      { timeout: 120_000 },
    )) as CallToolResult;
    expect(textOf(result)).toContain('called');
    const calls = () => spansOfTrace(CALLER_TRACE).filter((span) => span.name === 'tools/call');
    expect(await eventually(() => runSpanOf(CALLER_TRACE) !== undefined && calls().length >= 3, 20_000)).toBe(
      true,
    );

    const run = runSpanOf(CALLER_TRACE) as OtlpSpan;
    expect(run.parentSpanId).toBe(CALLER_SPAN);
    expect(run.kind).toBe(SPAN_KIND.server);
    const runAttributes = attributesOf(run);
    expect(runAttributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'run_python',
      'network.transport': 'pipe',
    });
    expect(String(runAttributes['mcp.protocol.version'])).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(runAttributes['jsonrpc.request.id']).toMatch(/^\d+$/);

    for (const [server, transport] of [
      ['rec_stdio', 'stdio'],
      ['rec_http', 'http'],
      ['rec_sse', 'sse'],
    ] as const) {
      const span = calls().find((each) => attributesOf(each)['codemode.tool.server'] === server);
      if (!span) throw new Error(`no span for the call to ${server}`);
      expect(span.parentSpanId).toBe(run.spanId);
      expect(span.kind).toBe(SPAN_KIND.client);
      // What the server received names the bridge's tool-call span as its parent, in the caller's trace.
      const [record] = recordOf(`joined-${transport}`);
      const sent = `00-${CALLER_TRACE}-${span.spanId}-01`;
      expect(record?.meta, transport).toEqual({ traceparent: sent, tracestate: 'vendor=abc' });
      const spanAttributes = attributesOf(span);
      expect(String(spanAttributes['mcp.protocol.version'])).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      if (transport === 'stdio') {
        expect(record?.headers).toEqual({});
        expect(spanAttributes['network.transport']).toBe('pipe');
      } else {
        expect(record?.headers, transport).toEqual({ traceparent: sent, tracestate: 'vendor=abc' });
        expect(spanAttributes).toMatchObject({ 'network.transport': 'tcp', 'server.address': '127.0.0.1' });
        expect(Number(spanAttributes['server.port'])).toBe(ports[transport]);
      }
    }
  }, 150_000);

  it('ignores a malformed traceparent: the run starts a trace of its own and passes that on', async () => {
    const result = (await bridge.client.callTool(
      {
        name: 'run_python',
        arguments: {
          code: 'await mcp_rec_stdio.echo(message="malformed")',
          servers: ['rec_stdio'],
          timeout: 90,
        },
        _meta: {
          traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01-extra\r\nx: y`,
          tracestate: 'vendor=abc',
        },
      },
      undefined,
      { timeout: 120_000 },
    )) as CallToolResult;
    expect(result.isError).toBeFalsy();
    const [record] = recordOf('malformed');
    const traceId = record?.meta.traceparent?.split('-')[1] ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe(CALLER_TRACE);
    // No tracestate came with a parent that was ignored.
    expect(record?.meta.tracestate).toBeUndefined();
    expect(await eventually(() => runSpanOf(traceId) !== undefined, 20_000)).toBe(true);
    expect(runSpanOf(traceId)?.parentSpanId ?? '').toBe('');
  }, 150_000);

  describe('over HTTP', () => {
    let http: HttpBridge;
    let client: Client;

    beforeAll(async () => {
      http = await startHttpBridge(
        ['serve', '--http', '0'],
        {
          HOME: dir,
          MCP_BRIDGE_CONFIG: config,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_BSP_SCHEDULE_DELAY: '200',
        },
        { cwd: dir },
      );
      // A client whose every request carries the header, as an instrumented HTTP client's would.
      client = new Client({ name: 'traced-http-client', version: '0.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${http.base}/mcp`), {
          requestInit: { headers: { traceparent: `00-${HEADER_TRACE}-${HEADER_SPAN}-01` } },
        }),
      );
    }, 120_000);

    afterAll(async () => {
      await client?.close();
      await http?.stop();
    });

    it("takes the headers' context when _meta has none; _meta's wins when both do, the headers' kept as a link", async () => {
      const run = (message: string, meta?: Record<string, string>) =>
        client.callTool(
          {
            name: 'run_python',
            arguments: {
              code: `await mcp_rec_stdio.echo(message="${message}")`,
              servers: ['rec_stdio'],
              timeout: 90,
            },
            ...(meta ? { _meta: meta } : {}),
          },
          undefined,
          { timeout: 120_000 },
        );
      await run('from-header');
      const fromHeader = () => runSpanOf(HEADER_TRACE);
      expect(await eventually(() => fromHeader() !== undefined, 20_000)).toBe(true);
      expect(fromHeader()?.parentSpanId).toBe(HEADER_SPAN);
      expect(attributesOf(fromHeader() as OtlpSpan)['network.transport']).toBe('tcp');
      expect(recordOf('from-header')[0]?.meta.traceparent).toMatch(
        new RegExp(`^00-${HEADER_TRACE}-[0-9a-f]{16}-01$`),
      );

      const metaTrace = 'd'.repeat(32);
      const metaSpan = 'e'.repeat(16);
      await run('from-meta', { traceparent: `00-${metaTrace}-${metaSpan}-01` });
      expect(await eventually(() => runSpanOf(metaTrace) !== undefined, 20_000)).toBe(true);
      const fromMeta = runSpanOf(metaTrace) as OtlpSpan;
      expect(fromMeta.parentSpanId).toBe(metaSpan);
      expect(fromMeta.links?.map((link) => [link.traceId, link.spanId])).toEqual([
        [HEADER_TRACE, HEADER_SPAN],
      ]);
      expect(recordOf('from-meta')[0]?.meta.traceparent).toMatch(new RegExp(`^00-${metaTrace}-`));
    }, 150_000);
  });

  describe('on the Monty tier', () => {
    const TOKEN = 'monty-trace-token-0123456789';
    let http: HttpBridge;
    let client: Client;

    beforeAll(async () => {
      http = await startHttpBridge(
        ['serve', '--http', '0'],
        {
          HOME: dir,
          MCP_BRIDGE_CONFIG: config,
          MCP_BRIDGE_RUNTIME: 'monty',
          MCP_BRIDGE_HTTP_TOKEN: TOKEN,
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
          OTEL_BSP_SCHEDULE_DELAY: '200',
        },
        { cwd: dir },
      );
      client = await http.connect({ token: TOKEN });
    }, 120_000);

    afterAll(async () => {
      await client?.close();
      await http?.stop();
    });

    it('traces a run on Monty as any other: joined to the caller, its calls passed on, its sandbox named, counted in metrics', async () => {
      const montyTrace = `${'f'.repeat(31)}1`;
      const montySpan = '1'.repeat(16);
      const result = (await client.callTool(
        {
          name: 'run_python',
          arguments: { code: callAll('monty'), servers, timeout: 90 },
          _meta: { traceparent: `00-${montyTrace}-${montySpan}-01` },
        },
        undefined,
        { timeout: 120_000 },
      )) as CallToolResult;
      expect(textOf(result)).toContain('called');
      expect(result.structuredContent).toMatchObject({ status: 'ok', sandbox: 'monty' });
      const calls = () => spansOfTrace(montyTrace).filter((span) => span.name === 'tools/call');
      expect(await eventually(() => runSpanOf(montyTrace) !== undefined && calls().length >= 3, 20_000)).toBe(
        true,
      );
      const run = runSpanOf(montyTrace) as OtlpSpan;
      expect(run.parentSpanId).toBe(montySpan);
      expect(run.kind).toBe(SPAN_KIND.server);
      expect(attributesOf(run)).toMatchObject({
        'codemode.sandbox.kind': 'monty',
        'codemode.run.status': 'ok',
      });
      expect(String(attributesOf(run)['codemode.sandbox.backend'])).toMatch(/^Monty \d+\.\d+\.\d+/);
      for (const transport of ['stdio', 'http', 'sse'] as const) {
        const span = calls().find(
          (each) => attributesOf(each)['codemode.tool.server'] === `rec_${transport}`,
        );
        if (!span) throw new Error(`no span for the call to rec_${transport}`);
        expect(span.parentSpanId).toBe(run.spanId);
        expect(recordOf(`monty-${transport}`)[0]?.meta.traceparent).toBe(
          `00-${montyTrace}-${span.spanId}-01`,
        );
      }

      const response = await fetch(`${http.base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const metrics = await response.text();
      expect(metrics).toMatch(/^codemode_runs_total\{[^}]*sandbox="monty"[^}]*\} 1\b/m);
      expect(metrics).toMatch(/^codemode_run_duration_seconds_count\{[^}]*sandbox="monty"[^}]*\} 1\b/m);
      expect(metrics).toMatch(/^codemode_monty_workers\{[^}]*state="fresh"[^}]*\} \d+/m);
      expect(metrics).toMatch(
        /^codemode_tool_call_duration_seconds_count\{[^}]*server="rec_http"[^}]*\} 1\b/m,
      );
    }, 150_000);
  });

  it('sends upstream servers no context when tracing is off, whatever the caller sent', async () => {
    const untraced = await startBridge(
      { HOME: dir, MCP_BRIDGE_CONFIG: config, MCP_BRIDGE_RUNTIME: 'embedded' },
      { cwd: dir },
    );
    try {
      const result = (await untraced.client.callTool(
        {
          name: 'run_python',
          arguments: { code: callAll('off'), servers, timeout: 90 },
          _meta: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` },
        },
        undefined,
        { timeout: 120_000 },
      )) as CallToolResult;
      expect(textOf(result)).toContain('called');
      for (const transport of ['stdio', 'http', 'sse']) {
        expect(recordOf(`off-${transport}`)).toEqual([
          { transport, tool: 'echo', message: `off-${transport}`, meta: {}, headers: {} },
        ]);
      }
    } finally {
      await untraced.close();
    }
  }, 150_000);
});
