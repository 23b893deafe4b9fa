/** What one run produced so far (its output, capped per stream) and how its outcome is written. */
import { OutputBuffer } from './output-buffer.js';
import type { RunOutcome } from './types.js';

/** Files a program asked to return to the client (`mcp.runtime.attach`): images, or other files as resources. */
export interface Attachment {
  mimeType: string;
  /** Base64. */
  data: string;
  name?: string;
}

/** Attachments one run may return, and their size together (bytes before base64). */
const MAX_ATTACHMENTS = 8;
const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;

export class RunRecord {
  readonly attachments: Attachment[] = [];
  #attachedBytes = 0;
  readonly #startedAt = performance.now();
  readonly #stdout: OutputBuffer;
  readonly #stderr: OutputBuffer;
  /** The first `keepChars` of stdout in full, for a handle when the cap elides some of it. */
  readonly #keepChars: number;
  readonly #kept: string[] = [];
  #keptChars = 0;

  constructor(maxOutputChars: number, keepChars = 0) {
    this.#stdout = new OutputBuffer(maxOutputChars);
    this.#stderr = new OutputBuffer(maxOutputChars);
    this.#keepChars = keepChars;
  }

  append(stream: 'stdout' | 'stderr', data: string): void {
    (stream === 'stdout' ? this.#stdout : this.#stderr).append(data);
    if (stream === 'stdout' && this.#keptChars < this.#keepChars) {
      const piece = data.slice(0, this.#keepChars - this.#keptChars);
      this.#kept.push(piece);
      this.#keptChars += piece.length;
    }
  }

  /** Adds an attachment; returns why not when it would exceed the bounds. */
  attach(attachment: Attachment): string | undefined {
    const bytes = Math.floor((attachment.data.length * 3) / 4);
    if (this.attachments.length >= MAX_ATTACHMENTS) return `a run returns at most ${MAX_ATTACHMENTS} files`;
    if (this.#attachedBytes + bytes > MAX_ATTACHMENT_BYTES) {
      return `a run returns at most ${MAX_ATTACHMENT_BYTES / 1048576} MiB of files together`;
    }
    this.#attachedBytes += bytes;
    this.attachments.push(attachment);
    return undefined;
  }

  /** Stdout as printed (up to `keepChars`), when the cap elided part of it; else undefined. */
  fullStdout(): { text: string; totalChars: number } | undefined {
    if (this.#stdout.elidedChars === 0 || this.#keepChars === 0) return undefined;
    return { text: this.#kept.join(''), totalChars: this.#stdout.totalChars };
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
      ...(this.attachments.length > 0 ? { attachments: [...this.attachments] } : {}),
    };
  }
}
