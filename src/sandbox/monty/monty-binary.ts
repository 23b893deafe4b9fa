/**
 * The one place that knows where Monty comes from: the standalone `monty` binary of
 * `@pydantic/monty-linux-x64-gnu`, pinned to one version in package.json (an experimental
 * dependency, behind this module and the worker protocol of messages.ts). That package's Node addon
 * is not used: it needs glibc 2.38, and a crash in it would take the bridge down.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The version package.json pins; a different binary is refused (the protocol and subset are this one's). */
export const MONTY_VERSION = '0.0.23';
const PACKAGE = '@pydantic/monty-linux-x64-gnu';

export type MontyBinaryProbe = { path: string; version: string } | { problem: string };

/** Finds the binary and checks that it runs and is the pinned version. */
export async function probeMontyBinary(): Promise<MontyBinaryProbe> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return {
      problem: `Monty's worker binary is built for Linux x64 (glibc) only, not ${process.platform} ${process.arch}`,
    };
  }
  let path: string;
  try {
    path = join(dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`)), 'monty');
  } catch {
    return {
      problem: `${PACKAGE}@${MONTY_VERSION} is not installed (reinstall codemode-bridge with its optional dependencies: npm ci)`,
    };
  }
  try {
    const { stdout } = await run(path, ['--version'], { timeout: 10_000 });
    const version = /(\d+\.\d+\.\d+)/.exec(stdout)?.[1];
    if (version !== MONTY_VERSION) {
      return {
        problem: `${path} is Monty ${version ?? stdout.trim()}, but this bridge speaks to ${MONTY_VERSION} only`,
      };
    }
    return { path, version };
  } catch (error) {
    const text = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { problem: `${path} does not run here (${text}); it needs glibc on Linux x64` };
  }
}
