/**
 * Frames of the sandbox ↔ host protocol (docs/architecture.md, "The frame protocol"): newline-delimited
 * JSON. Everything the sandbox sends is untrusted: `FrameDecoder` bounds size and depth and checks each
 * frame against its schema before anything else looks at it.
 */
import { z } from 'zod';
import { LineSplitter } from '../shared/line-splitter.js';
import type { CatalogEntry, HostCallErrorCode, ServerGrant, SkillGrant } from './types.js';

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
    raw: z.boolean().optional(),
  }),
  z.object({ type: z.literal('call'), id: requestId, op: name, args: z.record(z.string(), z.unknown()) }),
  z.object({
    type: z.literal('done'),
    ok: z.boolean(),
    /** The process ends after this frame (a session's program ended it): no program may follow. */
    final: z.boolean().optional(),
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
  | {
      type: 'run';
      id: string;
      code: string;
      servers: ServerGrant[];
      catalog: CatalogEntry[];
      skills?: SkillGrant[];
      /** A session's program: after `done` the sandbox keeps its interpreter and awaits the next `run`. */
      keep?: boolean;
    }
  | { type: 'rpc_result'; id: number; ok: true; value: unknown }
  | { type: 'rpc_result'; id: number; ok: false; error: string; code: HostCallErrorCode };

export function encodeFrame(frame: HostFrame): string {
  return `${JSON.stringify(frame)}\n`;
}

export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}

/**
 * Whether `root` nests objects and arrays deeper than `maximum` levels (a scalar is level 0, `{}` 1).
 * Iterative, so a hostile value cannot overflow the host's stack; linear in the value's size.
 */
export function exceedsDepth(root: unknown, maximum: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (value === null || typeof value !== 'object') continue;
    if (depth > maximum) return true;
    if (Array.isArray(value)) for (const child of value) stack.push([child, depth + 1]);
    else for (const key in value) stack.push([(value as Record<string, unknown>)[key], depth + 1]);
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

/** A validated frame and the length of the line it came in (characters), for queue accounting. */
export interface DecodedFrame {
  frame: SandboxFrame;
  chars: number;
}

/**
 * Splits a byte stream into frames. A line longer than `maxFrameBytes` is a violation as soon as
 * it is seen, so a sandbox cannot make the host buffer without bound.
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  readonly #lines: LineSplitter;

  constructor(maxFrameBytes = MAX_FRAME_BYTES) {
    this.#maxFrameBytes = maxFrameBytes;
    this.#lines = new LineSplitter(maxFrameBytes);
  }

  /** Returns the complete frames in `chunk` (and earlier partial data); throws `ProtocolViolation`. */
  push(chunk: Buffer): DecodedFrame[] {
    return [...this.frames(chunk)];
  }

  /**
   * The complete frames in `chunk` (and earlier partial data), one at a time, in stream order; throws
   * `ProtocolViolation` on reaching a line that is not one. A caller that handles each frame before
   * asking for the next one acts on what came before a bad line (output, a `done`) and can stop
   * reading at a `done` without ever looking at what follows it.
   */
  *frames(chunk: Buffer): Generator<DecodedFrame, void, undefined> {
    for (const line of this.#lines.push(chunk)) {
      if (typeof line !== 'string') throw this.#tooLarge();
      if (line.trim() !== '') yield { frame: decodeFrame(line), chars: line.length };
    }
    if (this.#lines.skippingBytes !== undefined) throw this.#tooLarge();
  }

  #tooLarge(): ProtocolViolation {
    return new ProtocolViolation(`sandbox sent a frame larger than ${this.#maxFrameBytes} bytes`);
  }
}
