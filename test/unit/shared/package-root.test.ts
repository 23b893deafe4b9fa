import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findPackageRoot, PACKAGE_ROOT, packagePath } from '../../../src/shared/package-root.js';

const temps: string[] = [];

afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('package root', () => {
  it('is the directory of the package.json that names this package', () => {
    const manifest = JSON.parse(readFileSync(packagePath('package.json'), 'utf8'));
    expect(manifest.name).toBe('codemode-bridge');
    expect(packagePath('runtime', 'python')).toBe(join(PACKAGE_ROOT, 'runtime', 'python'));
  });

  it('is found from any depth below it: the bundle (dist/cli), its chunks, a module (dist/sandbox/container)', () => {
    const root = mkdtempSync(join(tmpdir(), 'package-root-'));
    temps.push(root);
    writeFileSync(join(root, 'package.json'), '{}');
    mkdirSync(join(root, 'dist', 'sandbox', 'container'), { recursive: true });
    mkdirSync(join(root, 'dist', 'cli', 'chunks'), { recursive: true });
    expect(findPackageRoot(join(root, 'dist', 'cli'))).toBe(root);
    expect(findPackageRoot(join(root, 'dist', 'cli', 'chunks'))).toBe(root);
    expect(findPackageRoot(join(root, 'dist', 'sandbox', 'container'))).toBe(root);
    expect(findPackageRoot(root)).toBe(root);
  });
});
