/**
 * The console's page, stylesheet and script: plain files in `assets/` beside this module's source
 * (checked by biome like the rest of the code), copied into dist/ by `npm run build` and read once
 * when the console is mounted. No framework, no CDN, no bundling of the page's own code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packagePath } from '../../shared/package-root.js';

export interface ConsoleAssets {
  html: string;
  css: string;
  js: string;
}

const ASSET_DIRS = [
  // What ships: `npm run build` copies the assets here (scripts/copy-assets.mjs).
  packagePath('dist', 'server', 'console', 'assets'),
  // Running from a checkout's sources (vitest) before any build.
  packagePath('src', 'server', 'console', 'assets'),
];

/** Reads the three files; throws naming the directory when the package lacks them. */
export function loadConsoleAssets(dirs: readonly string[] = ASSET_DIRS): ConsoleAssets {
  const dir = dirs.find((candidate) => existsSync(join(candidate, 'console.html')));
  if (dir === undefined) {
    throw new Error(
      `The console's files (console.html, console.css, console.js) are missing from ${dirs.join(' and ')}: run \`npm run build\`, or reinstall the package.`,
    );
  }
  const read = (name: string) => readFileSync(join(dir, name), 'utf8');
  return { html: read('console.html'), css: read('console.css'), js: read('console.js') };
}
