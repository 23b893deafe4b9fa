/** A real EMFILE, from a process run under a small `ulimit -n`, is told for what it is. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { describeOutOfFileDescriptors, isOutOfFileDescriptors } from '../../../src/shared/fd-exhaustion.js';

describe('file descriptor exhaustion', () => {
  it.skipIf(process.platform !== 'linux')(
    'recognises a real EMFILE from spawning under a small ulimit -n',
    () => {
      // A child that uses up its descriptors, then spawns: what Node reports is what the bridge sees.
      const script = `
      const { openSync } = require('node:fs');
      const { spawn } = require('node:child_process');
      try { for (;;) openSync('/dev/null', 'r'); } catch {}
      const child = spawn('true', [], { stdio: 'pipe' });
      child.on('error', (error) => {
        process.stdout.write(JSON.stringify({ code: error.code, errno: error.errno, message: error.message }));
        process.exit(0);
      });`;
      const output = execFileSync(
        '/bin/sh',
        ['-c', 'ulimit -n 40 && exec "$0" -e "$1"', process.execPath, script],
        {
          encoding: 'utf8',
        },
      );
      const reported = JSON.parse(output) as { code: string; errno: number; message: string };
      expect(reported.code).toBe('EMFILE');
      const error = Object.assign(new Error(reported.message), reported);
      expect(isOutOfFileDescriptors(error)).toBe(true);
      expect(isOutOfFileDescriptors(new Error('sandbox could not be started', { cause: error }))).toBe(true);
      expect(describeOutOfFileDescriptors(error, 40)).toBe(
        'the bridge is out of file descriptors (ulimit -n 40)',
      );
    },
  );
});
