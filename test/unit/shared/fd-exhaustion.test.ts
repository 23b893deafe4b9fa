/**
 * Telling a failure for want of a file descriptor from what the failed operation was for: errno
 * codes, libuv's negative errnos, messages, chains of causes (a real EMFILE is in the integration
 * tier).
 */
import { describe, expect, it } from 'vitest';
import { BridgeError } from '../../../src/shared/errors.js';
import {
  describeOutOfFileDescriptors,
  isOutOfFileDescriptors,
  openDescriptorCount,
  outOfFileDescriptorsError,
  readOpenFileLimit,
} from '../../../src/shared/fd-exhaustion.js';

const errno = (code: string, number: number, message = `spawn podman ${code}`) =>
  Object.assign(new Error(message), { code, errno: number, syscall: 'spawn podman' });

describe('file descriptor exhaustion', () => {
  it('is recognised by code, errno, message or anywhere in the chain of causes', () => {
    expect(isOutOfFileDescriptors(errno('EMFILE', -24))).toBe(true);
    expect(isOutOfFileDescriptors(errno('ENFILE', -23))).toBe(true);
    expect(isOutOfFileDescriptors({ errno: -24 })).toBe(true);
    expect(isOutOfFileDescriptors(new Error("EMFILE: too many open files, open '/tmp/x'"))).toBe(true);
    expect(isOutOfFileDescriptors(new Error('podman: Too many open files'))).toBe(true);
    const wrapped = new Error('sandbox process could not be started', { cause: errno('EMFILE', -24) });
    expect(isOutOfFileDescriptors(new Error('outer', { cause: wrapped }))).toBe(true);
    for (const other of [
      errno('ENOENT', -2, 'spawn podman ENOENT'),
      new Error('sandbox process exited (code 125) before it was ready: image not known'),
      undefined,
      null,
      'a string',
    ]) {
      expect(isOutOfFileDescriptors(other), String(other)).toBe(false);
    }
  });

  it('is described with the limit that was hit: the process one, or the system table', () => {
    expect(describeOutOfFileDescriptors(errno('EMFILE', -24), 1024)).toBe(
      'the bridge is out of file descriptors (ulimit -n 1024)',
    );
    expect(describeOutOfFileDescriptors(errno('ENFILE', -23))).toMatch(
      /^the system is out of file descriptors/,
    );
    expect(describeOutOfFileDescriptors(new Error('Too many open files in system'))).toMatch(/^the system/);
  });

  it('becomes an error that says what failed and what to do, with the original as its cause', () => {
    const cause = errno('EMFILE', -24);
    const error = outOfFileDescriptorsError('starting a podman sandbox', cause);
    expect(error).toBeInstanceOf(BridgeError);
    expect(error.code).toBe('OUT_OF_FILE_DESCRIPTORS');
    expect(error.cause).toBe(cause);
    expect(error.message).toMatch(
      /^The bridge is out of file descriptors \(ulimit -n (\d+|\?)\), so starting a podman sandbox failed\. .*raise the limit \(ulimit -n/,
    );
    expect(error.message).not.toMatch(/image/i);
  });

  it('reads the soft limit from /proc/self/limits', () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units     ',
      'Max open files            1024                 524288               files     ',
      'Max locked memory         8388608              8388608              bytes     ',
    ].join('\n');
    expect(readOpenFileLimit(limits)).toBe(1024);
    expect(readOpenFileLimit('no such line')).toBeUndefined();
  });

  it.skipIf(process.platform !== 'linux')('counts the descriptors this process holds', async () => {
    const count = await openDescriptorCount();
    expect(typeof count === 'number' && count > 2).toBe(true);
  });
});
