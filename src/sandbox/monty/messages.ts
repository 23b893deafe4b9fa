/**
 * The messages of Monty's worker protocol (`monty subprocess`, protocol version 2: the monty-proto
 * crate's `monty.v1` schema) that the tier uses, and the values that cross it. Requests are encoded
 * from plain objects; events are decoded into plain objects, bounded in depth and in the number of
 * values one event may hold, because a worker runs untrusted code.
 */
import {
  asBytes,
  asDouble,
  asString,
  asVarint,
  packedUints,
  readFields,
  WireError,
  type WireField,
  WireWriter,
  zigzag,
} from './wire.js';

/** The protocol version this host speaks; the worker refuses any other. */
export const PROTOCOL_VERSION = 2;
/** Values deeper than this are refused both ways (Monty's own limit on inputs is of this order). */
export const MAX_VALUE_DEPTH = 256;
/**
 * How deep a value sent to the worker may nest, in protobuf messages: the worker's decoder stops at
 * 100 nested messages, four of which are the envelope of a resumed call. A list level costs two
 * (MontyObject, ObjectList), a dict level three (MontyObject, Dict, Pair): measured, dicts of 32 levels
 * and lists of 47 pass, 40 and 50 do not.
 */
export const MAX_WIRE_DEPTH = 94;

/** Values one decoded event may hold; a bigger one is refused rather than built in the host's heap. */
export const MAX_EVENT_VALUES = 1_000_000;

/** A Python value as it crosses the boundary. Kinds the tier does not interpret travel as `opaque`. */
export type MontyValue =
  | { kind: 'none' }
  | { kind: 'ellipsis' }
  | { kind: 'bool'; value: boolean }
  | { kind: 'int'; value: bigint }
  | { kind: 'float'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'bytes'; value: Buffer }
  | { kind: 'list' | 'tuple' | 'set' | 'frozenset'; items: MontyValue[] }
  | { kind: 'dict'; pairs: Array<[MontyValue, MontyValue]> }
  | { kind: 'named_tuple'; typeName: string; fields: string[]; values: MontyValue[] }
  | { kind: 'function'; name: string; docstring?: string }
  /** A host-backed object: attribute reads it lacks and method calls come back to the host. */
  | {
      kind: 'instance';
      className: string;
      classId: Buffer;
      instanceId: Buffer;
      attrs: Array<[string, MontyValue]>;
    }
  /** Output only: the repr of a value with no other representation. */
  | { kind: 'repr'; value: string }
  /** Any other kind (dates, types, exceptions, paths…): its field number and bytes, re-encodable as is. */
  | { kind: 'opaque'; field: number; bytes: Buffer; typeName: string };

const OBJECT_FIELDS = {
  ellipsis: 1,
  none: 2,
  notImplemented: 3,
  bool: 4,
  int: 5,
  bigint: 6,
  float: 7,
  str: 8,
  bytes: 9,
  list: 11,
  tuple: 12,
  namedTuple: 13,
  dict: 14,
  set: 15,
  frozenset: 16,
  classInstance: 24,
  function: 25,
  repr: 29,
} as const;

/** Python type names of the kinds kept opaque, for messages ("a datetime cannot be sent to a tool"). */
const OPAQUE_TYPE_NAMES: Record<number, string> = {
  3: 'NotImplementedType',
  10: 'UUID',
  17: 'date',
  18: 'time',
  19: 'datetime',
  20: 'timedelta',
  21: 'timezone',
  22: 'exception',
  23: 'type',
  26: 'builtin_function_or_method',
  27: 'Path',
  28: 'file',
  30: 'recursive reference',
};

const TYPE_ORIGIN_HOST = 3;

// ---------------------------------------------------------------------------------------- values

export function encodeValue(value: MontyValue, depth = 0): WireWriter {
  if (depth > MAX_VALUE_DEPTH) throw new WireError(`a value nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const writer = new WireWriter();
  switch (value.kind) {
    case 'none':
      return writer.message(OBJECT_FIELDS.none, new WireWriter());
    case 'ellipsis':
      return writer.message(OBJECT_FIELDS.ellipsis, new WireWriter());
    case 'bool':
      return writer.bool(OBJECT_FIELDS.bool, value.value);
    case 'int': {
      if (BigInt.asIntN(64, value.value) === value.value) return writer.sint(OBJECT_FIELDS.int, value.value);
      const negative = value.value < 0n;
      const hex = (negative ? -value.value : value.value).toString(16);
      const magnitude = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
      return writer.message(OBJECT_FIELDS.bigint, new WireWriter().bool(1, negative).bytes(2, magnitude));
    }
    case 'float':
      return writer.double(OBJECT_FIELDS.float, value.value);
    case 'str':
      return writer.string(OBJECT_FIELDS.str, value.value);
    case 'bytes':
      return writer.bytes(OBJECT_FIELDS.bytes, value.value);
    case 'list':
    case 'tuple':
    case 'set':
    case 'frozenset': {
      const list = new WireWriter();
      for (const item of value.items) list.message(1, encodeValue(item, depth + 1));
      return writer.message(OBJECT_FIELDS[value.kind], list);
    }
    case 'dict':
      return writer.message(OBJECT_FIELDS.dict, encodePairs(value.pairs, depth));
    case 'named_tuple': {
      const tuple = new WireWriter().string(1, value.typeName);
      for (const name of value.fields) tuple.string(2, name);
      for (const item of value.values) tuple.message(3, encodeValue(item, depth + 1));
      return writer.message(OBJECT_FIELDS.namedTuple, tuple);
    }
    case 'function': {
      const fn = new WireWriter().string(1, value.name);
      if (value.docstring !== undefined) fn.string(2, value.docstring);
      return writer.message(OBJECT_FIELDS.function, fn);
    }
    case 'instance': {
      const type = new WireWriter()
        .string(1, value.className)
        .message(2, new WireWriter().bytes(1, value.classId))
        .uint(3, TYPE_ORIGIN_HOST);
      const attrs = encodePairs(
        value.attrs.map(([name, item]) => [{ kind: 'str', value: name }, item]),
        depth,
      );
      const instance = new WireWriter()
        .message(1, type)
        .message(2, new WireWriter().bytes(1, value.instanceId))
        .message(3, attrs);
      return writer.message(OBJECT_FIELDS.classInstance, instance);
    }
    case 'repr':
      return writer.string(OBJECT_FIELDS.repr, value.value);
    case 'opaque':
      return writer.bytes(value.field, value.bytes);
  }
}

function encodePairs(pairs: Array<[MontyValue, MontyValue]>, depth: number): WireWriter {
  const dict = new WireWriter();
  for (const [key, item] of pairs) {
    dict.message(
      1,
      new WireWriter().message(1, encodeValue(key, depth + 1)).message(2, encodeValue(item, depth + 1)),
    );
  }
  return dict;
}

/** Counts the values decoded for one event, so a worker cannot make the host build an unbounded tree. */
class Budget {
  #left: number;
  constructor(values: number) {
    this.#left = values;
  }
  spend(): void {
    if (--this.#left < 0) throw new WireError(`more than ${MAX_EVENT_VALUES} values in one message`);
  }
}

export function decodeValue(bytes: Buffer, budget = new Budget(MAX_EVENT_VALUES), depth = 0): MontyValue {
  if (depth > MAX_VALUE_DEPTH) throw new WireError(`a value nested deeper than ${MAX_VALUE_DEPTH} levels`);
  budget.spend();
  let decoded: MontyValue | undefined;
  for (const field of readFields(bytes)) decoded = decodeKind(field, budget, depth);
  if (!decoded) throw new WireError('a value with no kind');
  return decoded;
}

function decodeKind(field: WireField, budget: Budget, depth: number): MontyValue {
  switch (field.field) {
    case OBJECT_FIELDS.none:
      return { kind: 'none' };
    case OBJECT_FIELDS.ellipsis:
      return { kind: 'ellipsis' };
    case OBJECT_FIELDS.bool:
      return { kind: 'bool', value: asVarint(field) !== 0n };
    case OBJECT_FIELDS.int:
      return { kind: 'int', value: zigzag(asVarint(field)) };
    case OBJECT_FIELDS.bigint: {
      let negative = false;
      let magnitude = 0n;
      for (const part of readFields(asBytes(field))) {
        if (part.field === 1) negative = asVarint(part) !== 0n;
        else if (part.field === 2) {
          const hex = asBytes(part).toString('hex');
          magnitude = hex ? BigInt(`0x${hex}`) : 0n;
        }
      }
      return { kind: 'int', value: negative ? -magnitude : magnitude };
    }
    case OBJECT_FIELDS.float:
      return { kind: 'float', value: asDouble(field) };
    case OBJECT_FIELDS.str:
      return { kind: 'str', value: asString(field) };
    case OBJECT_FIELDS.bytes:
      return { kind: 'bytes', value: Buffer.from(asBytes(field)) };
    case OBJECT_FIELDS.list:
    case OBJECT_FIELDS.tuple:
    case OBJECT_FIELDS.set:
    case OBJECT_FIELDS.frozenset: {
      const items: MontyValue[] = [];
      for (const item of readFields(asBytes(field))) {
        if (item.field === 1) items.push(decodeValue(asBytes(item), budget, depth + 1));
      }
      const kind =
        field.field === OBJECT_FIELDS.list
          ? 'list'
          : field.field === OBJECT_FIELDS.tuple
            ? 'tuple'
            : field.field === OBJECT_FIELDS.set
              ? 'set'
              : 'frozenset';
      return { kind, items };
    }
    case OBJECT_FIELDS.dict:
      return { kind: 'dict', pairs: decodePairs(asBytes(field), budget, depth) };
    case OBJECT_FIELDS.namedTuple: {
      let typeName = '';
      const fields: string[] = [];
      const values: MontyValue[] = [];
      for (const part of readFields(asBytes(field))) {
        if (part.field === 1) typeName = asString(part);
        else if (part.field === 2) fields.push(asString(part));
        else if (part.field === 3) values.push(decodeValue(asBytes(part), budget, depth + 1));
      }
      return { kind: 'named_tuple', typeName, fields, values };
    }
    case OBJECT_FIELDS.function: {
      let name = '';
      let docstring: string | undefined;
      for (const part of readFields(asBytes(field))) {
        if (part.field === 1) name = asString(part);
        else if (part.field === 2) docstring = asString(part);
      }
      return { kind: 'function', name, ...(docstring !== undefined ? { docstring } : {}) };
    }
    case OBJECT_FIELDS.repr:
      return { kind: 'repr', value: asString(field) };
    case OBJECT_FIELDS.classInstance:
      return decodeInstance(asBytes(field), budget, depth);
    default:
      return {
        kind: 'opaque',
        field: field.field,
        bytes: Buffer.from(asBytes(field)),
        typeName: OPAQUE_TYPE_NAMES[field.field] ?? 'object',
      };
  }
}

function decodeInstance(bytes: Buffer, budget: Budget, depth: number): MontyValue {
  let className = 'object';
  let classId: Buffer = Buffer.alloc(0);
  let instanceId: Buffer = Buffer.alloc(0);
  const attrs: Array<[string, MontyValue]> = [];
  for (const part of readFields(bytes)) {
    if (part.field === 1) {
      for (const typeField of readFields(asBytes(part))) {
        if (typeField.field === 1) className = asString(typeField);
        else if (typeField.field === 2) classId = uuidOf(asBytes(typeField));
      }
    } else if (part.field === 2) instanceId = uuidOf(asBytes(part));
    else if (part.field === 3) {
      for (const [key, value] of decodePairs(asBytes(part), budget, depth)) {
        if (key.kind === 'str') attrs.push([key.value, value]);
      }
    }
  }
  return { kind: 'instance', className, classId, instanceId, attrs };
}

function uuidOf(bytes: Buffer): Buffer {
  for (const field of readFields(bytes)) if (field.field === 1) return Buffer.from(asBytes(field));
  return Buffer.alloc(0);
}

function decodePairs(bytes: Buffer, budget: Budget, depth: number): Array<[MontyValue, MontyValue]> {
  const pairs: Array<[MontyValue, MontyValue]> = [];
  for (const entry of readFields(bytes)) {
    if (entry.field !== 1) continue;
    let key: MontyValue = { kind: 'none' };
    let value: MontyValue = { kind: 'none' };
    for (const part of readFields(asBytes(entry))) {
      if (part.field === 1) key = decodeValue(asBytes(part), budget, depth + 1);
      else if (part.field === 2) value = decodeValue(asBytes(part), budget, depth + 1);
    }
    pairs.push([key, value]);
  }
  return pairs;
}

/** The protobuf message nesting `encodeValue` produces for `value` (iterative: values can be deep). */
export function wireDepth(root: MontyValue): number {
  let deepest = 0;
  const stack: Array<[MontyValue, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [MontyValue, number];
    deepest = Math.max(deepest, depth);
    switch (value.kind) {
      case 'list':
      case 'tuple':
      case 'set':
      case 'frozenset':
        for (const item of value.items) stack.push([item, depth + 2]);
        break;
      case 'named_tuple':
        for (const item of value.values) stack.push([item, depth + 2]);
        break;
      case 'dict':
        for (const [key, item] of value.pairs) stack.push([key, depth + 3], [item, depth + 3]);
        break;
      case 'instance':
        for (const [, item] of value.attrs) stack.push([item, depth + 4]);
        break;
      default:
        break;
    }
  }
  return deepest;
}

// -------------------------------------------------------------------------------------- requests

export interface ResourceLimits {
  maxDurationMicros?: number;
  maxMemoryBytes?: number;
  maxRecursionDepth?: number;
  /** Host calls one feed may make (the worker echoes it; the host enforces it). */
  maxSuspensions?: number;
}

/** A raised exception as the host sends it into the sandbox, or as the sandbox reports one. */
export interface RaisedException {
  type: string;
  message?: string;
  traceback?: StackFrame[];
}

export interface StackFrame {
  filename: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  name?: string;
  preview?: string;
}

/** How the host answers a call the sandbox made. */
export type CallResult =
  | { value: MontyValue }
  | { error: RaisedException }
  /** The answer comes later, through `ResumeFutures`: the program may go on meanwhile. */
  | { future: number }
  | { notFound: string }
  /** Only for an OS call: the worker raises that call's own default (PermissionError, RuntimeError). */
  | { notHandled: true };

export type ParentRequest =
  | {
      kind: 'configure';
      scriptName: string;
      limits: ResourceLimits;
      /** How long the worker may hold print() output before sending it, ms (0: every line at once). */
      printFlushIntervalMs?: number;
    }
  | {
      kind: 'feed';
      code: string;
      inputs?: Array<[string, MontyValue]>;
      /** Inputs encoded once by `encodeInputs` and reused across runs (instead of `inputs`). */
      encodedInputs?: Buffer;
    }
  | { kind: 'resume_call'; callId: number; result: CallResult }
  | { kind: 'resume_name_lookup'; value: MontyValue | undefined }
  | { kind: 'resume_futures'; results: Array<[number, CallResult]> }
  | { kind: 'reset' }
  | { kind: 'shutdown' };

export function encodeRequest(request: ParentRequest): Buffer[] {
  const writer = new WireWriter();
  switch (request.kind) {
    case 'configure': {
      const limits = new WireWriter();
      const { maxDurationMicros, maxMemoryBytes, maxRecursionDepth, maxSuspensions } = request.limits;
      if (maxDurationMicros !== undefined) limits.uint(1, Math.ceil(maxDurationMicros));
      if (maxMemoryBytes !== undefined) limits.uint(2, Math.floor(maxMemoryBytes));
      if (maxRecursionDepth !== undefined) limits.uint(4, maxRecursionDepth);
      if (maxSuspensions !== undefined) limits.uint(5, maxSuspensions);
      const configure = new WireWriter()
        .string(1, request.scriptName)
        .message(2, limits)
        .uint(9, PROTOCOL_VERSION);
      if (request.printFlushIntervalMs !== undefined) configure.uint(10, request.printFlushIntervalMs);
      writer.message(1, configure);
      break;
    }
    case 'feed': {
      const feed = new WireWriter().string(1, request.code);
      feed.raw(request.encodedInputs ?? encodeInputs(request.inputs ?? []));
      writer.message(3, feed);
      break;
    }
    case 'resume_call':
      writer.message(
        4,
        new WireWriter().uint(1, request.callId).message(2, encodeCallResult(request.result)),
      );
      break;
    case 'resume_name_lookup':
      writer.message(
        5,
        request.value === undefined
          ? new WireWriter().message(2, new WireWriter())
          : new WireWriter().message(1, encodeValue(request.value)),
      );
      break;
    case 'resume_futures': {
      const resume = new WireWriter();
      for (const [callId, result] of request.results) {
        resume.message(1, new WireWriter().uint(1, callId).message(2, encodeCallResult(result)));
      }
      writer.message(6, resume);
      break;
    }
    case 'reset':
      writer.message(9, new WireWriter());
      break;
    case 'shutdown':
      writer.message(10, new WireWriter());
      break;
  }
  return writer.finish();
}

/** A feed's named inputs as the fields of its message, to be encoded once and sent with many feeds. */
export function encodeInputs(inputs: Array<[string, MontyValue]>): Buffer {
  const fields = new WireWriter();
  for (const [name, value] of inputs) {
    fields.message(2, new WireWriter().string(1, name).message(2, encodeValue(value)));
  }
  return Buffer.concat(fields.finish());
}

/** Requests as the worker reads them: each a 4-byte little-endian length and the message, in one buffer. */
export function frameRequests(requests: ParentRequest[]): Buffer {
  const parts: Buffer[] = [];
  for (const request of requests) {
    const chunks = encodeRequest(request);
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32LE(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    parts.push(header, ...chunks);
  }
  return Buffer.concat(parts);
}

function encodeCallResult(result: CallResult): WireWriter {
  const writer = new WireWriter();
  if ('value' in result) return writer.message(1, encodeValue(result.value));
  if ('error' in result) return writer.message(2, encodeException(result.error));
  if ('future' in result) return writer.uint(3, result.future);
  if ('notFound' in result) return writer.string(4, result.notFound);
  return writer.message(5, new WireWriter());
}

function encodeException(exception: RaisedException): WireWriter {
  const writer = new WireWriter().string(1, exception.type);
  if (exception.message !== undefined) writer.string(2, exception.message);
  return writer;
}

// ---------------------------------------------------------------------------------------- events

export type PrintStream = 'stdout' | 'stderr';

export type ChildEvent = (
  | { kind: 'print'; segments: Array<{ stream: PrintStream; text: string }> }
  | {
      kind: 'function_call';
      name: string;
      callId: number;
      /** The receiver of a method call on a host-backed object. */
      objectId?: Buffer;
      /** The arguments, or why they could not be read (too many values, too deep). */
      args: MontyValue[] | WireError;
      kwargs: Array<[MontyValue, MontyValue]>;
    }
  | {
      kind: 'os_call';
      callId: number;
      operation: string;
      /** `os.getenv`'s default. */
      payload?: MontyValue;
      /** `datetime.now(tz)`: the timezone's UTC offset; absent for a naive result. */
      offsetSeconds?: number;
    }
  | { kind: 'name_lookup'; name: string; objectId?: Buffer }
  | { kind: 'resolve_futures'; pending: number[] }
  | { kind: 'complete'; value: MontyValue }
  | { kind: 'error'; exception: RaisedException }
  | { kind: 'typing_error'; diagnostics: string }
  | { kind: 'ok' }
  | { kind: 'fatal'; message: string }
  | { kind: 'unknown'; field: number }
) & {
  /** Execution time of the session so far (turn-ending events), microseconds. */
  executionMicros?: number;
};

/** The OS call arms, by field number, for messages and for answering them. */
const OS_CALLS: Record<number, string> = {
  2: 'Path.exists',
  3: 'Path.is_file',
  4: 'Path.is_dir',
  5: 'Path.is_symlink',
  6: 'Path.read_text',
  7: 'Path.read_bytes',
  8: 'Path.stat',
  9: 'Path.iterdir',
  10: 'Path.resolve',
  11: 'Path.absolute',
  12: 'Path.unlink',
  13: 'Path.rmdir',
  14: 'Path.write_text',
  15: 'Path.append_text',
  16: 'Path.write_bytes',
  17: 'Path.append_bytes',
  18: 'open',
  19: 'Path.mkdir',
  20: 'Path.rename',
  21: 'os.getenv',
  22: 'os.environ',
  23: 'date.today',
  24: 'datetime.now',
  25: 'os.uname',
  27: 'os.cpu_count',
  28: 'os.getpid',
  29: 'os.system',
};

/** Decodes one event frame; throws `WireError` when it is not one. */
export function decodeEvent(bytes: Buffer): ChildEvent {
  let event: ChildEvent | undefined;
  let executionMicros: number | undefined;
  for (const field of readFields(bytes)) {
    if (field.field === 20) executionMicros = Number(asVarint(field));
    else if (field.field < 20) event = decodeEventKind(field);
  }
  if (!event) throw new WireError('an event with no kind');
  return executionMicros === undefined ? event : { ...event, executionMicros };
}

function decodeEventKind(field: WireField): ChildEvent {
  const body = field.type === 'bytes' ? field.value : Buffer.alloc(0);
  switch (field.field) {
    case 1: {
      const segments: Array<{ stream: PrintStream; text: string }> = [];
      // Monty 0.0.23 sends one run per event (stream = 1, text = 2); later versions batch segments (3).
      let single: { stream: PrintStream; text: string } | undefined;
      for (const part of readFields(body)) {
        if (part.field === 1) {
          single ??= { stream: 'stdout', text: '' };
          single.stream = asVarint(part) === 2n ? 'stderr' : 'stdout';
          continue;
        }
        if (part.field === 2) {
          single ??= { stream: 'stdout', text: '' };
          single.text = asString(part);
          continue;
        }
        if (part.field !== 3) continue;
        let stream: PrintStream = 'stdout';
        let text = '';
        for (const item of readFields(asBytes(part))) {
          if (item.field === 1) stream = asVarint(item) === 2n ? 'stderr' : 'stdout';
          else if (item.field === 2) text = asString(item);
        }
        segments.push({ stream, text });
      }
      if (single) segments.unshift(single);
      return { kind: 'print', segments };
    }
    case 2:
      return decodeFunctionCall(body);
    case 3: {
      let callId = 0;
      let operation = 'unknown';
      let payload: MontyValue | undefined;
      let offsetSeconds: number | undefined;
      for (const part of readFields(body)) {
        if (part.field === 1) callId = Number(asVarint(part));
        else {
          operation = OS_CALLS[part.field] ?? `os call ${part.field}`;
          if (part.field === 21) payload = getenvKey(asBytes(part));
          if (part.field === 24) offsetSeconds = timezoneOffset(asBytes(part));
        }
      }
      return {
        kind: 'os_call',
        callId,
        operation,
        ...(payload ? { payload } : {}),
        ...(offsetSeconds !== undefined ? { offsetSeconds } : {}),
      };
    }
    case 4: {
      let name = '';
      let objectId: Buffer | undefined;
      for (const part of readFields(body)) {
        if (part.field === 1) name = asString(part);
        else if (part.field === 2) objectId = uuidOf(asBytes(part));
      }
      return { kind: 'name_lookup', name, ...(objectId ? { objectId } : {}) };
    }
    case 5: {
      const pending: number[] = [];
      for (const part of readFields(body)) if (part.field === 1) pending.push(...packedUints(part));
      return { kind: 'resolve_futures', pending };
    }
    case 6: {
      let value: MontyValue = { kind: 'none' };
      for (const part of readFields(body)) if (part.field === 1) value = decodeValue(asBytes(part));
      return { kind: 'complete', value };
    }
    case 7: {
      for (const part of readFields(body)) {
        if (part.field === 1) return { kind: 'error', exception: decodeException(asBytes(part)) };
      }
      return { kind: 'error', exception: { type: 'RuntimeError', message: 'the worker reported an error' } };
    }
    case 8: {
      let diagnostics = '';
      for (const part of readFields(body)) if (part.field === 1) diagnostics = asString(part);
      return { kind: 'typing_error', diagnostics };
    }
    case 10:
      return { kind: 'ok' };
    case 11: {
      let message = '';
      for (const part of readFields(body)) if (part.field === 1) message = asString(part);
      return { kind: 'fatal', message };
    }
    default:
      return { kind: 'unknown', field: field.field };
  }
}

/** `DateTimeNow{tz: TimeZone{offset_seconds}}`: the offset, when a timezone was given. */
function timezoneOffset(bytes: Buffer): number | undefined {
  for (const part of readFields(bytes)) {
    if (part.field !== 1) continue;
    for (const zone of readFields(asBytes(part))) {
      if (zone.field === 1) return Number(BigInt.asIntN(32, asVarint(zone)));
    }
    return 0;
  }
  return undefined;
}

/** `os.getenv(key, default)`: the default, which is what an empty environment returns. */
function getenvKey(bytes: Buffer): MontyValue {
  for (const part of readFields(bytes)) if (part.field === 2) return decodeValue(asBytes(part));
  return { kind: 'none' };
}

function decodeFunctionCall(body: Buffer): ChildEvent {
  let name = '';
  let callId = 0;
  let objectId: Buffer | undefined;
  const argFields: Buffer[] = [];
  const kwargFields: Buffer[] = [];
  for (const part of readFields(body)) {
    if (part.field === 1) name = asString(part);
    else if (part.field === 2) argFields.push(asBytes(part));
    else if (part.field === 3) kwargFields.push(asBytes(part));
    else if (part.field === 4) callId = Number(asVarint(part));
    else if (part.field === 5) objectId = uuidOf(asBytes(part));
  }
  // The call's identity is read first: arguments too large to decode fail that call, not the run.
  const budget = new Budget(MAX_EVENT_VALUES);
  let args: MontyValue[] | WireError;
  let kwargs: Array<[MontyValue, MontyValue]> = [];
  try {
    args = argFields.map((bytes) => decodeValue(bytes, budget, 1));
    kwargs = kwargFields.map((bytes) => {
      let key: MontyValue = { kind: 'none' };
      let value: MontyValue = { kind: 'none' };
      for (const part of readFields(bytes)) {
        if (part.field === 1) key = decodeValue(asBytes(part), budget, 1);
        else if (part.field === 2) value = decodeValue(asBytes(part), budget, 1);
      }
      return [key, value];
    });
  } catch (error) {
    if (!(error instanceof WireError)) throw error;
    args = error;
  }
  return { kind: 'function_call', name, callId, ...(objectId ? { objectId } : {}), args, kwargs };
}

function decodeException(bytes: Buffer): RaisedException {
  let type = 'Exception';
  let message: string | undefined;
  const traceback: StackFrame[] = [];
  for (const part of readFields(bytes)) {
    if (part.field === 1) type = asString(part);
    else if (part.field === 2) message = asString(part);
    else if (part.field === 3) traceback.push(decodeFrame(asBytes(part)));
  }
  return { type, ...(message !== undefined ? { message } : {}), traceback };
}

function decodeFrame(bytes: Buffer): StackFrame {
  const frame: StackFrame = { filename: '', line: 0, column: 0, endLine: 0, endColumn: 0 };
  const location = (loc: Buffer): [number, number] => {
    let line = 0;
    let column = 0;
    for (const part of readFields(loc)) {
      if (part.field === 1) line = Number(asVarint(part));
      else if (part.field === 2) column = Number(asVarint(part));
    }
    return [line, column];
  };
  for (const part of readFields(bytes)) {
    if (part.field === 1) frame.filename = asString(part);
    else if (part.field === 2) [frame.line, frame.column] = location(asBytes(part));
    else if (part.field === 3) [frame.endLine, frame.endColumn] = location(asBytes(part));
    else if (part.field === 4) frame.name = asString(part);
    else if (part.field === 5) frame.preview = asString(part);
  }
  return frame;
}
