/** Where the TypeScript sandbox's parts live: the Deno binary the npm `deno` package installs, and the runtime. */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BridgeError } from '../../shared/errors.js';
import { packagePath } from '../../shared/package-root.js';
import { denoPlatformPackage } from '../embedded/paths.js';

const require = createRequire(import.meta.url);

export interface TypeScriptPaths {
  deno: string;
  denoVersion: string;
  /** runtime/typescript/sandbox.js */
  script: string;
  /** runtime/typescript/mcp.d.ts: the declaration of what the runtime offers a program. */
  declaration: string;
}

/**
 * Resolves every part, or throws `RUNTIME_UNAVAILABLE` saying what is missing. The binary comes from
 * the platform package, not `node_modules/.bin/deno` (a Node shim in between costs start-up time and
 * breaks killing by process group).
 */
export function resolveTypeScriptPaths(): TypeScriptPaths {
  const reinstall = 'Reinstall codemode-bridge with its dependencies (`npm ci`).';
  let denoPackage: string;
  try {
    denoPackage = dirname(require.resolve('deno/package.json'));
  } catch (error) {
    throw new BridgeError('RUNTIME_UNAVAILABLE', `The npm package deno is not installed. ${reinstall}`, {
      cause: error,
    });
  }
  const platformPackage = denoPlatformPackage(process.platform, process.arch);
  let deno: string;
  try {
    const dir = dirname(require.resolve(`${platformPackage}/package.json`, { paths: [denoPackage] }));
    deno = join(dir, process.platform === 'win32' ? 'deno.exe' : 'deno');
  } catch (error) {
    throw new BridgeError(
      'RUNTIME_UNAVAILABLE',
      `The Deno binary for ${process.platform}-${process.arch} (${platformPackage}) is not installed. ${reinstall}`,
      { cause: error },
    );
  }
  if (!existsSync(deno))
    throw new BridgeError('RUNTIME_UNAVAILABLE', `The Deno binary ${deno} is missing. ${reinstall}`);
  const { version } = JSON.parse(readFileSync(join(denoPackage, 'package.json'), 'utf8')) as {
    version: string;
  };
  return {
    deno,
    denoVersion: version,
    script: packagePath('runtime', 'typescript', 'sandbox.js'),
    declaration: packagePath('runtime', 'typescript', 'mcp.d.ts'),
  };
}
