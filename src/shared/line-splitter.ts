/**
 * Splits a byte stream into newline-terminated lines with a hard bound on line length, in linear
 * time (each byte is copied at most once into a line). A line longer than the bound is not kept:
 * it is skipped to its newline and reported with its size and a few bytes of its head and tail, so
 * the caller can answer the message it belonged to instead of dropping the whole stream.
 */

/** What is known of a line that exceeded the bound. */
export interface OversizeLine {
  /** Its full length in bytes, without the newline (a lower bound while it is still arriving). */
  bytes: number;
  /** Its first bytes (up to `SNIPPET_BYTES`), decoded as UTF-8. */
  head: string;
  /** Its last bytes (up to `SNIPPET_BYTES`), decoded as UTF-8. */
  tail: string;
}

export const SNIPPET_BYTES = 4096;

interface SkippedLine {
  bytes: number;
  head: Buffer;
  tail: Buffer;
}
const NEWLINE = 0x0a;

export class LineSplitter {
  readonly #maxLineBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Set while skipping a line that is too long. */
  #skipping: SkippedLine | undefined;

  constructor(maxLineBytes: number) {
    this.#maxLineBytes = maxLineBytes;
  }

  /**
   * Feeds `chunk`; returns the complete lines it finished (without the newline; a trailing `\r` is
   * kept) and the oversize lines it finished skipping, in stream order.
   */
  push(chunk: Buffer): Array<string | OversizeLine> {
    const lines: Array<string | OversizeLine> = [];
    let start = 0;
    for (let newline = chunk.indexOf(NEWLINE); newline !== -1; newline = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.#skipping || this.#pendingBytes + piece.length > this.#maxLineBytes) {
        this.#skip(piece);
        lines.push(this.#endSkip());
        continue;
      }
      lines.push(
        this.#pending.length === 0
          ? piece.toString('utf8')
          : Buffer.concat([...this.#pending, piece], this.#pendingBytes + piece.length).toString('utf8'),
      );
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.#skipping || this.#pendingBytes + rest.length > this.#maxLineBytes) this.#skip(rest);
      else {
        // Copy: the caller's buffer may be reused (a socket's read buffer), the line may not be done.
        this.#pending.push(Buffer.from(rest));
        this.#pendingBytes += rest.length;
      }
    }
    return lines;
  }

  /** The size of the line being skipped right now, if any (to refuse it before it ends). */
  get skippingBytes(): number | undefined {
    return this.#skipping?.bytes;
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  #skip(piece: Buffer): void {
    if (!this.#skipping) {
      const held = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#skipping = {
        bytes: held.length,
        head: Buffer.from(held.subarray(0, SNIPPET_BYTES)),
        tail: Buffer.from(held.subarray(-SNIPPET_BYTES)),
      };
    }
    const skipping = this.#skipping;
    if (skipping.head.length < SNIPPET_BYTES) {
      skipping.head = Buffer.concat([skipping.head, piece.subarray(0, SNIPPET_BYTES - skipping.head.length)]);
    }
    skipping.tail =
      piece.length >= SNIPPET_BYTES
        ? Buffer.from(piece.subarray(-SNIPPET_BYTES))
        : Buffer.concat([skipping.tail, piece]).subarray(-SNIPPET_BYTES);
    skipping.bytes += piece.length;
  }

  #endSkip(): OversizeLine {
    const skipping = this.#skipping as SkippedLine;
    this.#skipping = undefined;
    return {
      bytes: skipping.bytes,
      head: skipping.head.toString('utf8'),
      tail: skipping.tail.toString('utf8'),
    };
  }
}

/**
 * The JSON-RPC id of a message too large to parse, read from its first or last bytes as the SDKs
 * write them (`{"jsonrpc":"2.0","id":7,…}` or `…,"jsonrpc":"2.0","id":7}`), so the one request or
 * response it belonged to can be answered with an error. Undefined when it cannot be told reliably.
 */
export function jsonRpcIdOf(line: OversizeLine): string | number | undefined {
  const id = String.raw`("id"\s*:\s*(-?\d{1,15}|"(?:[^"\\]|\\.){0,256}"))`;
  const atHead = new RegExp(String.raw`^\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*${id}`).exec(line.head);
  const atTail = new RegExp(String.raw`"jsonrpc"\s*:\s*"2\.0"\s*,\s*${id}\s*\}\s*\r?$`).exec(line.tail);
  const raw = atHead?.[2] ?? atTail?.[2];
  if (raw === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'string' || typeof value === 'number' ? value : undefined;
  } catch {
    return undefined;
  }
}
