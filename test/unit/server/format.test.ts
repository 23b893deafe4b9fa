import { describe, expect, it } from 'vitest';
import type { RunOutcome } from '../../../src/engine/types.js';
import { formatOutcome, formatOutcomeText, structuredOutcome } from '../../../src/server/format.js';

const ok: RunOutcome = { status: 'ok', stdout: 'hi\n', stderr: '', durationMs: 5 };

describe('formatOutcomeText', () => {
  it('is just stdout for a clean run', () => {
    expect(formatOutcomeText(ok)).toBe('hi');
  });

  it('says when there was no output', () => {
    expect(formatOutcomeText({ ...ok, stdout: '' })).toBe('(no output)');
  });

  it('adds stderr and the traceback under headers', () => {
    const text = formatOutcomeText({
      status: 'error',
      stdout: 'a\n',
      stderr: 'b\n',
      error: 'ValueError: x',
      traceback: 'Traceback …\nValueError: x\n',
      durationMs: 1,
    });
    expect(text).toBe('a\n[stderr]\nb\n[error]\nTraceback …\nValueError: x');
  });

  it('uses the error line when there is no traceback', () => {
    expect(formatOutcomeText({ ...ok, stdout: '', status: 'timeout', error: 'Timed out' })).toBe(
      '[timeout]\nTimed out',
    );
  });
});

describe('structuredOutcome and TOON', () => {
  it('omits absent optional fields', () => {
    expect(structuredOutcome(ok)).toEqual({ status: 'ok', stdout: 'hi\n', stderr: '', durationMs: 5 });
  });

  it('wraps the same object in a toon block', () => {
    expect(formatOutcome(ok, 'toon')).toBe(
      '```toon\nstatus: ok\nstdout: "hi\\n"\nstderr: ""\ndurationMs: 5\n```',
    );
  });
});
