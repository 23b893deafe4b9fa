/**
 * Frames of the sandbox ↔ host protocol (design §3): newline-delimited JSON.
 * Everything the sandbox sends is untrusted: `FrameDecoder` bounds size and depth and checks each
 * frame against its schema before anything else looks at it.
 */
import { z } from 'zod';
import type { CatalogEntry, ServerGrant } from './types.js';

const MAX_FRAME_BYTES = 8 * 1024 * 1024;
const MAX_FRAME_DEPTH = 64;
const MAX_NAME_CHARS = 256;

const name = z.string().min(1).max(MAX_NAME_CHARS);
const requestId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const sandboxFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('out'), stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  z.object({
    type: z.literal('rpc'),
    id: requestId,
    server: name,
    tool: name,
    args: z.record(z.string(), z.unknown()),
  }),
  z.object({ type: z.literal('call'), id: requestId, op: name, args: z.record(z.string(), z.unknown()) }),
  z.object({
    type: z.literal('done'),
    ok: z.boolean(),
    error: z
      .string()
      .max(64 * 1024)
      .optional(),
    traceback: z
      .string()
      .max(64 * 1024)
      .optional(),
  }),
]);

export type SandboxFrame = z.infer<typeof sandboxFrameSchema>;

export type HostFrame =
  | { type: 'run'; id: string; code: string; servers: ServerGrant[]; catalog: CatalogEntry[] }
  | { type: 'rpc_result'; id: number; ok: true; value: unknown }
  | { type: 'rpc_result'; id: number; ok: false; error: string; code: string };

export function encodeFrame(frame: HostFrame): string {
  return `${JSON.stringify(frame)}\n`;
}

export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}

function exceedsDepth(root: unknown, maximum: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (value === null || typeof value !== 'object') continue;
    if (depth > maximum) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Parses and validates one line; throws `ProtocolViolation` with a reason fit for the user. */
export function decodeFrame(line: string): SandboxFrame {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolViolation(`sandbox sent a line that is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (exceedsDepth(value, MAX_FRAME_DEPTH)) {
    throw new ProtocolViolation(`sandbox sent a frame nested deeper than ${MAX_FRAME_DEPTH} levels`);
  }
  const parsed = sandboxFrameSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new ProtocolViolation(
      `sandbox sent an invalid frame${where}: ${issue?.message ?? 'unknown shape'}`,
    );
  }
  return parsed.data;
}

/**
 * Splits a byte stream into frames. A line longer than `maxFrameBytes` is a violation as soon as
 * it is seen, so a sandbox cannot make the host buffer without bound.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Returns the complete frames in `chunk` (and earlier partial data); throws `ProtocolViolation`. */
  push(chunk: Buffer): SandboxFrame[] {
    const frames: SandboxFrame[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      this.#checkSize(this.#pendingBytes + piece.length);
      const line =
        this.#pending.length === 0
          ? piece.toString('utf8')
          : Buffer.concat([...this.#pending, piece]).toString('utf8');
      this.#pending = [];
      this.#pendingBytes = 0;
      start = newline + 1;
      if (line.trim() !== '') frames.push(decodeFrame(line));
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#checkSize(this.#pendingBytes + rest.length);
      this.#pending.push(rest);
      this.#pendingBytes += rest.length;
    }
    return frames;
  }

  #checkSize(bytes: number): void {
    if (bytes > this.#maxFrameBytes) {
      throw new ProtocolViolation(`sandbox sent a frame larger than ${this.#maxFrameBytes} bytes`);
    }
  }
}
