import { describe, expect, it } from 'vitest';
import {
  buildSandboxCommand,
  TYPESCRIPT_DATA_HEADROOM_BYTES,
  typescriptMemoryLimits,
} from '../../../src/sandbox/typescript/sandbox-command.js';

const MIB = 1024 * 1024;

describe('TypeScript sandbox command', () => {
  it('caps the JS heap at MCP_BRIDGE_MEMORY with an RLIMIT_DATA backstop above it', () => {
    expect(typescriptMemoryLimits('512m')).toEqual({
      heapMb: 512,
      dataLimitBytes: 512 * MIB + TYPESCRIPT_DATA_HEADROOM_BYTES,
    });
    expect(typescriptMemoryLimits('1g').heapMb).toBe(1024);
    expect(() => typescriptMemoryLimits('32m')).toThrow(/MCP_BRIDGE_MEMORY=32m is too small.*at least 64m/);
  });

  it('grants Deno no permission at all, under a data limit', () => {
    const command = buildSandboxCommand({
      deno: '/pkg/deno',
      script: '/pkg/runtime/typescript/sandbox.js',
      limits: typescriptMemoryLimits('256m'),
      denoDir: '/state/typescript/deno',
      ownerPid: 42,
      platform: 'linux',
    });
    expect(command.file).toBe('/bin/sh');
    const kib = (256 * MIB + TYPESCRIPT_DATA_HEADROOM_BYTES) / 1024;
    expect(command.args.slice(0, 4)).toEqual([
      '-c',
      `ulimit -d ${kib} 2>/dev/null || ulimit -S -d ${kib} 2>/dev/null; exec "$@"`,
      'codemode-typescript',
      '/pkg/deno',
    ]);
    expect(command.args.slice(4)).toEqual([
      'run',
      '--no-prompt',
      '--no-config',
      '--no-lock',
      '--no-npm',
      '--no-remote',
      '--v8-flags=--max-old-space-size=256',
      '/pkg/runtime/typescript/sandbox.js',
      '--owner=42',
    ]);
    expect(command.args.join(' ')).not.toMatch(/--allow-|-A\b/);
    expect(command.env).toEqual({
      DENO_DIR: '/state/typescript/deno',
      DENO_NO_UPDATE_CHECK: '1',
      NO_COLOR: '1',
    });
  });

  it('runs deno directly where there is no /bin/sh', () => {
    const command = buildSandboxCommand({
      deno: 'C:\\deno.exe',
      script: 'sandbox.js',
      limits: typescriptMemoryLimits('256m'),
      denoDir: 'd',
      platform: 'win32',
    });
    expect(command.file).toBe('C:\\deno.exe');
    expect(command.args[0]).toBe('run');
  });
});
