/**
 * Values programs save with `mcp.runtime.save(name, value)`: pickled bytes kept on the host for the
 * bridge's life, outside every sandbox, so a fresh run or another session can `load` them. Each client
 * connection (`owner`) has its own names. Bounded per value and in total; a value arrives in slices
 * (one frame each) and only a complete one replaces what was saved under its name.
 */
import { HostCallError } from '../sandbox/types.js';
import type { HostCallContext, HostOperation } from './engine.js';

/** One reply's worth of a value (base64 grows it by a third; a reply may be 32 MiB). */
const LOAD_SLICE_BYTES = 12 * 1024 * 1024;
const MAX_NAME_CHARS = 256;

export interface ValueStoreOptions {
  /** Largest value, in bytes of its pickle. */
  maxValueBytes: number;
  /** All values of all clients together, in bytes. */
  maxTotalBytes: number;
}

interface Saved {
  data: Buffer;
  savedAt: string;
}

interface Upload {
  parts: Buffer[];
  size: number;
  received: number;
}

export class ValueStore {
  readonly #options: ValueStoreOptions;
  readonly #values = new Map<string, Map<string, Saved>>();
  /** Slices of values being saved, by run and name; dropped when the run's context is collected. */
  readonly #uploads = new WeakMap<HostCallContext, Map<string, Upload>>();
  #total = 0;

  constructor(options: ValueStoreOptions) {
    this.#options = options;
  }

  /** The host operations behind `save`, `load`, `list_saved` and `delete_saved`. */
  operations(): Record<string, HostOperation> {
    return {
      save_value: async (args, _signal, context) => this.#save(args, context),
      load_value: async (args, _signal, context) => this.#load(args, context),
      list_values: async (_args, _signal, context) => this.#list(ownerOf(context)),
      delete_value: async (args, _signal, context) => this.#delete(nameOf(args), ownerOf(context)),
    };
  }

  /** Forgets every value of a client connection that has gone. */
  dropOwner(owner: string): void {
    for (const saved of this.#values.get(owner)?.values() ?? []) this.#total -= saved.data.length;
    this.#values.delete(owner);
  }

  #save(args: Record<string, unknown>, context: HostCallContext | undefined): unknown {
    const name = nameOf(args);
    const { part, parts, size, data } = args;
    if (
      !isCount(part) ||
      !isCount(parts) ||
      !isCount(size) ||
      part >= parts ||
      typeof data !== 'string' ||
      !context
    ) {
      throw new HostCallError('save: malformed slice', 'INVALID_ARGUMENT');
    }
    const limit = this.#options.maxValueBytes;
    if (size > limit) {
      throw new HostCallError(
        `save(${JSON.stringify(name)}): the value pickles to ${mib(size)}; a saved value may be at most ${mib(limit)} (MCP_BRIDGE_SAVE_MAX_SIZE)`,
        'VALUE_TOO_LARGE',
      );
    }
    let uploads = this.#uploads.get(context);
    if (!uploads) {
      uploads = new Map();
      this.#uploads.set(context, uploads);
    }
    let upload = uploads.get(name);
    if (part === 0 || !upload) {
      upload = { parts: [], size, received: 0 };
      uploads.set(name, upload);
    }
    const piece = Buffer.from(data, 'base64');
    upload.received += piece.length;
    if (upload.parts.length !== part || upload.received > upload.size) {
      uploads.delete(name);
      throw new HostCallError('save: slices out of order', 'INVALID_ARGUMENT');
    }
    upload.parts.push(piece);
    if (part < parts - 1) return { name, received: upload.received };
    uploads.delete(name);
    if (upload.received !== upload.size)
      throw new HostCallError('save: value incomplete', 'INVALID_ARGUMENT');
    const owner = ownerOf(context);
    const values = this.#values.get(owner) ?? new Map<string, Saved>();
    const previous = values.get(name)?.data.length ?? 0;
    if (this.#total - previous + upload.size > this.#options.maxTotalBytes) {
      throw new HostCallError(
        `save(${JSON.stringify(name)}): saved values would take more than ${mib(this.#options.maxTotalBytes)} together; delete some first (save a name again to replace it)`,
        'VALUE_TOO_LARGE',
      );
    }
    values.set(name, { data: Buffer.concat(upload.parts), savedAt: new Date().toISOString() });
    this.#values.set(owner, values);
    this.#total += upload.size - previous;
    return { name, bytes: upload.size };
  }

  #load(args: Record<string, unknown>, context: HostCallContext | undefined): unknown {
    const name = nameOf(args);
    const offset = args.offset ?? 0;
    if (!isCount(offset)) throw new HostCallError('load: bad offset', 'INVALID_ARGUMENT');
    const saved = this.#values.get(ownerOf(context))?.get(name);
    if (!saved) {
      const names = [...(this.#values.get(ownerOf(context))?.keys() ?? [])];
      throw new HostCallError(
        `load(${JSON.stringify(name)}): nothing is saved under that name; saved: ${names.join(', ') || 'none'}`,
        'NOT_FOUND',
      );
    }
    const slice = saved.data.subarray(offset, offset + LOAD_SLICE_BYTES);
    return { size: saved.data.length, data: slice.toString('base64') };
  }

  #delete(name: string, owner: string): boolean {
    const values = this.#values.get(owner);
    const saved = values?.get(name);
    if (!values || !saved) return false;
    values.delete(name);
    this.#total -= saved.data.length;
    return true;
  }

  #list(owner: string): unknown {
    return [...(this.#values.get(owner) ?? new Map<string, Saved>())].map(([name, saved]) => ({
      name,
      bytes: saved.data.length,
      savedAt: saved.savedAt,
    }));
  }
}

function ownerOf(context: HostCallContext | undefined): string {
  return context?.owner ?? 'stdio';
}

function nameOf(args: Record<string, unknown>): string {
  const name = args.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_CHARS) {
    throw new HostCallError(
      'the name must be a non-empty string of at most 256 characters',
      'INVALID_ARGUMENT',
    );
  }
  return name;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
