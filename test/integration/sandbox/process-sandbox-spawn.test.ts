/** A sandbox process that cannot even be spawned says why (ENOENT, EMFILE…), not "exited (code -2)". */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ProcessSandbox } from '../../../src/sandbox/process-sandbox.js';
import { createLogger } from '../../../src/shared/logger.js';

describe('process sandbox that cannot be spawned', () => {
  it('fails to become ready with the spawn error as the cause', async () => {
    const child = spawn('/nonexistent/codemode-sandbox', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const sandbox: ProcessSandbox = new ProcessSandbox({
      id: 'unspawnable',
      kind: 'embedded',
      child,
      logger: createLogger('error', () => {}),
      terminate: () => sandbox.exited(),
    });
    const failure = await sandbox.waitReady().then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure?.message).toBe(
      'sandbox process could not be started: spawn /nonexistent/codemode-sandbox ENOENT',
    );
    expect((failure?.cause as NodeJS.ErrnoException | undefined)?.code).toBe('ENOENT');
  });
});
