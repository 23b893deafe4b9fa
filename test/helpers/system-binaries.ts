/**
 * Debian programs some suites drive (prometheus, chromium). Missing, the suite is skipped with the
 * reason, except under CI (.ci/run installs them), where the run fails instead, like the container suites.
 */
import { accessSync, constants } from 'node:fs';

/** Why `path` cannot be used here, or undefined when it can. Throws under CI when it is missing. */
export function systemBinarySkipReason(path: string, debianPackage: string): string | undefined {
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    const reason = `${path} is missing (apt-get install ${debianPackage})`;
    if (process.env.CI) throw new Error(`cannot run in CI: ${reason}`);
    return reason;
  }
}
