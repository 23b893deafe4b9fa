/**
 * Values programs save with `mcp.runtime.save(name, value)`: pickled bytes kept on the host, outside
 * every sandbox, so a fresh run or another session can `load` them. Each owner (a principal) has its
 * own names, and its own share of the total (`maxOwnerBytes`): one principal's values cannot take the
 * room of everyone else's. A value arrives in slices (one frame each) and only a
 * complete one replaces what was saved under its name.
 *
 * Every byte a run can make the store hold counts against `maxTotalBytes`: saved values (each with a
 * fixed charge for its bookkeeping, so a million tiny values cannot slip past the bound), and a value
 * still arriving, whose declared size is reserved by its first slice and given back when it completes,
 * fails, or its run ends however it ends (`releaseRun`). A value being replaced counts until its
 * replacement is complete. Loads are served one page at a time per run, each once the program has
 * read the pages before it, so a run asking for many pages at once holds one page on the host.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HostCallError, type ReplyChannel } from '../sandbox/types.js';

/**
 * One page of a value per reply (5.3 MiB as base64): what the host holds at once for a run's loads,
 * since each page is made only after the last one's reply has been written.
 */
const LOAD_SLICE_BYTES = 4 * 1024 * 1024;
/**
 * What each saved value costs beyond its bytes: its name (at most 256 characters), its map entry and
 * buffer object, its timestamp; measured at ~0.4 KiB, charged at 1 KiB.
 */
export const VALUE_OVERHEAD_BYTES = 1024;
/** Values one run may be saving at once (`runtime.save` sends one at a time; `gather` may send more). */
const MAX_UPLOADS_PER_RUN = 16;

export interface ValueStoreOptions {
  /** Largest value, in bytes of its pickle. */
  maxValueBytes: number;
  /** All values of all owners together, with those still arriving, in bytes. */
  maxTotalBytes: number;
  /** One owner's values, with those it is still sending, in bytes. Default: `maxTotalBytes`. */
  maxOwnerBytes?: number;
}

/** One slice of a value being saved (`save_value`): slice `part` of `parts`, of a value of `size` bytes. */
export interface ValueSlice {
  name: string;
  part: number;
  parts: number;
  size: number;
  /** This slice's bytes, base64. */
  data: string;
}

interface Saved {
  data: Buffer;
  savedAt: string;
}

/** A value still arriving: its whole declared size, allocated (not touched) and reserved at once. */
interface Upload {
  owner: string;
  data: Buffer;
  parts: number;
  nextPart: number;
  received: number;
}

export class ValueStore {
  readonly #options: ValueStoreOptions;
  readonly #values = new Map<string, Map<string, Saved>>();
  /** Values being saved, by run id and name; each reserves its declared size until it ends. */
  readonly #uploads = new Map<string, Map<string, Upload>>();
  /** The last load of each run: the next one starts after its reply has gone out. */
  readonly #loads = new Map<string, Promise<void>>();
  /** Bytes charged for saved values (with their overhead) and reserved by uploads in progress. */
  #total = 0;
  readonly #byOwner = new Map<string, number>();

  constructor(options: ValueStoreOptions) {
    this.#options = options;
  }

  /** Bytes the store holds and has reserved now (what `maxTotalBytes` bounds). */
  get heldBytes(): number {
    return this.#total;
  }

  /** A run has ended, however it ended: the values it was still saving are dropped, their room freed. */
  releaseRun(runId: string): void {
    for (const upload of this.#uploads.get(runId)?.values() ?? [])
      this.#charge(upload.owner, -cost(upload.data.length));
    this.#uploads.delete(runId);
    this.#loads.delete(runId);
  }

  /** Forgets every value of an owner that has gone. */
  dropOwner(owner: string): void {
    for (const saved of this.#values.get(owner)?.values() ?? [])
      this.#charge(owner, -cost(saved.data.length));
    this.#values.delete(owner);
  }

  /** Counts bytes held (or, negative, freed) for `owner` and in all. */
  #charge(owner: string, bytes: number): void {
    this.#total += bytes;
    const held = (this.#byOwner.get(owner) ?? 0) + bytes;
    if (held > 0) this.#byOwner.set(owner, held);
    else this.#byOwner.delete(owner);
  }

  /**
   * Takes one slice of a value the run `runId` of `owner` is saving; the last one replaces what was
   * saved under its name. Throws `HostCallError` for slices out of order and the caps.
   */
  save(slice: ValueSlice, runId: string, owner: string): unknown {
    const { name, part, parts, size, data } = slice;
    let uploads = this.#uploads.get(runId);
    if (!uploads) {
      uploads = new Map();
      this.#uploads.set(runId, uploads);
    }
    let upload = uploads.get(name);
    if (part === 0) {
      if (upload) this.#endUpload(uploads, name, upload);
      upload = this.#startUpload(uploads, name, size, parts, owner);
    }
    if (!upload || upload.nextPart !== part || upload.parts !== parts || upload.data.length !== size) {
      if (upload) this.#endUpload(uploads, name, upload);
      throw new HostCallError('save: slices out of order', 'BAD_ARGUMENTS');
    }
    const bytes = Buffer.byteLength(data, 'base64');
    if (upload.received + bytes > size || upload.data.write(data, upload.received, 'base64') !== bytes) {
      this.#endUpload(uploads, name, upload);
      throw new HostCallError('save: a slice exceeds the declared size or is not base64', 'BAD_ARGUMENTS');
    }
    upload.received += bytes;
    upload.nextPart++;
    if (part < parts - 1) return { name, received: upload.received };
    this.#endUpload(uploads, name, upload);
    if (upload.received !== size) throw new HostCallError('save: value incomplete', 'BAD_ARGUMENTS');
    const values = this.#values.get(owner) ?? new Map<string, Saved>();
    const previous = values.get(name);
    // The reservation becomes the value's charge; the value it replaces is freed.
    this.#charge(owner, cost(size) - (previous ? cost(previous.data.length) : 0));
    values.set(name, { data: upload.data, savedAt: new Date().toISOString() });
    this.#values.set(owner, values);
    return { name, bytes: size };
  }

  /** Reserves room for a value of `size` bytes (and its overhead) announced by its first slice. */
  #startUpload(
    uploads: Map<string, Upload>,
    name: string,
    size: number,
    parts: number,
    owner: string,
  ): Upload {
    const { maxValueBytes, maxTotalBytes, maxOwnerBytes } = this.#options;
    if (size > maxValueBytes) {
      throw new HostCallError(
        `save(${JSON.stringify(name)}): the value pickles to ${mib(size)}; a saved value may be at most ${mib(maxValueBytes)} (MCP_BRIDGE_SAVE_MAX_SIZE)`,
        'VALUE_TOO_LARGE',
      );
    }
    if (uploads.size >= MAX_UPLOADS_PER_RUN) {
      throw new HostCallError(
        `save(${JSON.stringify(name)}): a run may save at most ${MAX_UPLOADS_PER_RUN} values at once; await each save`,
        'VALUE_TOO_LARGE',
      );
    }
    if (this.#total + cost(size) > maxTotalBytes) {
      throw new HostCallError(
        `save(${JSON.stringify(name)}): saved values, with those being saved now, would take more than ${mib(maxTotalBytes)} together (MCP_BRIDGE_SAVE_TOTAL_SIZE); ` +
          'delete some first (a value being replaced counts until its replacement is complete)',
        'VALUE_TOO_LARGE',
      );
    }
    if (maxOwnerBytes !== undefined && (this.#byOwner.get(owner) ?? 0) + cost(size) > maxOwnerBytes) {
      throw new HostCallError(
        `save(${JSON.stringify(name)}): your saved values, with those being saved now, would take more than ${mib(maxOwnerBytes)} together (MCP_BRIDGE_SAVE_PER_PRINCIPAL_SIZE); ` +
          'delete some first (a value being replaced counts until its replacement is complete)',
        'VALUE_TOO_LARGE',
      );
    }
    // Not zero-filled, and never from the shared pool: pages are touched only as slices arrive, and
    // a small value does not pin a pool slab.
    const upload: Upload = { owner, data: Buffer.allocUnsafeSlow(size), parts, nextPart: 0, received: 0 };
    this.#charge(owner, cost(size));
    uploads.set(name, upload);
    return upload;
  }

  #endUpload(uploads: Map<string, Upload>, name: string, upload: Upload): void {
    uploads.delete(name);
    this.#charge(upload.owner, -cost(upload.data.length));
  }

  /**
   * One page of the value saved under `name`, from byte `offset`. A run's loads are served one after
   * another, each page made once the program has read what it was sent before (`replies.drained`):
   * 32 loads in flight hold one page here, and a program that does not read its pages waits for them
   * instead of piling them up on the host.
   */
  async load(
    request: { name: string; offset: number },
    runId: string,
    owner: string,
    replies: ReplyChannel | undefined,
  ): Promise<unknown> {
    const previous = this.#loads.get(runId);
    const turn = (async () => {
      if (previous) {
        await previous;
        // The previous reply is written in the turn its call settled: wait that turn out.
        await nextTurn();
      }
      await replies?.drained();
      return this.#load(request.name, request.offset, owner);
    })();
    // The chain keeps when the load ended, not its page.
    this.#loads.set(
      runId,
      turn.then(
        () => {},
        () => {},
      ),
    );
    return turn;
  }

  #load(name: string, offset: number, owner: string): unknown {
    const saved = this.#values.get(owner)?.get(name);
    if (!saved) {
      const names = [...(this.#values.get(owner)?.keys() ?? [])];
      throw new HostCallError(
        `load(${JSON.stringify(name)}): nothing is saved under that name; saved: ${names.join(', ') || 'none'}`,
        'NOT_FOUND',
      );
    }
    const slice = saved.data.subarray(offset, offset + LOAD_SLICE_BYTES);
    return { size: saved.data.length, data: slice.toString('base64') };
  }

  /** Forgets the value `owner` saved under `name`; whether there was one. */
  delete(name: string, owner: string): boolean {
    const values = this.#values.get(owner);
    const saved = values?.get(name);
    if (!values || !saved) return false;
    values.delete(name);
    this.#charge(owner, -cost(saved.data.length));
    return true;
  }

  /** The values `owner` saved: name, size and when. */
  list(owner: string): Array<{ name: string; bytes: number; savedAt: string }> {
    return [...(this.#values.get(owner) ?? new Map<string, Saved>())].map(([name, saved]) => ({
      name,
      bytes: saved.data.length,
      savedAt: saved.savedAt,
    }));
  }
}

/** What a saved value of `bytes` is charged against the total. */
function cost(bytes: number): number {
  return bytes + VALUE_OVERHEAD_BYTES;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
