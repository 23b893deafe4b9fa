/**
 * The console's page, stylesheet and script are files of the package (linted and formatted like the
 * rest of the code), read as they are: not strings inside a TypeScript module.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConsoleAssets } from '../../../src/server/console/console-assets.js';

const SOURCES = fileURLToPath(new URL('../../../src/server/console/assets/', import.meta.url));

describe('console assets', () => {
  it('are the checked files under src/server/console/assets, served as written', () => {
    const assets = loadConsoleAssets([SOURCES]);
    expect(assets.js).toBe(readFileSync(join(SOURCES, 'console.js'), 'utf8'));
    expect(assets.css).toBe(readFileSync(join(SOURCES, 'console.css'), 'utf8'));
    expect(assets.html).toBe(readFileSync(join(SOURCES, 'console.html'), 'utf8'));
    expect(assets.html).toContain('<script type="module" src="/console/console.js"></script>');
    expect(assets.html).toContain('<link rel="stylesheet" href="/console/console.css">');
  });

  it('say where they were looked for when the package lacks them', () => {
    const empty = mkdtempSync(join(tmpdir(), 'codemode-assets-'));
    try {
      expect(() => loadConsoleAssets([empty])).toThrow(
        new RegExp(`console's files .* are missing from ${empty}: run \`npm run build\``),
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
