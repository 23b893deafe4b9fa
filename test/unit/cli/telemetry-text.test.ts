import { describe, expect, it } from 'vitest';
import { telemetryText } from '../../../src/cli/telemetry/text.js';

describe('telemetry text', () => {
  it('escapes controls, bidi marks and overrides, separators and invisible characters visibly', () => {
    expect(telemetryText('\u001b[31mred\u001b[0m', 100)).toBe('\\u001b[31mred\\u001b[0m');
    expect(telemetryText('evil\u202etxt.exe', 100)).toBe('evil\\u202etxt.exe');
    expect(telemetryText('a\r\nb\tc\u0085d', 100)).toBe('a\\u000d\\u000ab\\u0009c\\u0085d');
    expect(telemetryText('line\u2028para\u2029', 100)).toBe('line\\u2028para\\u2029');
    expect(telemetryText('\u2066iso\u2069\u200bzw\u200d\ufeff\u061c', 100)).toBe(
      '\\u2066iso\\u2069\\u200bzw\\u200d\\ufeff\\u061c',
    );
  });

  it('keeps ordinary text, accents and emoji as they are', () => {
    for (const text of ['echo', 'get-sum', 'créer_fichier', '工具', 'tool 🔧', 'a\\u001b']) {
      expect(telemetryText(text, 100)).toBe(text);
    }
  });

  it('cuts to the length in characters, never inside one, and marks the cut', () => {
    expect(telemetryText('x'.repeat(500), 128)).toBe(`${'x'.repeat(127)}…`);
    expect(telemetryText('x'.repeat(128), 128)).toBe('x'.repeat(128));
    expect(telemetryText('🔧'.repeat(10), 5)).toBe(`${'🔧'.repeat(4)}…`);
    // Escapes count at their escaped length: the cut applies to what is shown.
    expect(telemetryText('\u001b'.repeat(10), 13)).toBe('\\u001b\\u001b…');
  });
});
