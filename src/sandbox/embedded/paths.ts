/**
 * Where the embedded sandbox's parts live: the Deno binary of the npm `deno` package's platform
 * package, the `pyodide` package, the worker script and the shared Python runtime.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BridgeError } from '../../shared/errors.js';
import { packagePath } from '../../shared/package-root.js';

const require = createRequire(import.meta.url);

const WORKER_PATH = packagePath('runtime', 'deno', 'worker.js');
const PYTHON_RUNTIME_DIR = packagePath('runtime', 'python');

export interface EmbeddedPaths {
  deno: string;
  denoVersion: string;
  /** The npm `deno` package (its package.json versions the binary). */
  denoPackageDir: string;
  pyodideDir: string;
  pyodideVersion: string;
  worker: string;
  runtimeDir: string;
}

/** The platform package npm installs next to `deno` (its postinstall script is not needed, nor run). */
export function denoPlatformPackage(platform: NodeJS.Platform, arch: string): string {
  // The npm package ships glibc builds only on Linux; there is no musl build.
  return platform === 'linux' ? `@deno/linux-${arch}-glibc` : `@deno/${platform}-${arch}`;
}

function packageDir(name: string, paths?: string[]): string {
  return dirname(require.resolve(`${name}/package.json`, paths ? { paths } : undefined));
}

function version(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Resolves every part, or throws `RUNTIME_UNAVAILABLE` saying what is missing. The binary comes from
 * the platform package, not `node_modules/.bin/deno`: that shim puts a Node process in between,
 * which costs start-up time and breaks killing by process group.
 */
export function resolveEmbeddedPaths(): EmbeddedPaths {
  const reinstall = 'Reinstall codemode-bridge with its dependencies (`npm ci`), or use podman or docker.';
  let denoDir: string;
  let pyodideDir: string;
  try {
    denoDir = packageDir('deno');
    pyodideDir = packageDir('pyodide');
  } catch (error) {
    throw new BridgeError(
      'RUNTIME_UNAVAILABLE',
      `The npm packages deno and pyodide are not installed. ${reinstall}`,
      {
        cause: error,
      },
    );
  }
  const platformPackage = denoPlatformPackage(process.platform, process.arch);
  let deno: string;
  try {
    deno = join(packageDir(platformPackage, [denoDir]), process.platform === 'win32' ? 'deno.exe' : 'deno');
  } catch (error) {
    throw new BridgeError(
      'RUNTIME_UNAVAILABLE',
      `The Deno binary for ${process.platform}-${process.arch} (${platformPackage}) is not installed; ` +
        `npm installs it as an optional dependency of deno where the platform is supported. ${reinstall}`,
      { cause: error },
    );
  }
  if (!existsSync(deno)) {
    throw new BridgeError('RUNTIME_UNAVAILABLE', `The Deno binary ${deno} is missing. ${reinstall}`);
  }
  const paths: EmbeddedPaths = {
    deno,
    denoVersion: version(denoDir),
    denoPackageDir: denoDir,
    pyodideDir,
    pyodideVersion: version(pyodideDir),
    worker: WORKER_PATH,
    runtimeDir: PYTHON_RUNTIME_DIR,
  };
  // Deno's --allow-read takes a comma-separated list: a comma in a path would grant something else.
  for (const path of [paths.pyodideDir, paths.runtimeDir]) {
    if (path.includes(',')) {
      throw new BridgeError(
        'RUNTIME_UNAVAILABLE',
        `The embedded sandbox cannot grant read access to ${path}: the path contains a comma. Install codemode-bridge elsewhere.`,
      );
    }
  }
  return paths;
}
