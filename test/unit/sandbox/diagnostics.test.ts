import { describe, expect, it } from 'vitest';
import { summarizeDiagnostics } from '../../../src/sandbox/diagnostics.js';

describe('summarizeDiagnostics', () => {
  it.each([
    ['', ''],
    ['one line\n', 'one line'],
    ['first\nsecond\n\n  \n', 'second'],
    ['\u001b[0m\u001b[1m\u001b[31merror\u001b[0m: boom\r\n', 'error: boom'],
    ['\u001b]0;title\u0007visible', 'visible'],
    ['bell\u0007 and nul\u0000 gone', 'bell and nul gone'],
    [`${'x'.repeat(1000)}\n`, `${'x'.repeat(299)}…`],
  ])('%j → %j', (text, summary) => {
    expect(summarizeDiagnostics(text)).toBe(summary);
  });
});
