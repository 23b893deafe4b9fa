/**
 * Protocol buffers, the little of them Monty's worker protocol uses: varints (plain and zigzag),
 * doubles, and length-delimited fields. Written here rather than taken from a protobuf library: the
 * schema is a dozen messages, and a reader that bounds every length it is handed is what the host
 * needs from bytes a sandbox wrote.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

export class WireError extends Error {
  override readonly name = 'WireError';
}

/** Builds one message; nested messages are written into their own writer and added with `message`. */
export class WireWriter {
  readonly #chunks: Buffer[] = [];
  #scratch = Buffer.allocUnsafe(64);
  #used = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  uint(field: number, value: number | bigint): this {
    this.#key(field, WIRE_VARINT);
    if (typeof value === 'number' && value >= 0 && value <= 0xffffffff) this.#small(value);
    else this.#varint(BigInt(value));
    return this;
  }

  sint(field: number, value: bigint): this {
    this.#key(field, WIRE_VARINT);
    this.#varint(value >= 0n ? value << 1n : (-value << 1n) - 1n);
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.uint(field, value ? 1 : 0);
  }

  double(field: number, value: number): this {
    this.#key(field, WIRE_FIXED64);
    this.#reserve(8);
    this.#scratch.writeDoubleLE(value, this.#used);
    this.#used += 8;
    this.#length += 8;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  bytes(field: number, value: Uint8Array): this {
    this.#key(field, WIRE_LENGTH);
    this.#small(value.length);
    this.#flush();
    this.#chunks.push(Buffer.from(value.buffer, value.byteOffset, value.length));
    this.#length += value.length;
    return this;
  }

  message(field: number, value: WireWriter): this {
    this.#key(field, WIRE_LENGTH);
    this.#small(value.length);
    this.#flush();
    this.#chunks.push(...value.finish());
    this.#length += value.length;
    return this;
  }

  /** Fields encoded earlier (by another writer's `finish`), appended as they are. */
  raw(encoded: Buffer): this {
    this.#flush();
    this.#chunks.push(encoded);
    this.#length += encoded.length;
    return this;
  }

  /** The message's bytes, as chunks (concatenated only once, when framed). */
  finish(): Buffer[] {
    this.#flush();
    return this.#chunks;
  }

  #key(field: number, wireType: number): void {
    this.#small((field << 3) | wireType);
  }

  /** A varint of a value below 2^32, without BigInt (keys and lengths: most of what is written). */
  #small(value: number): void {
    this.#reserve(5);
    let rest = value;
    while (rest > 127) {
      this.#scratch[this.#used++] = (rest & 127) | 128;
      this.#length++;
      rest = Math.floor(rest / 128);
    }
    this.#scratch[this.#used++] = rest;
    this.#length++;
  }

  #varint(value: bigint): void {
    this.#reserve(10);
    let rest = value;
    if (rest < 0n) rest = BigInt.asUintN(64, rest);
    while (rest > 127n) {
      this.#scratch[this.#used++] = Number(rest & 127n) | 128;
      this.#length++;
      rest >>= 7n;
    }
    this.#scratch[this.#used++] = Number(rest);
    this.#length++;
  }

  #reserve(bytes: number): void {
    if (this.#used + bytes <= this.#scratch.length) return;
    this.#flush();
    if (bytes > this.#scratch.length) this.#scratch = Buffer.allocUnsafe(bytes);
  }

  #flush(): void {
    if (this.#used === 0) return;
    this.#chunks.push(Buffer.from(this.#scratch.subarray(0, this.#used)));
    this.#scratch = Buffer.allocUnsafe(this.#scratch.length);
    this.#used = 0;
  }
}

/** One field of a message as read: a varint, a double, or the bytes of a length-delimited field. */
export type WireField =
  | { field: number; type: 'varint'; value: bigint }
  | { field: number; type: 'fixed64'; value: Buffer }
  | { field: number; type: 'fixed32'; value: Buffer }
  | { field: number; type: 'bytes'; value: Buffer };

/** The fields of one message, in order. Throws `WireError` on truncated or malformed input. */
export function* readFields(buffer: Buffer): Generator<WireField, void, undefined> {
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (let count = 0; count < 10; count++) {
      if (offset >= buffer.length) throw new WireError('truncated varint');
      const byte = buffer[offset++] as number;
      result |= BigInt(byte & 127) << shift;
      if ((byte & 128) === 0) return result;
      shift += 7n;
    }
    throw new WireError('varint longer than 10 bytes');
  };
  while (offset < buffer.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const type = Number(key & 7n);
    if (field === 0) throw new WireError('field number 0');
    switch (type) {
      case WIRE_VARINT:
        yield { field, type: 'varint', value: varint() };
        break;
      case WIRE_FIXED64:
        if (offset + 8 > buffer.length) throw new WireError('truncated fixed64');
        yield { field, type: 'fixed64', value: buffer.subarray(offset, offset + 8) };
        offset += 8;
        break;
      case WIRE_FIXED32:
        if (offset + 4 > buffer.length) throw new WireError('truncated fixed32');
        yield { field, type: 'fixed32', value: buffer.subarray(offset, offset + 4) };
        offset += 4;
        break;
      case WIRE_LENGTH: {
        const length = varint();
        if (length > BigInt(buffer.length - offset)) throw new WireError('length beyond the message');
        const end = offset + Number(length);
        yield { field, type: 'bytes', value: buffer.subarray(offset, end) };
        offset = end;
        break;
      }
      default:
        throw new WireError(`unsupported wire type ${type}`);
    }
  }
}

/** A zigzag-encoded varint's value. */
export function zigzag(value: bigint): bigint {
  return value & 1n ? -((value + 1n) >> 1n) : value >> 1n;
}

/** The unsigned 32-bit values of a packed (or a single unpacked) repeated varint field. */
export function packedUints(field: WireField): number[] {
  if (field.type === 'varint') return [Number(BigInt.asUintN(32, field.value))];
  if (field.type !== 'bytes') throw new WireError('expected a packed varint field');
  const values: number[] = [];
  for (const item of readFields(prefixPacked(field.value))) {
    if (item.type !== 'varint') throw new WireError('malformed packed varints');
    values.push(Number(BigInt.asUintN(32, item.value)));
  }
  return values;
}

/** Packed varints carry no keys: give each a field-1 varint key so `readFields` can walk them. */
function prefixPacked(bytes: Buffer): Buffer {
  const out: number[] = [];
  let start = true;
  for (const byte of bytes) {
    if (start) out.push(WIRE_VARINT | (1 << 3));
    out.push(byte);
    start = (byte & 128) === 0;
  }
  if (!start) throw new WireError('truncated packed varint');
  return Buffer.from(out);
}

export function asString(field: WireField): string {
  if (field.type !== 'bytes') throw new WireError(`field ${field.field}: expected a string`);
  return field.value.toString('utf8');
}

export function asBytes(field: WireField): Buffer {
  if (field.type !== 'bytes') throw new WireError(`field ${field.field}: expected bytes`);
  return field.value;
}

export function asVarint(field: WireField): bigint {
  if (field.type !== 'varint') throw new WireError(`field ${field.field}: expected a varint`);
  return field.value;
}

export function asDouble(field: WireField): number {
  if (field.type !== 'fixed64') throw new WireError(`field ${field.field}: expected a double`);
  return field.value.readDoubleLE(0);
}
