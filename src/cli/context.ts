/** What the commands share: the package version and the usage error. */
import { readFileSync } from 'node:fs';
import { packagePath } from '../shared/package-root.js';

export const VERSION: string = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')).version;

/** A mistake in how the command was called: reported with exit status 2. */
export class UsageError extends Error {}
