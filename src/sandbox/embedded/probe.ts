/** Whether the embedded sandbox can run here: its npm parts are installed and the Deno binary executes. */
import { errorMessage } from '../../shared/errors.js';
import { describeOutOfFileDescriptors, isOutOfFileDescriptors } from '../../shared/fd-exhaustion.js';
import { runCommand } from '../process/run-command.js';
import { type EmbeddedPaths, resolveEmbeddedPaths } from './paths.js';

const PROBE_TIMEOUT_MS = 15_000;

export interface EmbeddedProbe {
  usable: boolean;
  version?: string;
  problem?: string;
}

export async function probeEmbedded(): Promise<EmbeddedProbe> {
  let paths: EmbeddedPaths;
  try {
    paths = resolveEmbeddedPaths();
  } catch (error) {
    return { usable: false, problem: errorMessage(error) };
  }
  // A glibc build on a musl system, a noexec mount or a wrong architecture fail here, not mid-run.
  const result = await runCommand(paths.deno, ['--version'], { timeoutMs: PROBE_TIMEOUT_MS, env: {} });
  if (isOutOfFileDescriptors(result.spawnError)) {
    return { usable: false, problem: describeOutOfFileDescriptors(result.spawnError) };
  }
  if (result.exitCode !== 0) {
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-2).join(' ');
    return {
      usable: false,
      problem: `${paths.deno} does not run: ${detail || `exit code ${result.exitCode}`}`,
    };
  }
  return { usable: true, version: `deno ${paths.denoVersion}, pyodide ${paths.pyodideVersion}` };
}
