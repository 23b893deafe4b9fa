/**
 * Frames that arrive in one chunk are handled one at a time, in stream order, so a run's outcome
 * never depends on how the sandbox's writes were chunked. Found by the hostile suite: a forged `done`
 * followed by garbage in the same write was a protocol error, and output written just before a bad
 * line was lost.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessSandbox } from '../../../src/sandbox/process-sandbox.js';
import { FrameDecoder, ProtocolViolation } from '../../../src/sandbox/protocol.js';
import type { SandboxExit } from '../../../src/sandbox/types.js';
import { createLogger } from '../../../src/shared/logger.js';

/** A stand-in for the sandbox process: the test writes its frames, and killing it ends it at once. */
function fakeSandbox() {
  const input = new PassThrough();
  const output = new PassThrough();
  output.resume();
  const child = Object.assign(new EventEmitter(), {
    stdin: null,
    stdout: null,
    stderr: null,
    kill() {
      input.destroy();
      setImmediate(() => child.emit('close', null, 'SIGKILL'));
      return true;
    },
  });
  const sandbox = new ProcessSandbox({
    kind: 'embedded',
    id: 'unit',
    child: child as unknown as ChildProcess,
    channel: { input, output },
    terminate: async () => {
      child.kill();
    },
    logger: createLogger('error', () => {}),
  });
  return { sandbox, input, child };
}

const children: Array<{ kill(): boolean }> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

/** Starts a run and writes `chunk` in one piece; resolves with the exit and the output received. */
async function runWith(chunk: string): Promise<{ exit: SandboxExit; output: string[] }> {
  const { sandbox, input, child } = fakeSandbox();
  children.push(child);
  input.write('{"type":"ready"}\n');
  await sandbox.waitReady();
  const output: string[] = [];
  const running = sandbox.execute(
    { runId: 'run-1', code: '', servers: [], catalog: [] },
    {
      onOutput: (_stream, data) => output.push(data),
      callTool: async () => null,
      callHost: async () => null,
    },
    new AbortController().signal,
  );
  input.write(chunk);
  return { exit: await running, output };
}

describe('ProcessSandbox, frames that arrive in one chunk', () => {
  it('ends the run at a done, whatever follows it in the same chunk', async () => {
    const { exit, output } = await runWith(
      '{"type":"done","ok":true}\n{"type":"out","stream":"stdout","data":"late"}\nnot json\n',
    );
    expect(exit).toEqual({ kind: 'done', ok: true });
    expect(output).toEqual([]);
  });

  it('keeps the output written before a bad line in the same chunk', async () => {
    const { exit, output } = await runWith(
      '{"type":"out","stream":"stdout","data":"before\\n"}\nnot json\n{"type":"out","stream":"stdout","data":"after"}\n',
    );
    expect(exit).toMatchObject({ kind: 'protocol_error', message: expect.stringMatching(/not JSON/) });
    expect(output).toEqual(['before\n']);
  });
});

describe('FrameDecoder.frames', () => {
  it('yields the frames before a bad line, then throws', () => {
    const frames = new FrameDecoder().frames(Buffer.from('{"type":"ready"}\nnot json\n{"type":"ready"}\n'));
    expect(frames.next().value).toEqual({ frame: { type: 'ready' }, chars: 16 });
    expect(() => frames.next()).toThrow(ProtocolViolation);
  });
});
