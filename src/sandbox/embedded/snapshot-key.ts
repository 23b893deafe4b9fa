/**
 * The key of a Pyodide memory snapshot. The snapshot holds the pre-imported runtime modules and is
 * only valid for the exact Pyodide and Deno it was made with, so any change to those, the worker or
 * a runtime `.py` file must produce a new key (and so a new snapshot).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { EmbeddedPaths } from './paths.js';

export interface SnapshotKeyInputs {
  pyodidePackageJson: Uint8Array | string;
  denoPackageJson: Uint8Array | string;
  worker: Uint8Array | string;
  /** Runtime files as `[path relative to the runtime dir, with '/', contents]`, in any order. */
  runtimeFiles: ReadonlyArray<readonly [string, Uint8Array | string]>;
}

/** 16 hex digits of a sha256 over every input, each length-prefixed so no two inputs can blur. */
export function computeSnapshotKey(inputs: SnapshotKeyInputs): string {
  const hash = createHash('sha256');
  const add = (label: string, data: Uint8Array | string) => {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    hash.update(`${label}\0${bytes.length}\0`).update(bytes);
  };
  add('pyodide', inputs.pyodidePackageJson);
  add('deno', inputs.denoPackageJson);
  add('worker', inputs.worker);
  const files = [...inputs.runtimeFiles].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [path, data] of files) add(`runtime:${path}`, data);
  return hash.digest('hex').slice(0, 16);
}

async function pythonFiles(root: string, dir = root): Promise<Array<[string, Buffer]>> {
  const files: Array<[string, Buffer]> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== '__pycache__') files.push(...(await pythonFiles(root, path)));
    } else if (entry.isFile() && entry.name.endsWith('.py')) {
      files.push([relative(root, path).split(sep).join('/'), await readFile(path)]);
    }
  }
  return files;
}

/** Reads the inputs of the installed parts and computes their key. */
export async function snapshotKeyOf(paths: EmbeddedPaths): Promise<string> {
  const [pyodidePackageJson, denoPackageJson, worker, runtimeFiles] = await Promise.all([
    readFile(join(paths.pyodideDir, 'package.json')),
    readFile(join(paths.denoPackageDir, 'package.json')),
    readFile(paths.worker),
    pythonFiles(paths.runtimeDir),
  ]);
  return computeSnapshotKey({ pyodidePackageJson, denoPackageJson, worker, runtimeFiles });
}
