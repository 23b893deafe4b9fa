import { containerSupport, gvisorSupport } from './helpers/environment.js';

/**
 * Under CI the container tests must run, under runc and under gVisor: a missing engine, image or
 * runsc fails the run instead of skipping.
 */
export default function setup(): void {
  const { skipReason } = containerSupport();
  if (skipReason) {
    if (process.env.CI) throw new Error(`container tests cannot run in CI: ${skipReason}`);
    process.stderr.write(`\n⚠ container tests will be skipped: ${skipReason}\n\n`);
    return;
  }
  const gvisor = gvisorSupport().skipReason;
  if (!gvisor) return;
  if (process.env.CI) throw new Error(`gVisor container tests cannot run in CI: ${gvisor}`);
  process.stderr.write(`\n⚠ gVisor (runsc) container tests will be skipped: ${gvisor}\n\n`);
}
