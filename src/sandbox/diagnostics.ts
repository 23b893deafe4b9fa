/**
 * What a sandbox process wrote to its own stderr becomes part of an error message the model reads:
 * control and escape sequences are stripped (a program can write them), and only the last meaningful
 * line is kept, short. The full text goes to the debug log line by line as it arrives.
 */

const SUMMARY_CHARS = 300;
// CSI and OSC sequences, then any other C0/C1 control character except tab.
const ESCAPES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** The last non-empty line of `text`, without escape sequences, at most `SUMMARY_CHARS` long. */
export function summarizeDiagnostics(text: string): string {
  const lines = text.replace(ESCAPES, '').split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]?.trim() ?? '';
    if (line !== '') return line.length > SUMMARY_CHARS ? `${line.slice(0, SUMMARY_CHARS - 1)}…` : line;
  }
  return '';
}
