import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/cli/settings.js';

describe('loadSettings', () => {
  it('has the documented defaults', () => {
    const settings = loadSettings({ HOME: '/home/u' });
    expect(settings).toMatchObject({
      runtime: 'auto',
      image: 'python:3.12-slim',
      timeoutMs: 30_000,
      maxTimeoutMs: 120_000,
      memory: '512m',
      pids: 128,
      cpus: undefined,
      containerUser: '65534:65534',
      tmpfsSize: '64m',
      workspaceSize: '128m',
      idleTimeoutMs: 300_000,
      stateDir: '/home/u/.local/state/codemode-bridge',
      outputMode: 'text',
      containerChannel: 'auto',
      // unset: the engine's default OCI runtime; nothing picks gVisor by itself
      ociRuntime: undefined,
      logLevel: 'info',
      // unset: the runtime's default (containers 2, embedded 1)
      poolSize: undefined,
      poolMax: undefined,
    });
    expect(loadSettings({ MCP_BRIDGE_POOL_SIZE: '0' }).poolSize).toBe(0);
    expect(loadSettings({ MCP_BRIDGE_POOL_SIZE: '3', MCP_BRIDGE_POOL_MAX: '3' }).poolMax).toBe(3);
    expect(() => loadSettings({ MCP_BRIDGE_POOL_SIZE: '4', MCP_BRIDGE_POOL_MAX: '2' })).toThrow(
      /MCP_BRIDGE_POOL_MAX="2" is invalid: expected at least MCP_BRIDGE_POOL_SIZE \(4\)/,
    );
  });

  it('reads every variable', () => {
    const settings = loadSettings({
      MCP_BRIDGE_RUNTIME: 'PODMAN',
      MCP_BRIDGE_IMAGE: 'localhost/py:1',
      MCP_BRIDGE_CONTAINER_CHANNEL: 'stdio',
      MCP_BRIDGE_TIMEOUT: '2.5',
      MCP_BRIDGE_MAX_TIMEOUT: '10',
      MCP_BRIDGE_MEMORY: '1G',
      MCP_BRIDGE_PIDS: '64',
      MCP_BRIDGE_CPUS: '0.5',
      MCP_BRIDGE_CONTAINER_USER: '1000:1000',
      MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT: '60',
      MCP_BRIDGE_STATE_DIR: '/state',
      MCP_BRIDGE_OUTPUT_MODE: 'toon',
      MCP_BRIDGE_LOG_LEVEL: 'debug',
      MCP_BRIDGE_OCI_RUNTIME: 'runsc',
      MCP_BRIDGE_TMPFS_SIZE: '32M',
      MCP_BRIDGE_WORKSPACE_SIZE: '1g',
    });
    expect(settings).toMatchObject({
      runtime: 'podman',
      image: 'localhost/py:1',
      containerChannel: 'stdio',
      timeoutMs: 2500,
      maxTimeoutMs: 10_000,
      memory: '1g',
      pids: 64,
      cpus: 0.5,
      containerUser: '1000:1000',
      idleTimeoutMs: 60_000,
      stateDir: '/state',
      outputMode: 'toon',
      logLevel: 'debug',
      ociRuntime: 'runsc',
      tmpfsSize: '32m',
      workspaceSize: '1g',
    });
  });

  // The reference bridge (mcp-server-code-execution-mode) documents these spellings.
  it.each([
    ['compact', 'text'],
    ['COMPACT', 'text'],
    ['Text', 'text'],
    [' toon ', 'toon'],
  ])('reads MCP_BRIDGE_OUTPUT_MODE=%j as %s', (value, mode) => {
    expect(loadSettings({ MCP_BRIDGE_OUTPUT_MODE: value }).outputMode).toBe(mode);
  });

  it.each([
    ['DEBUG', 'debug'],
    ['INFO', 'info'],
    ['WARNING', 'warn'],
    ['warning', 'warn'],
    ['Warn', 'warn'],
    ['ERROR', 'error'],
    ['CRITICAL', 'error'],
    ['FATAL', 'error'],
    ['NOTSET', 'debug'],
  ])('reads MCP_BRIDGE_LOG_LEVEL=%s as %s', (value, level) => {
    expect(loadSettings({ MCP_BRIDGE_LOG_LEVEL: value }).logLevel).toBe(level);
  });

  it.each(['runc', 'crun', 'runsc', '/usr/local/bin/runsc', '/opt/oci/my-runtime'])(
    'accepts MCP_BRIDGE_OCI_RUNTIME=%s',
    (value) => {
      expect(loadSettings({ MCP_BRIDGE_OCI_RUNTIME: ` ${value} ` }).ociRuntime).toBe(value);
    },
  );

  it('reads MCP_BRIDGE_LANGUAGES (python by default, each language once, in order) and MCP_BRIDGE_TYPECHECK', () => {
    expect(loadSettings({}).languages).toEqual(['python']);
    expect(loadSettings({}).typecheck).toBe(true);
    expect(loadSettings({ MCP_BRIDGE_LANGUAGES: 'typescript' }).languages).toEqual(['typescript']);
    expect(loadSettings({ MCP_BRIDGE_LANGUAGES: ' TypeScript , python,typescript' }).languages).toEqual([
      'typescript',
      'python',
    ]);
    expect(loadSettings({ MCP_BRIDGE_TYPECHECK: 'off' }).typecheck).toBe(false);
    expect(loadSettings({ MCP_BRIDGE_TYPECHECK: '0' }).typecheck).toBe(false);
    expect(() => loadSettings({ MCP_BRIDGE_LANGUAGES: 'python,js' })).toThrow(
      'MCP_BRIDGE_LANGUAGES="python,js" is invalid: expected python, typescript, or both separated by a comma (python,typescript); "js" is not a language the bridge runs.',
    );
    expect(() => loadSettings({ MCP_BRIDGE_LANGUAGES: 'python,' })).toThrow(/"" is not a language/);
    expect(() => loadSettings({ MCP_BRIDGE_TYPECHECK: 'maybe' })).toThrow(
      /MCP_BRIDGE_TYPECHECK="maybe" is invalid/,
    );
  });

  it('reads MCP_BRIDGE_YIELD_AFTER in seconds, 0 for never', () => {
    expect(loadSettings({}).yieldAfterMs).toBe(20_000);
    expect(loadSettings({ MCP_BRIDGE_YIELD_AFTER: '2.5' }).yieldAfterMs).toBe(2500);
    expect(loadSettings({ MCP_BRIDGE_YIELD_AFTER: '0' }).yieldAfterMs).toBe(0);
    expect(() => loadSettings({ MCP_BRIDGE_YIELD_AFTER: '-1' })).toThrow(
      /MCP_BRIDGE_YIELD_AFTER="-1" is invalid: expected a positive number of seconds/,
    );
  });

  it('reads MCP_BRIDGE_AUDIT_RUN_LINES, 1000 by default, 0 for only the summary line', () => {
    expect(loadSettings({}).auditRunLines).toBe(1000);
    expect(loadSettings({ MCP_BRIDGE_AUDIT_RUN_LINES: '50' }).auditRunLines).toBe(50);
    expect(loadSettings({ MCP_BRIDGE_AUDIT_RUN_LINES: '0' }).auditRunLines).toBe(0);
    for (const bad of ['-1', '1.5', 'lots']) {
      expect(() => loadSettings({ MCP_BRIDGE_AUDIT_RUN_LINES: bad })).toThrow(
        `MCP_BRIDGE_AUDIT_RUN_LINES="${bad}" is invalid: expected an integer ≥ 0`,
      );
    }
  });

  it('reads the MCP_BRIDGE_KEEP_OUTPUT_* bounds, 0 characters for none kept', () => {
    expect(loadSettings({})).toMatchObject({
      keepOutputChars: 4_000_000,
      keepOutputTotalChars: 32_000_000,
      keepOutputMs: 900_000,
    });
    expect(
      loadSettings({
        MCP_BRIDGE_KEEP_OUTPUT_CHARS: '0',
        MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS: '0',
        MCP_BRIDGE_KEEP_OUTPUT_TTL: '60',
      }),
    ).toMatchObject({ keepOutputChars: 0, keepOutputTotalChars: 0, keepOutputMs: 60_000 });
    expect(() => loadSettings({ MCP_BRIDGE_KEEP_OUTPUT_CHARS: '40000000' })).toThrow(
      /MCP_BRIDGE_KEEP_OUTPUT_TOTAL_CHARS="32000000" is invalid: expected at least MCP_BRIDGE_KEEP_OUTPUT_CHARS \(40000000\)/,
    );
    expect(() => loadSettings({ MCP_BRIDGE_KEEP_OUTPUT_CHARS: '-1' })).toThrow(
      /MCP_BRIDGE_KEEP_OUTPUT_CHARS="-1" is invalid: expected an integer ≥ 0/,
    );
    expect(() => loadSettings({ MCP_BRIDGE_KEEP_OUTPUT_TTL: '0' })).toThrow(
      /MCP_BRIDGE_KEEP_OUTPUT_TTL="0" is invalid: expected a positive number of seconds/,
    );
  });

  it('reads MCP_BRIDGE_SESSION_MEMORY, MCP_BRIDGE_MEMORY when unset, at least 64m', () => {
    expect(loadSettings({}).sessionMemory).toBe('512m');
    expect(loadSettings({ MCP_BRIDGE_MEMORY: '1g' }).sessionMemory).toBe('1g');
    expect(loadSettings({ MCP_BRIDGE_SESSION_MEMORY: '256M' }).sessionMemory).toBe('256m');
    expect(() => loadSettings({ MCP_BRIDGE_SESSION_MEMORY: '32m' })).toThrow(
      /MCP_BRIDGE_SESSION_MEMORY="32m" is invalid: expected a size of at least 64m/,
    );
  });

  it('lowers the default timeout with the maximum', () => {
    expect(loadSettings({ MCP_BRIDGE_MAX_TIMEOUT: '5' }).timeoutMs).toBe(5000);
  });

  it.each([
    [
      { MCP_BRIDGE_RUNTIME: 'lxc' },
      /MCP_BRIDGE_RUNTIME="lxc" is invalid: expected one of auto, podman, docker, embedded/,
    ],
    [
      { MCP_BRIDGE_TIMEOUT: '-3' },
      /MCP_BRIDGE_TIMEOUT="-3" is invalid: expected a positive number of seconds/,
    ],
    [
      { MCP_BRIDGE_TIMEOUT: '0.0001' },
      /MCP_BRIDGE_TIMEOUT="0.0001" is invalid: expected a number of seconds, at least 0.1/,
    ],
    [
      { MCP_BRIDGE_MAX_TIMEOUT: '2147484' },
      /MCP_BRIDGE_MAX_TIMEOUT="2147484" is invalid: expected at most 2147483 seconds \(24\.8 days\)/,
    ],
    [
      { MCP_BRIDGE_SESSION_IDLE_TIMEOUT: '1e10' },
      /MCP_BRIDGE_SESSION_IDLE_TIMEOUT="1e10" is invalid: expected at most 2147483 seconds/,
    ],
    [
      { MCP_BRIDGE_TIMEOUT: '200' },
      /MCP_BRIDGE_TIMEOUT="200" is invalid: expected at most MCP_BRIDGE_MAX_TIMEOUT \(120 s\); for longer runs, raise MCP_BRIDGE_MAX_TIMEOUT too\./,
    ],
    [{ MCP_BRIDGE_MEMORY: 'lots' }, /MCP_BRIDGE_MEMORY="lots" is invalid: expected a size/],
    [{ MCP_BRIDGE_PIDS: '2' }, /MCP_BRIDGE_PIDS="2" is invalid: expected an integer ≥ 8/],
    [{ MCP_BRIDGE_CPUS: 'zero' }, /MCP_BRIDGE_CPUS="zero" is invalid/],
    [{ MCP_BRIDGE_CONTAINER_USER: '0:0' }, /non-root/],
    [{ MCP_BRIDGE_CONTAINER_USER: 'root' }, /numeric uid/],
    [{ MCP_BRIDGE_OUTPUT_MODE: 'xml' }, /expected one of text, toon \(or compact\)/],
    [
      { MCP_BRIDGE_LOG_LEVEL: 'loud' },
      /expected one of error, warn, info, debug \(or warning, critical, fatal, notset\)/,
    ],
    [{ MCP_BRIDGE_LOG_LEVEL: 'constructor' }, /MCP_BRIDGE_LOG_LEVEL="constructor" is invalid/],
    [{ MCP_BRIDGE_WORKSPACE_SIZE: 'big' }, /MCP_BRIDGE_WORKSPACE_SIZE="big" is invalid: expected a size/],
    [
      { MCP_BRIDGE_OCI_RUNTIME: 'gvisor' },
      /MCP_BRIDGE_OCI_RUNTIME="gvisor" is invalid: expected one of runc, crun, runsc, or an absolute path/,
    ],
    [{ MCP_BRIDGE_OCI_RUNTIME: 'bin/runsc' }, /MCP_BRIDGE_OCI_RUNTIME="bin\/runsc" is invalid/],
    [
      { MCP_BRIDGE_RUNTIME: 'embedded', MCP_BRIDGE_OCI_RUNTIME: 'runsc' },
      /MCP_BRIDGE_OCI_RUNTIME="runsc" is invalid: expected unset with MCP_BRIDGE_RUNTIME=embedded/,
    ],
  ])('refuses %j', (env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });
});
