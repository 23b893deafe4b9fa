import { containerSupport } from './helpers/environment.js';

/** Under CI the container tests must run: a missing runtime or image fails the run instead of skipping. */
export default function setup(): void {
  const { skipReason } = containerSupport();
  if (!skipReason) return;
  if (process.env.CI) throw new Error(`container tests cannot run in CI: ${skipReason}`);
  process.stderr.write(`\n⚠ container tests will be skipped: ${skipReason}\n\n`);
}
