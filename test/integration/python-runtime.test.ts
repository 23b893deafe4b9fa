/**
 * The sandbox's Python runtime, unit-tested with the host's python3 (test/python/*.py, unittest): the
 * executor, the channel, the proxies and the docs, in a fraction of a second instead of through a
 * sandbox. Skipped, saying why, where the host has no python3 (the bridge itself does not need one).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const skipReason = python.status === 0 ? undefined : 'python3 is not on PATH';

describe.skipIf(skipReason)(`the Python runtime (host ${python.stdout?.trim() || 'python3'})`, () => {
  it('passes its unit tests', () => {
    const result = spawnSync(
      'python3',
      ['-m', 'unittest', 'discover', '-s', 'test/python', '-t', 'test/python'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      },
    );
    expect(result.stderr).toMatch(/^Ran \d+ tests/m);
    expect(result.status, result.stderr).toBe(0);
  });
});
