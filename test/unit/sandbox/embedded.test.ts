import { describe, expect, it } from 'vitest';
import {
  DATA_LIMIT_HEADROOM_BYTES,
  embeddedMemoryLimits,
  parseSize,
} from '../../../src/sandbox/embedded/limits.js';
import { denoPlatformPackage, type EmbeddedPaths } from '../../../src/sandbox/embedded/paths.js';
import { computeSnapshotKey, type SnapshotKeyInputs } from '../../../src/sandbox/embedded/snapshot-key.js';
import { snapshotFileName } from '../../../src/sandbox/embedded/snapshot-store.js';
import { buildWorkerCommand } from '../../../src/sandbox/embedded/worker-command.js';

const MIB = 1024 * 1024;

describe('embedded memory limits', () => {
  it.each([
    ['512m', 512 * MIB],
    ['1g', 1024 * MIB],
    ['1.5G', 1536 * MIB],
    ['65536k', 64 * MIB],
    ['134217728', 128 * MIB],
    ['134217728b', 128 * MIB],
  ])('parses %s', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each([
    ['512m', 8192, 512 * MIB + DATA_LIMIT_HEADROOM_BYTES],
    ['64m', 1024, 64 * MIB + DATA_LIMIT_HEADROOM_BYTES],
    ['100000k', 1562, 1562 * 65536 + DATA_LIMIT_HEADROOM_BYTES], // rounded down to whole pages
    ['16g', 65536, 4096 * MIB + DATA_LIMIT_HEADROOM_BYTES], // wasm32 cannot address more than 4 GiB
  ])('caps the wasm heap of %s at %i pages, with an RLIMIT_DATA backstop', (memory, pages, data) => {
    const limits = embeddedMemoryLimits(memory);
    expect(limits.wasmMaxPages).toBe(pages);
    expect(limits.dataLimitBytes).toBe(data);
    expect(limits.v8Flags).toEqual([`--wasm-max-mem-pages=${pages}`, '--max-old-space-size=256']);
  });

  it('refuses a limit Pyodide cannot start under, naming the variable', () => {
    expect(() => embeddedMemoryLimits('32m')).toThrow(/MCP_BRIDGE_MEMORY=32m is too small.*at least 64m/);
  });
});

describe('embedded worker command', () => {
  const paths: EmbeddedPaths = {
    deno: '/pkg/node_modules/@deno/linux-x64-glibc/deno',
    denoVersion: '2.9.6',
    denoPackageDir: '/pkg/node_modules/deno',
    pyodideDir: '/pkg/node_modules/pyodide',
    pyodideVersion: '314.0.7',
    worker: '/pkg/runtime/deno/worker.js',
    runtimeDir: '/pkg/runtime/python',
  };
  const limits = embeddedMemoryLimits('512m');

  it('grants read access to Pyodide, the runtime and the snapshot only, under a data limit', () => {
    const command = buildWorkerCommand({
      paths,
      limits,
      denoDir: '/state/embedded/deno',
      snapshot: { file: '/state/embedded/pyodide-a-b.snap', size: 31457408 },
      ownerPid: 42,
      platform: 'linux',
    });
    expect(command.env).toEqual({ DENO_DIR: '/state/embedded/deno', MALLOC_TRIM_THRESHOLD_: '131072' });
    expect(command.file).toBe('/bin/sh');
    expect(command.args.slice(0, 4)).toEqual([
      '-c',
      'ulimit -d 1572864 2>/dev/null || ulimit -S -d 1572864 2>/dev/null; exec "$@"',
      'codemode-worker',
      paths.deno,
    ]);
    expect(command.args.slice(4)).toEqual([
      'run',
      '--no-prompt',
      '--no-config',
      '--no-lock',
      '--no-npm',
      '--no-remote',
      '--allow-read=/pkg/node_modules/pyodide,/pkg/runtime/python,/state/embedded/pyodide-a-b.snap',
      '--v8-flags=--wasm-max-mem-pages=8192,--max-old-space-size=256',
      '/pkg/runtime/deno/worker.js',
      '--pyodide=/pkg/node_modules/pyodide',
      '--runtime=/pkg/runtime/python',
      '--snapshot=/state/embedded/pyodide-a-b.snap',
      '--snapshot-size=31457408',
      '--owner=42',
    ]);
    expect(command.args.join(' ')).not.toMatch(/--allow-(write|net|env|run|ffi|sys|all)|-A\b/);
  });

  it('builds a snapshot with the same permissions and no snapshot to read', () => {
    const command = buildWorkerCommand({
      paths,
      limits,
      denoDir: '/d',
      makeSnapshot: true,
      platform: 'linux',
    });
    expect(command.args).toContain('--allow-read=/pkg/node_modules/pyodide,/pkg/runtime/python');
    expect(command.args.at(-1)).toBe('--make-snapshot');
    expect(command.args.some((arg) => arg.startsWith('--snapshot'))).toBe(false);
  });

  it('starts deno through the parent-death prefix when there is one', () => {
    const parentDeath = ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--'];
    const command = buildWorkerCommand({ paths, limits, denoDir: '/d', parentDeath, platform: 'linux' });
    expect(command.args.slice(2, 8)).toEqual(['codemode-worker', ...parentDeath, paths.deno]);
    expect(command.args[8]).toBe('run');
  });

  it('runs deno directly where there is no /bin/sh', () => {
    const command = buildWorkerCommand({ paths, limits, denoDir: '/d', platform: 'win32' });
    expect(command.file).toBe(paths.deno);
    expect(command.args[0]).toBe('run');
  });

  it('names the platform package that carries the binary', () => {
    expect(denoPlatformPackage('linux', 'x64')).toBe('@deno/linux-x64-glibc');
    expect(denoPlatformPackage('linux', 'arm64')).toBe('@deno/linux-arm64-glibc');
    expect(denoPlatformPackage('darwin', 'arm64')).toBe('@deno/darwin-arm64');
    expect(denoPlatformPackage('win32', 'x64')).toBe('@deno/win32-x64');
  });
});

describe('snapshot key', () => {
  const base: SnapshotKeyInputs = {
    pyodidePackageJson: '{"version":"314.0.7"}',
    denoPackageJson: '{"version":"2.9.6"}',
    worker: 'worker source',
    runtimeFiles: [
      ['codemode_runtime/executor.py', 'a'],
      ['mcp/__init__.py', 'b'],
    ],
  };

  it('is 16 hex digits, stable, and independent of file order', () => {
    const key = computeSnapshotKey(base);
    expect(key).toMatch(/^[0-9a-f]{16}$/);
    expect(computeSnapshotKey({ ...base, runtimeFiles: [...base.runtimeFiles].reverse() })).toBe(key);
  });

  it.each<[string, Partial<SnapshotKeyInputs>]>([
    ['a Pyodide upgrade', { pyodidePackageJson: '{"version":"314.0.8"}' }],
    ['a Deno upgrade', { denoPackageJson: '{"version":"2.9.7"}' }],
    ['a worker change', { worker: 'worker source 2' }],
    [
      'a runtime file change',
      {
        runtimeFiles: [
          ['codemode_runtime/executor.py', 'a2'],
          ['mcp/__init__.py', 'b'],
        ],
      },
    ],
    ['a new runtime file', { runtimeFiles: [...base.runtimeFiles, ['mcp/extra.py', '']] }],
    [
      'a renamed runtime file',
      {
        runtimeFiles: [
          ['codemode_runtime/executor2.py', 'a'],
          ['mcp/__init__.py', 'b'],
        ],
      },
    ],
    [
      'bytes moved between path and contents',
      {
        runtimeFiles: [
          ['codemode_runtime/executor.pya', ''],
          ['mcp/__init__.py', 'b'],
        ],
      },
    ],
  ])('changes with %s', (_name, change) => {
    expect(computeSnapshotKey({ ...base, ...change })).not.toBe(computeSnapshotKey(base));
  });

  it('names files by key and content digest', () => {
    expect(snapshotFileName('0123456789abcdef', 'f'.repeat(64))).toBe(
      'pyodide-0123456789abcdef-ffffffffffffffff.snap',
    );
  });
});
