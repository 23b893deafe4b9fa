import { describe, expect, it } from 'vitest';
import type { RunOutcome } from '../../../src/engine/types.js';
import {
  formatOutcome,
  formatOutcomeText,
  formatRunning,
  structuredOutcome,
  structuredRunning,
} from '../../../src/server/format.js';

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

describe('a call that returns while its run goes on', () => {
  const step = {
    kind: 'running' as const,
    handle: 'job-3',
    stdout: 'month 1\n',
    stderr: 'slow\n',
    elapsedMs: 20_012,
  };

  it('shows the output since the last return and how to wait for more', () => {
    expect(formatRunning(step, 120_000, 'text')).toBe(
      'month 1\n[stderr]\nslow\n[still running after 20 s (its timeout: 120 s): call run_python with wait="job-3" for the output since and the result]',
    );
    expect(formatRunning({ ...step, stdout: '', stderr: '' }, 30_000, 'text')).toMatch(/^\[still running/);
  });

  it('carries status running and the handle in structuredContent, and in a toon block', () => {
    expect(structuredRunning(step)).toEqual({
      status: 'running',
      stdout: 'month 1\n',
      stderr: 'slow\n',
      durationMs: 20_012,
      wait: 'job-3',
    });
    expect(formatRunning(step, 120_000, 'toon')).toMatch(
      /^```toon\nstatus: running\n[\s\S]*wait: job-3\n```\n\[still running after 20 s/,
    );
  });
});
