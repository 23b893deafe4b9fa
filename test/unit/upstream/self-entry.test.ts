import { describe, expect, it } from 'vitest';
import { selfEntryReason } from '../../../src/upstream/config/self-entry.js';
import type { UpstreamServerConfig } from '../../../src/upstream/config/types.js';

const stdio = (name: string, command: string, args: string[] = [], cwd?: string): UpstreamServerConfig => ({
  name,
  source: '/s.json',
  transport: 'stdio',
  command,
  args,
  env: {},
  ...(cwd ? { cwd } : {}),
});

describe('selfEntryReason', () => {
  it.each([
    ['named codemode-bridge', stdio('codemode-bridge', 'whatever')],
    ['named codemode (any case)', stdio('CodeMode', 'whatever')],
    ['npx codemode-bridge', stdio('x', 'npx', ['codemode-bridge'])],
    ['npx -y codemode-bridge@latest', stdio('x', 'npx', ['-y', 'codemode-bridge@latest'])],
    ['scoped package', stdio('x', 'npx', ['-y', '@acme/codemode-bridge@1.2.3'])],
    [
      'node …/codemode-bridge/dist/cli/main.js',
      stdio('x', 'node', ['/opt/codemode-bridge/dist/cli/main.js']),
    ],
    ['installed bin', stdio('x', '/usr/local/bin/codemode-bridge')],
    ['Windows shim', stdio('x', 'C:\\npm\\codemode-bridge.cmd')],
    ['npx of the packed tarball', stdio('x', 'npx', ['-y', '/home/me/codemode-bridge-0.1.0.tgz'])],
    ['npx of a pre-release tarball', stdio('x', 'npx', ['./codemode-bridge-1.0.0-rc.1.tgz'])],
    [
      'remote named codemode',
      { name: 'codemode', source: '/s', transport: 'http', url: 'https://x', headers: {} },
    ],
  ] as const)('%s', (_title, server) => {
    expect(selfEntryReason(server, { cwd: '/w' })).toBeTypeOf('string');
  });

  it.each([
    ['uvx mcp-server-code-execution-mode', stdio('code-exec', 'uvx', ['mcp-server-code-execution-mode'])],
    ['a pinned uvx spec', stdio('x', 'uvx', ['mcp-server-code-execution-mode==1.2.0'])],
    [
      'python …/mcp_server_code_execution_mode.py',
      stdio('x', 'uv', ['run', '/home/me/mcp-server-code-execution-mode/mcp_server_code_execution_mode.py']),
    ],
  ] as const)('the reference bridge: %s', (_title, server) => {
    expect(selfEntryReason(server, { cwd: '/w' })).toMatch(/another code-execution bridge/);
    expect(selfEntryReason(server, { cwd: '/w', allowOriginal: true })).toBeUndefined();
  });

  it.each([
    ['another server', stdio('fs', 'npx', ['-y', '@modelcontextprotocol/server-filesystem'])],
    ['a name merely containing the word', stdio('codemode-bridge-helper', 'node', ['x.js'])],
    ['a package merely prefixed', stdio('x', 'npx', ['codemode-bridge-plugin'])],
    ['another tarball', stdio('x', 'npx', ['./codemode-bridge-plugin-1.0.0.tgz'])],
    [
      'a server installed inside a checkout of the bridge',
      stdio('x', 'node', [
        '/src/codemode-bridge/node_modules/@modelcontextprotocol/server-everything/dist/index.js',
      ]),
    ],
    [
      'a remote server',
      { name: 'r', source: '/s', transport: 'sse', url: 'https://codemode-bridge/x', headers: {} },
    ],
  ] as const)('not: %s', (_title, server) => {
    expect(selfEntryReason(server, { cwd: '/w' })).toBeUndefined();
  });

  it('matches the running script by resolved path, relative to the entry cwd or the project', () => {
    const selfPath = '/opt/bridge/dist/cli/main.js';
    expect(selfEntryReason(stdio('b', 'node', [selfPath]), { cwd: '/w', selfPath })).toMatch(
      /running bridge/,
    );
    expect(
      selfEntryReason(stdio('b', 'node', ['dist/cli/main.js'], '/opt/bridge'), { cwd: '/w', selfPath }),
    ).toMatch(/running bridge/);
    expect(
      selfEntryReason(stdio('b', 'node', ['./dist/cli/main.js']), { cwd: '/opt/bridge', selfPath }),
    ).toMatch(/running bridge/);
    expect(
      selfEntryReason(stdio('b', 'node', ['other/main.js']), { cwd: '/opt/bridge', selfPath }),
    ).toBeUndefined();
  });
});
