import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBindAllowed, defaultMaxConnections, loadHttpSettings } from '../../../src/cli/http-settings.js';
import { tracesTarget } from '../../../src/cli/telemetry/target.js';

describe('HTTP settings', () => {
  it('reads the token from the variable or the file, never both, and refuses short ones', () => {
    expect(loadHttpSettings({}).token).toBeUndefined();
    expect(loadHttpSettings({ MCP_BRIDGE_HTTP_TOKEN: 'a'.repeat(16) })).toMatchObject({
      token: 'a'.repeat(16),
      tokenSource: 'MCP_BRIDGE_HTTP_TOKEN',
    });
    const file = join(mkdtempSync(join(tmpdir(), 'codemode-token-')), 'token');
    writeFileSync(file, `${'b'.repeat(20)}\nignored\n`);
    expect(loadHttpSettings({ MCP_BRIDGE_HTTP_TOKEN_FILE: file }).token).toBe('b'.repeat(20));
    expect(() =>
      loadHttpSettings({ MCP_BRIDGE_HTTP_TOKEN: 'a'.repeat(16), MCP_BRIDGE_HTTP_TOKEN_FILE: file }),
    ).toThrow(/set one/);
    expect(() => loadHttpSettings({ MCP_BRIDGE_HTTP_TOKEN: 'short' })).toThrow(/at least 16/);
    expect(() => loadHttpSettings({ MCP_BRIDGE_HTTP_TOKEN_FILE: '/nonexistent/token' })).toThrow(
      /cannot be read/,
    );
  });

  it('validates origins and limits', () => {
    expect(
      loadHttpSettings({ MCP_BRIDGE_HTTP_ALLOWED_ORIGINS: 'https://a.example, http://b.example:8080' })
        .allowedOrigins,
    ).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(() => loadHttpSettings({ MCP_BRIDGE_HTTP_ALLOWED_ORIGINS: 'https://a.example/path' })).toThrow(
      /no path/,
    );
    expect(() => loadHttpSettings({ MCP_BRIDGE_HTTP_MAX_SESSIONS: '0' })).toThrow(
      /MCP_BRIDGE_HTTP_MAX_SESSIONS/,
    );
  });

  it('reads connection timeouts and caps, refusing a request timeout shorter than the headers one', () => {
    expect(loadHttpSettings({})).toMatchObject({
      headersTimeoutMs: 20_000,
      requestTimeoutMs: 120_000,
      idleTimeoutMs: 5_000,
      maxConnectionsPerClient: 64,
    });
    expect(
      loadHttpSettings({
        MCP_BRIDGE_HTTP_HEADERS_TIMEOUT: '0.5',
        MCP_BRIDGE_HTTP_REQUEST_TIMEOUT: '2',
        MCP_BRIDGE_HTTP_IDLE_TIMEOUT: '1',
        MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT: '8',
        MCP_BRIDGE_HTTP_MAX_CONNECTIONS: '100',
      }),
    ).toMatchObject({
      headersTimeoutMs: 500,
      requestTimeoutMs: 2_000,
      idleTimeoutMs: 1_000,
      maxConnectionsPerClient: 8,
      maxConnections: 100,
    });
    expect(() =>
      loadHttpSettings({ MCP_BRIDGE_HTTP_HEADERS_TIMEOUT: '30', MCP_BRIDGE_HTTP_REQUEST_TIMEOUT: '10' }),
    ).toThrow(
      /MCP_BRIDGE_HTTP_REQUEST_TIMEOUT \(10 s\) is shorter than MCP_BRIDGE_HTTP_HEADERS_TIMEOUT \(30 s\)/,
    );
    expect(() => loadHttpSettings({ MCP_BRIDGE_HTTP_IDLE_TIMEOUT: '0' })).toThrow(
      /MCP_BRIDGE_HTTP_IDLE_TIMEOUT/,
    );
    expect(() => loadHttpSettings({ MCP_BRIDGE_HTTP_HEADERS_TIMEOUT: '1e9' })).toThrow(/up to 86400/);
    expect(() => loadHttpSettings({ MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT: '0' })).toThrow(
      /MCP_BRIDGE_HTTP_MAX_CONNECTIONS_PER_CLIENT/,
    );
  });

  it('keeps connections to half the open-file limit by default', () => {
    expect(defaultMaxConnections(undefined)).toBe(512);
    expect(defaultMaxConnections(20_000)).toBe(512);
    expect(defaultMaxConnections(256)).toBe(128);
    expect(defaultMaxConnections(20)).toBe(16);
  });

  it('refuses a non-loopback bind without a token', () => {
    expect(() => checkBindAllowed('127.0.0.1', { token: undefined })).not.toThrow();
    expect(() => checkBindAllowed('::1', { token: undefined })).not.toThrow();
    expect(() => checkBindAllowed('0.0.0.0', { token: undefined })).toThrow(
      /Refusing to serve HTTP on 0.0.0.0/,
    );
    expect(() => checkBindAllowed('0.0.0.0', { token: 'x'.repeat(16) })).not.toThrow();
  });

  it('finds the traces endpoint from the standard variables', () => {
    expect(tracesTarget({})).toEqual({ off: 'no OTEL_EXPORTER_OTLP_ENDPOINT' });
    expect(tracesTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' })).toEqual({
      endpoint: 'http://c:4318/v1/traces',
    });
    expect(
      tracesTarget({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t/x',
      }),
    ).toEqual({ endpoint: 'http://t/x' });
    expect(tracesTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SDK_DISABLED: 'true' })).toEqual({
      off: 'OTEL_SDK_DISABLED=true',
    });
    expect(tracesTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_EXPORTER: 'none' })).toEqual({
      off: 'OTEL_TRACES_EXPORTER=none',
    });
  });
});
