/**
 * The package's own files (package.json, runtime/, dist/cli/main.js), found from wherever this code
 * runs: the bundle `npm run build` writes as dist/cli/main.js and its chunks in dist/cli/chunks/,
 * tsc's module tree under dist/, or src/ under vitest. A path relative to `import.meta.url` would be
 * right in only one of them, since the bundle moves every module to its entry's or a chunk's depth.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory at or above `start` that holds a package.json (dist/ and src/ hold none). */
export function findPackageRoot(start: string): string {
  for (let dir = start; ; ) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json at or above ${start}`);
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the package, e.g. `packagePath('runtime', 'python')`. */
export function packagePath(...segments: string[]): string {
  return join(PACKAGE_ROOT, ...segments);
}
