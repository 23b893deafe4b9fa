/**
 * What `npm pack` (and a publish) would carry: the built bridge, the sandbox runtime, the docs the
 * README links to, the licence and the shrinkwrap of the tested dependency versions; never the
 * sources, tests, benchmarks or scripts. `npm pack --dry-run` reads the working tree and needs no
 * network; `--ignore-scripts` skips the `prepare` build (the tier builds dist/ first).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Files under a directory, as repository-relative paths, without Python's byte-code caches. */
function filesUnder(dir: string): string[] {
  return readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter(
      (entry) => entry.isFile() && !entry.parentPath.includes('__pycache__') && !entry.name.endsWith('.pyc'),
    )
    .map((entry) => relative(REPO, join(entry.parentPath, entry.name)));
}

describe('the npm package', () => {
  let packed: string[];

  beforeAll(async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO,
      maxBuffer: 16 * 1024 * 1024,
    });
    const [report] = JSON.parse(stdout) as [{ files: { path: string }[] }];
    packed = report.files.map((file) => file.path).sort();
  });

  it('carries the runtime, the docs, README, LICENSE, package.json and the shrinkwrap, and nothing else outside dist/', () => {
    const expected = [
      ...filesUnder('runtime'),
      ...filesUnder('docs'),
      'LICENSE',
      'README.md',
      'npm-shrinkwrap.json',
      'package.json',
    ].sort();
    expect(packed.filter((path) => !path.startsWith('dist/'))).toEqual(expected);
  });

  it('carries the built bridge: the bin, a module for every source module, the console assets', () => {
    const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(packed).toContain(manifest.bin['codemode-bridge']);
    const modules = filesUnder('src')
      .filter((path) => path.endsWith('.ts'))
      .map((path) => path.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js'));
    expect(modules.filter((path) => !packed.includes(path))).toEqual([]);
    const assets = filesUnder('src/server/console/assets').map((path) => path.replace(/^src\//, 'dist/'));
    expect(assets.length).toBeGreaterThan(0);
    expect(assets.filter((path) => !packed.includes(path))).toEqual([]);
  });

  it('leaves out the sources, tests, benchmarks and scripts', () => {
    const outside = packed.filter((path) => /^(src|test|bench|scripts|\.ci)\//.test(path));
    expect(outside).toEqual([]);
  });
});
