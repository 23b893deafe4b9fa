/** What the commands share: the package version and the usage error. */
import { readFileSync } from 'node:fs';

export const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;

/** A mistake in how the command was called: reported with exit status 2. */
export class UsageError extends Error {}
