/** What one run produced so far (its output, capped per stream) and how its outcome is written. */
import { OutputBuffer } from './output-buffer.js';
import type { RunOutcome } from './types.js';

export class RunRecord {
  readonly #startedAt = performance.now();
  readonly #stdout: OutputBuffer;
  readonly #stderr: OutputBuffer;

  constructor(maxOutputChars: number) {
    this.#stdout = new OutputBuffer(maxOutputChars);
    this.#stderr = new OutputBuffer(maxOutputChars);
  }

  append(stream: 'stdout' | 'stderr', data: string): void {
    (stream === 'stdout' ? this.#stdout : this.#stderr).append(data);
  }

  /** The outcome: `fields` plus the captured output, what the caps elided, and the duration. */
  outcome(fields: Pick<RunOutcome, 'status' | 'error' | 'traceback'>): RunOutcome {
    const truncated = {
      ...(this.#stdout.elidedChars > 0 ? { stdout: this.#stdout.elidedChars } : {}),
      ...(this.#stderr.elidedChars > 0 ? { stderr: this.#stderr.elidedChars } : {}),
    };
    return {
      ...fields,
      stdout: this.#stdout.text(),
      stderr: this.#stderr.text(),
      durationMs: Math.round(performance.now() - this.#startedAt),
      ...(Object.keys(truncated).length > 0 ? { truncated } : {}),
    };
  }
}
