// codemode-bridge TypeScript sandbox: one program (or one session's programs) in a permissionless Deno
// (docs/typescript.md, "Why this sandbox").
//
// Plain JavaScript on purpose: Deno needs no type-check or transpile cache for it.
// The host (src/sandbox/typescript/) starts it as:
//   deno run --no-prompt --no-config --no-lock --no-npm --no-remote --v8-flags=--max-old-space-size=N \
//     sandbox.js [--owner=<pid>]
//   No --allow-* flag: no file, network, environment, subprocess, FFI or system access. stdout:
//   newline-delimited JSON frames (ready, out, rpc, call, done); stdin: run, rpc_result
//   (docs/architecture.md, "The frame protocol"). One program per process unless its `run` says `keep`.
//
// The program is TypeScript, imported as a module from a blob URL (Deno strips the types and maps
// stack traces back to the source), so top-level `await` works and its line numbers are the user's.
// It sees `mcp` (each granted server's tools, `mcp.runtime`, the error classes), `ToolError`,
// `PolicyError`, and a `console` whose output becomes `out` frames.
//
// User code runs in this same isolate and can replace any global or prototype. The host trusts no
// frame (it checks every one), so that can only break the program's own run; still, the runtime's own
// work uses functions taken before any user code exists (primordials), so a program that pollutes
// `Object.prototype`, `Array.prototype`, `JSON`, `Promise.prototype.then`, `String.prototype` or
// `Map.prototype` still gets its tool calls, output and outcome delivered as written.

// ---------------------------------------------------------------- primordials
const uncurry = Function.prototype.bind.bind(Function.prototype.call);
const ObjectCreate = Object.create;
const ObjectFreeze = Object.freeze;
const ObjectHasOwn = Object.hasOwn;
const ObjectDefineProperty = Object.defineProperty;
const ObjectGetOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const ObjectGetPrototypeOf = Object.getPrototypeOf;
const ObjectKeys = Object.keys;
const ArrayIsArray = Array.isArray;
const ArrayPrototypePush = uncurry(Array.prototype.push);
const ArrayPrototypeJoin = uncurry(Array.prototype.join);
const ArrayPrototypeShift = uncurry(Array.prototype.shift);
const JSONParse = JSON.parse;
const JSONStringify = JSON.stringify;
const StringCtor = String;
const MathCeil = Math.ceil;
const MathMin = Math.min;
const MathMax = Math.max;
const TypedArraySet = uncurry(ObjectGetPrototypeOf(Uint8Array.prototype).set);
const StringPrototypeCharCodeAt = uncurry(String.prototype.charCodeAt);
const StringPrototypeIndexOf = uncurry(String.prototype.indexOf);
const StringPrototypeLastIndexOf = uncurry(String.prototype.lastIndexOf);
const StringPrototypeSlice = uncurry(String.prototype.slice);
const StringPrototypeTrim = uncurry(String.prototype.trim);
const StringPrototypeStartsWith = uncurry(String.prototype.startsWith);
const StringPrototypeEndsWith = uncurry(String.prototype.endsWith);
const MapCtor = Map;
const MapPrototypeGet = uncurry(Map.prototype.get);
const MapPrototypeSet = uncurry(Map.prototype.set);
const MapPrototypeDelete = uncurry(Map.prototype.delete);
const MapPrototypeForEach = uncurry(Map.prototype.forEach);
const PromiseCtor = Promise;
const PromisePrototypeThen = uncurry(Promise.prototype.then);
const PromiseResolve = Promise.resolve.bind(Promise);
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const ErrorCaptureStackTrace = Error.captureStackTrace;
const ReflectApply = Reflect.apply;
const TypedArrayLength = uncurry(
  ObjectGetOwnPropertyDescriptor(ObjectGetPrototypeOf(Uint8Array.prototype), 'length').get,
);
const TypedArraySubarray = uncurry(ObjectGetPrototypeOf(Uint8Array.prototype).subarray);
const Uint8ArrayCtor = Uint8Array;
const encoder = new TextEncoder();
const TextEncoderEncode = uncurry(TextEncoder.prototype.encode);
const TextDecoderCtor = TextDecoder;
const TextDecoderDecode = uncurry(TextDecoder.prototype.decode);
const queueMicrotaskOnce = globalThis.queueMicrotask;
const BlobCtor = Blob;
const createObjectURL = URL.createObjectURL;
const revokeObjectURL = URL.revokeObjectURL;
const inspect = Deno.inspect;
const stdout = Deno.stdout;
const stderr = Deno.stderr;
const stdin = Deno.stdin;
const stdoutWriteSync = uncurry(ObjectGetPrototypeOf(stdout).writeSync ?? stdout.writeSync);
const stderrWriteSync = uncurry(ObjectGetPrototypeOf(stderr).writeSync ?? stderr.writeSync);
const stdinRead = uncurry(ObjectGetPrototypeOf(stdin).read ?? stdin.read);
const exitProcess = Deno.exit;
const addGlobalListener = globalThis.addEventListener.bind(globalThis);

const EXIT_USAGE = 2;
const EXIT_CRASHED = 1;
/** Output is sent in slices, so one huge `console.log` never becomes one huge frame. */
const OUT_CHUNK_CHARS = 64 * 1024;
/** Bounds of an error and a traceback in `done` (the host takes at most 64 KiB of each). */
const ERROR_CHARS = 16000;
const TRACEBACK_CHARS = 32000;
/** Keys of `mcp` the runtime holds; the host never grants a server with one as its alias. */
const OWN_KEYS = ['runtime', 'ToolError', 'PolicyError'];
/** What a program's module is called in tracebacks (instead of its blob URL). */
const PROGRAM_NAME = 'program.ts';
const RUNTIME_URL = import.meta.url;

// ---------------------------------------------------------------- small helpers on primordials
function replaceAllPlain(text, from, to) {
  if (!from) return text;
  let out = '';
  let start = 0;
  for (let at = StringPrototypeIndexOf(text, from); at >= 0; at = StringPrototypeIndexOf(text, from, start)) {
    out += StringPrototypeSlice(text, start, at) + to;
    start = at + from.length;
  }
  return out + StringPrototypeSlice(text, start);
}

/** Head and tail of `text` within `max` characters, the middle counted. */
function bounded(text, max) {
  if (text.length <= max) return text;
  const half = (max - 40) >> 1;
  return `${StringPrototypeSlice(text, 0, half)}\n… ${text.length - 2 * half} characters …\n${StringPrototypeSlice(text, text.length - half)}`;
}

// ---------------------------------------------------------------- a program that is one expression
/** Lines the runtime put before the program's own in its module (the expression wrapper's one). */
let programLineShift = 0;
/** The global the expression wrapper calls first: once it has, an error is the program's, not the parse's. */
const STARTED_HOOK = '__codemode_expression_started';

const isSpace = (code) => code === 32 || code === 9 || code === 10 || code === 13 || code === 0xfeff;
/**
 * The program's text as one expression when it may be one: it starts (after blanks and comments)
 * with `(` or `async` (Cloudflare's `async () => { … }`, an IIFE). Trailing blanks and `;` go, so
 * `async () => { … };` is one too. Whether it really is one is the parser's answer (runProgram).
 */
function expressionCandidate(code) {
  let at = 0;
  for (;;) {
    while (at < code.length && isSpace(StringPrototypeCharCodeAt(code, at))) at++;
    if (StringPrototypeStartsWith(code, '//', at)) {
      const end = StringPrototypeIndexOf(code, '\n', at);
      if (end < 0) return undefined;
      at = end + 1;
    } else if (StringPrototypeStartsWith(code, '/*', at)) {
      const end = StringPrototypeIndexOf(code, '*/', at + 2);
      if (end < 0) return undefined;
      at = end + 2;
    } else break;
  }
  const next = StringPrototypeCharCodeAt(code, at + 5);
  const asyncStart = StringPrototypeStartsWith(code, 'async', at) && (isSpace(next) || next === 40) /* ( */;
  if (!asyncStart && StringPrototypeCharCodeAt(code, at) !== 40) return undefined;
  let end = code.length;
  for (;;) {
    const last = StringPrototypeCharCodeAt(code, end - 1);
    if (isSpace(last) || last === 59 /* ; */) end--;
    else break;
  }
  return StringPrototypeSlice(code, 0, end);
}

/** `program.ts:L` → `program.ts:L-shift` in a message or stack of a wrapped program. */
function unshiftLines(text) {
  if (programLineShift === 0) return text;
  const marker = `${PROGRAM_NAME}:`;
  let out = '';
  let from = 0;
  for (;;) {
    const found = StringPrototypeIndexOf(text, marker, from);
    if (found < 0) break;
    let digitsEnd = found + marker.length;
    let line = 0;
    for (;;) {
      const code = StringPrototypeCharCodeAt(text, digitsEnd);
      if (!(code >= 48 && code <= 57)) break;
      line = line * 10 + (code - 48);
      digitsEnd++;
    }
    out += StringPrototypeSlice(text, from, found + marker.length);
    out += digitsEnd > found + marker.length ? StringCtor(MathMax(1, line - programLineShift)) : '';
    from = digitsEnd;
  }
  return out + StringPrototypeSlice(text, from);
}

// ---------------------------------------------------------------- frames out (stdout)
function writeAll(write, stream, bytes) {
  let view = bytes;
  while (TypedArrayLength(view) > 0) view = TypedArraySubarray(view, write(stream, view));
}
/** Requests of one step (a `Promise.all` of calls) leave in one write; anything else flushes them first. */
const outbox = [];
let flushQueued = false;
function flushOutbox() {
  flushQueued = false;
  if (outbox.length === 0) return;
  const text = `${ArrayPrototypeJoin(outbox, '\n')}\n`;
  outbox.length = 0;
  writeAll(stdoutWriteSync, stdout, TextEncoderEncode(encoder, text));
}
function sendLine(line) {
  flushOutbox();
  writeAll(stdoutWriteSync, stdout, TextEncoderEncode(encoder, `${line}\n`));
}
function sendSoon(line) {
  ArrayPrototypePush(outbox, line);
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotaskOnce(flushOutbox);
  }
}
function writeStderr(line) {
  try {
    writeAll(stderrWriteSync, stderr, TextEncoderEncode(encoder, `${line}\n`));
  } catch {
    // nothing left to tell
  }
}
let exitingOnPurpose = false;
function exitSandbox(code) {
  exitingOnPurpose = true;
  try {
    flushOutbox();
  } finally {
    exitProcess(code);
  }
}
function fatal(code, message) {
  writeStderr(`codemode-typescript: ${message}`);
  exitSandbox(code);
}

/** True while the warm-up program runs: its output is built like any other and then dropped. */
let warmingUp = false;
function emitOut(stream, text) {
  for (let start = 0; start < text.length; start += OUT_CHUNK_CHARS) {
    const data = StringPrototypeSlice(text, start, start + OUT_CHUNK_CHARS);
    const line = `{"type":"out","stream":"${stream}","data":${JSONStringify(data)}}`;
    if (warmingUp) TextEncoderEncode(encoder, line);
    else sendLine(line);
  }
}

// ---------------------------------------------------------------- frames in (stdin)
const lines = [];
const lineWaiters = [];
let stdinClosed = false;
let running = false;
/** A reply settles its call; any other frame (a session's next `run`) waits for the loop to take it. */
function pushLine(line) {
  let frame;
  try {
    frame = JSONParse(line);
  } catch {
    // The host bounds and checks what it sends: a line that is not JSON is the host's bug, and the
    // calls waiting now fail with the reason rather than at the run's timeout.
    failPending(new ToolError('the sandbox could not decode a reply from the host'));
    return;
  }
  if (frame !== null && typeof frame === 'object' && frame.type === 'rpc_result') deliverReply(frame);
  else if (lineWaiters.length > 0) ArrayPrototypeShift(lineWaiters)(frame);
  else ArrayPrototypePush(lines, frame);
}
function nextLine() {
  if (lines.length > 0) return PromiseResolve(ArrayPrototypeShift(lines));
  if (stdinClosed) return PromiseResolve(null);
  return new PromiseCtor((resolve) => ArrayPrototypePush(lineWaiters, resolve));
}
function readStdin() {
  const decoder = new TextDecoderCtor();
  const buffer = new Uint8ArrayCtor(64 * 1024);
  // Pieces of the line not yet ended: each chunk is searched once and a line joined once, so a
  // large reply in many chunks costs linear time.
  const pieces = [];
  const onRead = (count) => {
    if (count === null) {
      stdinClosed = true;
      // The host is gone (or ended this run): nobody reads our output any more.
      if (running) exitSandbox(0);
      while (lineWaiters.length > 0) ArrayPrototypeShift(lineWaiters)(null);
      return;
    }
    const text = TextDecoderDecode(decoder, TypedArraySubarray(buffer, 0, count), { stream: true });
    let start = 0;
    for (
      let nl = StringPrototypeIndexOf(text, '\n');
      nl >= 0;
      nl = StringPrototypeIndexOf(text, '\n', start)
    ) {
      ArrayPrototypePush(pieces, StringPrototypeSlice(text, start, nl));
      start = nl + 1;
      const line = ArrayPrototypeJoin(pieces, '');
      pieces.length = 0;
      if (StringPrototypeTrim(line)) pushLine(line);
    }
    if (start < text.length) ArrayPrototypePush(pieces, StringPrototypeSlice(text, start));
    PromisePrototypeThen(stdinRead(stdin, buffer), onRead, onReadError);
  };
  const onReadError = (error) =>
    fatal(EXIT_CRASHED, `reading the host channel failed: ${describeError(error)}`);
  PromisePrototypeThen(stdinRead(stdin, buffer), onRead, onReadError);
}

// ---------------------------------------------------------------- errors
/**
 * Own data properties, defined rather than assigned: an assignment would run a setter (or throw, for a
 * getter without one) that a program put on Object.prototype.
 */
function defineFields(target, fields) {
  const keys = ObjectKeys(fields);
  for (let i = 0; i < keys.length; i++) {
    ObjectDefineProperty(target, keys[i], {
      value: fields[keys[i]],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return target;
}

class ToolError extends ErrorCtor {
  constructor(message, options) {
    super(StringCtor(message));
    const code = options?.code;
    const server = options?.server;
    const tool = options?.tool;
    ObjectDefineProperty(this, 'name', { value: 'ToolError', writable: true, configurable: true });
    defineFields(this, { code: code ?? null, server: server ?? null, tool: tool ?? null });
  }
}
class PolicyError extends ToolError {
  constructor(message, options) {
    super(message, options);
    ObjectDefineProperty(this, 'name', { value: 'PolicyError', writable: true, configurable: true });
    const text = StringCtor(message);
    const marker = ' [rule: ';
    const at = StringPrototypeLastIndexOf(text, marker);
    const rule =
      StringPrototypeEndsWith(text, ']') && at >= 0
        ? StringPrototypeSlice(text, at + marker.length, -1)
        : null;
    defineFields(this, { rule });
  }
}
function errorFor(message, code, server, tool) {
  const options = { code: typeof code === 'string' ? code : null, server, tool };
  if (typeof code === 'string' && StringPrototypeStartsWith(code, 'POLICY_'))
    return new PolicyError(message, options);
  return new ToolError(message, options);
}

function describeError(error) {
  try {
    if (error instanceof ErrorCtor) return `${StringCtor(error.name)}: ${StringCtor(error.message)}`;
    return `Uncaught ${inspect(error, { colors: false, depth: 2 })}`;
  } catch {
    return 'Uncaught error (it could not be described)';
  }
}
/** The program's stack: its module called program.ts, the runtime's own frames left out. */
function programTraceback(error, programUrl) {
  let stack;
  try {
    stack = error instanceof ErrorCtor ? StringCtor(error.stack ?? '') : '';
  } catch {
    return '';
  }
  if (programUrl) stack = unshiftLines(replaceAllPlain(stack, programUrl, PROGRAM_NAME));
  let kept = '';
  let start = 0;
  while (start <= stack.length) {
    let end = StringPrototypeIndexOf(stack, '\n', start);
    if (end < 0) end = stack.length;
    const line = StringPrototypeSlice(stack, start, end);
    if (StringPrototypeIndexOf(line, RUNTIME_URL) < 0) kept += kept ? `\n${line}` : line;
    start = end + 1;
  }
  return kept;
}

// ---------------------------------------------------------------- host calls
let nextRequestId = 0;
/** id → { resolve, reject, server, tool } of the current program's calls. */
let pending = new MapCtor();

function deliverReply(frame) {
  const waiter = MapPrototypeGet(pending, frame.id);
  if (waiter === undefined) return;
  MapPrototypeDelete(pending, frame.id);
  if (frame.ok === true) waiter.resolve(ObjectHasOwn(frame, 'value') ? frame.value : null);
  else {
    const message = typeof frame.error === 'string' ? frame.error : 'the call failed';
    waiter.reject(errorFor(message, frame.code, waiter.server, waiter.tool));
  }
}
function failPending(error) {
  const waiters = pending;
  pending = new MapCtor();
  MapPrototypeForEach(waiters, (waiter) => waiter.reject(error));
}

function request(head, server, tool) {
  // Between a session's programs (a timer the last one left): the host would end the session.
  if (!running) return new PromiseCtor((_, reject) => reject(new ToolError('the program has ended')));
  const id = ++nextRequestId;
  let settle;
  const promise = new PromiseCtor((resolve, reject) => {
    settle = { resolve, reject, server, tool };
  });
  MapPrototypeSet(pending, id, settle);
  sendSoon(`{"type":${head},"id":${id}}`);
  return promise;
}

function argumentsJson(label, args) {
  if (args === undefined || args === null) return '{}';
  if (typeof args !== 'object' || ArrayIsArray(args)) {
    throw new TypeErrorCtor(
      `${label}: the arguments must be one object ({ name: value, ... }), not ${typeof args}`,
    );
  }
  let json;
  try {
    json = JSONStringify(args);
  } catch (error) {
    throw new TypeErrorCtor(`${label}: the arguments cannot be sent as JSON: ${describeError(error)}`);
  }
  if (typeof json !== 'string' || json[0] !== '{') {
    throw new TypeErrorCtor(`${label}: the arguments must serialize to a JSON object`);
  }
  return json;
}

function callTool(server, tool, args, raw, label) {
  let json;
  try {
    json = argumentsJson(label, args);
  } catch (error) {
    return new PromiseCtor((_, reject) => reject(error));
  }
  // The frame is put together here, not by JSON.stringify of an object: a program's `toJSON` or
  // accessor on Object.prototype could otherwise change where it goes (the host would still refuse
  // an ungranted server; this keeps the call the program wrote).
  const head = `"rpc","server":${JSONStringify(server)},"tool":${JSONStringify(tool)},"args":${json}${raw ? ',"raw":true' : ''}`;
  return request(head, server, tool);
}

function callHost(op, args) {
  return request(`"call","op":${JSONStringify(op)},"args":${argumentsJson(op, args)}`, null, null);
}

// ---------------------------------------------------------------- console
function formatArgs(args) {
  let text = '';
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    let piece;
    try {
      piece =
        typeof value === 'string' ? value : inspect(value, { colors: false, depth: 6, iterableLimit: 200 });
    } catch (error) {
      piece = `[uninspectable: ${describeError(error)}]`;
    }
    text += i === 0 ? piece : ` ${piece}`;
  }
  return text;
}
function makeConsole() {
  const out =
    (stream) =>
    (...args) =>
      emitOut(stream, `${formatArgs(args)}\n`);
  const log = out('stdout');
  const warn = out('stderr');
  return ObjectFreeze({
    log,
    info: log,
    debug: log,
    dir: (value) => log(value),
    table: (value) => log(value),
    warn,
    error: warn,
    trace: (...args) => {
      const holder = {};
      ErrorCaptureStackTrace(holder);
      const parts = [];
      for (let i = 0; i < args.length; i++) ArrayPrototypePush(parts, args[i]);
      ArrayPrototypePush(parts, `\n${programTraceback(holder, currentProgramUrl)}`);
      ReflectApply(warn, undefined, parts);
    },
    assert: (condition, ...args) => {
      if (!condition) warn(`Assertion failed${args.length > 0 ? `: ${formatArgs(args)}` : ''}`);
    },
  });
}

// ---------------------------------------------------------------- the `mcp` object
function makeTool(server, tool, label) {
  const name = tool.alias;
  // A named function (its name shows in stack traces), not an arrow: it is a method of `mcp.<server>`.
  const fn = {
    [name](args) {
      return callTool(server.name, tool.name, args, false, label);
    },
  }[name];
  return fn;
}

function grantedServer(servers, key, helper) {
  for (let i = 0; i < servers.length; i++) {
    if (servers[i].name === key || servers[i].alias === key) return servers[i];
  }
  throw new ToolError(
    `${helper}: server ${JSONStringify(StringCtor(key))} is not granted to this run; pass it in run_typescript's \`servers\``,
    { code: 'NOT_GRANTED', server: StringCtor(key) },
  );
}

function toolDoc(server, tool, extra) {
  return {
    server: server.name,
    serverAlias: server.alias,
    name: tool.name,
    alias: tool.alias ?? tool.name,
    description: tool.description ?? '',
    inputSchema: tool.inputSchema ?? {},
    ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
    ...(typeof tool.signature === 'string' ? { signature: tool.signature } : {}),
    ...extra,
  };
}

// ---------------------------------------------------------------- saved values
// A value is saved as JSON behind a marker, in 3 MiB slices (each fits one frame as base64); the
// Python runtime's `load` reads the marker too, so Python loads what TypeScript saved. What Python
// saved is a pickle, which TypeScript cannot read: `load` says so.
const SAVE_SLICE_BYTES = 3 * 1024 * 1024;
const JSON_VALUE_MARKER = '\u0000codemode-json\n';
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_INDEX = new Uint8ArrayCtor(128);
for (let i = 0; i < BASE64.length; i++) BASE64_INDEX[StringPrototypeCharCodeAt(BASE64, i)] = i;

function toBase64(bytes, start, end) {
  let out = '';
  let chunk = '';
  let i = start;
  for (; i + 2 < end; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    chunk += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + BASE64[(n >> 6) & 63] + BASE64[n & 63];
    if (chunk.length >= 65536) {
      out += chunk;
      chunk = '';
    }
  }
  if (i < end) {
    const n = (bytes[i] << 16) | (i + 1 < end ? bytes[i + 1] << 8 : 0);
    chunk += `${BASE64[n >> 18]}${BASE64[(n >> 12) & 63]}${i + 1 < end ? BASE64[(n >> 6) & 63] : '='}=`;
  }
  return out + chunk;
}

function fromBase64(text) {
  let length = text.length;
  while (length > 0 && text[length - 1] === '=') length--;
  const bytes = new Uint8ArrayCtor((length * 3) >> 2);
  let at = 0;
  for (let i = 0; i < length; i += 4) {
    const n =
      (BASE64_INDEX[StringPrototypeCharCodeAt(text, i)] << 18) |
      (BASE64_INDEX[StringPrototypeCharCodeAt(text, i + 1)] << 12) |
      ((i + 2 < length ? BASE64_INDEX[StringPrototypeCharCodeAt(text, i + 2)] : 0) << 6) |
      (i + 3 < length ? BASE64_INDEX[StringPrototypeCharCodeAt(text, i + 3)] : 0);
    bytes[at++] = n >> 16;
    if (at < bytes.length) bytes[at++] = (n >> 8) & 255;
    if (at < bytes.length) bytes[at++] = n & 255;
  }
  return bytes;
}

function valueName(helper, name) {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
    throw new TypeErrorCtor(
      `mcp.runtime.${helper}: the name must be a non-empty string of at most 256 characters`,
    );
  }
  return name;
}

async function saveValue(name, value) {
  valueName('save', name);
  let json;
  try {
    json = JSONStringify(value);
  } catch (error) {
    throw new TypeErrorCtor(
      `mcp.runtime.save(${JSONStringify(name)}): the value cannot be saved as JSON: ${describeError(error)}`,
    );
  }
  if (typeof json !== 'string') {
    throw new TypeErrorCtor(
      `mcp.runtime.save(${JSONStringify(name)}): ${typeof value} cannot be saved as JSON; save plain data`,
    );
  }
  const bytes = TextEncoderEncode(encoder, JSON_VALUE_MARKER + json);
  const size = TypedArrayLength(bytes);
  const parts = size === 0 ? 1 : MathCeil(size / SAVE_SLICE_BYTES);
  let result = null;
  for (let part = 0; part < parts; part++) {
    const start = part * SAVE_SLICE_BYTES;
    const end = MathMin(size, start + SAVE_SLICE_BYTES);
    result = await callHost('save_value', { name, part, parts, size, data: toBase64(bytes, start, end) });
  }
  return result;
}

/** Loads run one at a time: the host sends each page as it is asked, and a program reads them in turn. */
let loading = PromiseResolve();
function loadValue(name) {
  try {
    valueName('load', name);
  } catch (error) {
    return new PromiseCtor((_, reject) => reject(error));
  }
  const load = async () => {
    const pieces = [];
    let offset = 0;
    let size = 0;
    while (true) {
      const reply = await callHost('load_value', { name, offset });
      const piece = fromBase64(typeof reply?.data === 'string' ? reply.data : '');
      ArrayPrototypePush(pieces, piece);
      offset += TypedArrayLength(piece);
      size = Number(reply?.size ?? 0);
      if (offset >= size || TypedArrayLength(piece) === 0) break;
    }
    const bytes = new Uint8ArrayCtor(offset);
    let at = 0;
    for (let i = 0; i < pieces.length; i++) {
      TypedArraySet(bytes, pieces[i], at);
      at += TypedArrayLength(pieces[i]);
    }
    const text = TextDecoderDecode(new TextDecoderCtor(), bytes);
    if (!StringPrototypeStartsWith(text, JSON_VALUE_MARKER)) {
      throw new ToolError(
        `mcp.runtime.load(${JSONStringify(name)}): the value was saved by a Python program (a pickle), which TypeScript cannot read; save it again from TypeScript, or save JSON-compatible data from Python as a string`,
        { code: 'BAD_ARGUMENTS' },
      );
    }
    return JSONParse(StringPrototypeSlice(text, JSON_VALUE_MARKER.length));
  };
  const result = PromisePrototypeThen(loading, load, load);
  loading = PromisePrototypeThen(
    result,
    () => undefined,
    () => undefined,
  );
  return result;
}

function makeRuntime(run) {
  const servers = run.servers;
  const catalog = run.catalog;
  const async =
    (fn) =>
    (...args) => {
      try {
        return PromiseResolve(ReflectApply(fn, undefined, args));
      } catch (error) {
        return new PromiseCtor((_, reject) => reject(error));
      }
    };
  const described = (name) => {
    for (let i = 0; i < servers.length; i++)
      if (servers[i].name === name || servers[i].alias === name) return PromiseResolve(servers[i]);
    return callHost('describe_server', { name: StringCtor(name), language: 'typescript' });
  };
  return ObjectFreeze({
    servers: async(() => {
      const result = [];
      for (let i = 0; i < catalog.length; i++) {
        const entry = catalog[i];
        let granted = false;
        for (let j = 0; j < servers.length; j++) if (servers[j].name === entry.name) granted = true;
        ArrayPrototypePush(result, {
          name: entry.name,
          alias: entry.alias,
          description: entry.description ?? '',
          granted,
        });
      }
      return result;
    }),
    search: (query, options) => {
      const limit = options?.limit ?? 5;
      if (typeof query !== 'string' || !query) {
        return new PromiseCtor((_, reject) =>
          reject(new TypeErrorCtor('mcp.runtime.search: the query must be a non-empty string')),
        );
      }
      return PromisePrototypeThen(
        callHost('search_tool_docs', { query, limit, language: 'typescript' }),
        (answer) => {
          const hits = [];
          const list = answer?.hits ?? [];
          for (let i = 0; i < list.length; i++) {
            const hit = list[i];
            // Saved skills are Python functions: a TypeScript program cannot call them.
            if (hit.tool === undefined) continue;
            ArrayPrototypePush(hits, toolDoc(hit.server, hit.tool, { score: hit.score }));
          }
          const skipped = answer?.unavailable ?? [];
          for (let i = 0; i < skipped.length; i++) {
            emitOut(
              'stderr',
              `mcp.runtime.search: server ${JSONStringify(skipped[i].server)} skipped: ${skipped[i].error}\n`,
            );
          }
          return hits;
        },
      );
    },
    docs: (server, tool) =>
      PromisePrototypeThen(described(server), (found) => {
        const docs = [];
        const tools = found.tools ?? [];
        for (let i = 0; i < tools.length; i++) {
          const candidate = tools[i];
          if (tool === undefined || candidate.name === tool || candidate.alias === tool) {
            if (tool !== undefined) return toolDoc(found, candidate);
            ArrayPrototypePush(docs, toolDoc(found, candidate));
          }
        }
        if (tool !== undefined) {
          throw new ToolError(
            `server ${JSONStringify(found.name)} has no tool ${JSONStringify(StringCtor(tool))}`,
            {
              code: 'UNKNOWN_TOOL',
              server: found.name,
            },
          );
        }
        return docs;
      }),
    save: async((name, value) => saveValue(name, value)),
    load: (name) => loadValue(name),
    listSaved: async(() => callHost('list_values', {})),
    deleteSaved: async((name) => callHost('delete_value', { name: valueName('deleteSaved', name) })),
    readOutput: async((handle, offset, length) =>
      callHost('read_output', { handle: StringCtor(handle), offset: offset ?? 0, length: length ?? 10000 }),
    ),
    listSessions: async(() => callHost('list_sessions', {})),
    resetSession: async((name) => callHost('reset_session', { name: StringCtor(name) })),
    skills: async(() => {
      throw new ToolError(
        'Skills are Python functions: save and call them from run_python. TypeScript programs have no skills yet.',
        { code: 'UNKNOWN_OPERATION' },
      );
    }),
    callTool: (server, tool, args, options) => {
      let granted;
      try {
        granted = grantedServer(servers, server, 'mcp.runtime.callTool');
      } catch (error) {
        return new PromiseCtor((_, reject) => reject(error));
      }
      let name = StringCtor(tool);
      const tools = granted.tools ?? [];
      for (let i = 0; i < tools.length; i++) if (tools[i].alias === tool) name = tools[i].name;
      return callTool(
        granted.name,
        name,
        args,
        options?.raw === true,
        `mcp.runtime.callTool(${JSONStringify(name)})`,
      );
    },
  });
}

function isOwnKey(alias) {
  for (let i = 0; i < OWN_KEYS.length; i++) if (OWN_KEYS[i] === alias) return true;
  return false;
}

function makeMcp(run) {
  const mcp = ObjectCreate(null);
  for (let i = 0; i < run.servers.length; i++) {
    const server = run.servers[i];
    if (isOwnKey(server.alias)) continue; // the host never sends one (aliases reserve them)
    const tools = ObjectCreate(null);
    const granted = server.tools ?? [];
    for (let j = 0; j < granted.length; j++) {
      const tool = granted[j];
      tools[tool.alias] = makeTool(server, tool, `mcp.${server.alias}.${tool.alias}`);
    }
    mcp[server.alias] = ObjectFreeze(tools);
  }
  mcp.runtime = makeRuntime(run);
  mcp.ToolError = ToolError;
  mcp.PolicyError = PolicyError;
  return ObjectFreeze(mcp);
}

function install(name, value) {
  ObjectDefineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
}

// ---------------------------------------------------------------- what user code may not reach
// Writes to the process's stdout would land on the frame channel; they become output, as in the
// container runtime where fd 1 is a pipe. Deno.exit ends the run the way sys.exit does in Python.
function containProcess() {
  const outputDecoder = (stream) => {
    const decoder = new TextDecoderCtor();
    return (bytes) => {
      emitOut(stream, TextDecoderDecode(decoder, bytes, { stream: true }));
      return TypedArrayLength(bytes);
    };
  };
  for (const [handle, stream] of [
    [stdout, 'stdout'],
    [stderr, 'stderr'],
  ]) {
    const write = outputDecoder(stream);
    ObjectDefineProperty(handle, 'writeSync', { value: write, configurable: true });
    ObjectDefineProperty(handle, 'write', {
      value: (bytes) => PromiseResolve(write(bytes)),
      configurable: true,
    });
  }
  const exit = (code) => {
    const status = code === undefined ? 0 : Number(code);
    if (finishCurrent) {
      finishCurrent = undefined;
      const outcome = status === 0 ? { ok: true } : { ok: false, error: `exit(${status})`, traceback: '' };
      sendLine(doneLine(outcome, true));
    }
    exitSandbox(0);
  };
  ObjectDefineProperty(Deno, 'exit', { value: exit, configurable: true, writable: true });
  if (globalThis.process && typeof globalThis.process.exit === 'function') {
    ObjectDefineProperty(globalThis.process, 'exit', { value: exit, configurable: true, writable: true });
  }
}

// ---------------------------------------------------------------- one program
let currentProgramUrl = '';
let finishCurrent;

function finishProgram(outcome) {
  const finish = finishCurrent;
  finishCurrent = undefined;
  if (finish) finish(outcome);
}

function doneLine(outcome, final) {
  if (outcome.ok) return `{"type":"done","ok":true${final ? ',"final":true' : ''}}`;
  const error = bounded(outcome.error, ERROR_CHARS);
  const traceback = bounded(outcome.traceback ?? '', TRACEBACK_CHARS);
  return `{"type":"done","ok":false,"error":${JSONStringify(error)},"traceback":${JSONStringify(traceback)}${final ? ',"final":true' : ''}}`;
}

function failure(error) {
  let message = unshiftLines(replaceAllPlain(describeError(error), currentProgramUrl, PROGRAM_NAME));
  // Deno reports a program it cannot parse as a TypeError whose message is the parser's.
  const parseError = 'TypeError: SyntaxError: ';
  if (StringPrototypeStartsWith(message, parseError))
    message = StringPrototypeSlice(message, 'TypeError: '.length);
  return { ok: false, error: message, traceback: programTraceback(error, currentProgramUrl) };
}

/**
 * Runs `run.code` and settles with its outcome; never rejects. A program that is one expression
 * (`async () => { … }`, `(async () => …)()`) becomes the module's default export, so its value is the
 * result; the parser decides, so a program of statements fails that parse (nothing of it has run) and
 * runs as written.
 */
function runProgram(run) {
  return new PromiseCtor((resolve) => {
    finishCurrent = resolve;
    install('mcp', makeMcp(run));
    install('ToolError', ToolError);
    install('PolicyError', PolicyError);
    install('console', makeConsole());
    const fail = (error) => finishProgram(failure(error));
    const expression = expressionCandidate(run.code);
    if (expression === undefined) {
      importProgram(run.code, 0, fail);
      return;
    }
    // Called by the wrapped module's first statement: an error after it is the program's own.
    let started = false;
    install(STARTED_HOOK, () => {
      started = true;
    });
    importProgram(`globalThis.${STARTED_HOOK}();export default (\n${expression}\n);`, 1, (error) => {
      if (started) fail(error);
      else importProgram(run.code, 0, fail);
    });
  });
}
/** Imports `source` as the program's module; its default export is called (a function) and printed. */
function importProgram(source, lineShift, fail) {
  const url = createObjectURL(new BlobCtor([source], { type: 'application/typescript' }));
  currentProgramUrl = url;
  programLineShift = lineShift;
  PromisePrototypeThen(
    import(url),
    (module) => {
      revokeObjectURL(url);
      // `export default` a function (Cloudflare's `async () => { … }` shape) is called; a value it
      // returns (or a default export that is a value) is printed, as a final expression is in Python.
      let result;
      try {
        const main = module.default;
        result = typeof main === 'function' ? main() : main;
      } catch (error) {
        fail(error);
        return;
      }
      PromisePrototypeThen(
        PromiseResolve(result),
        (value) => {
          if (value !== undefined) emitOut('stdout', `${formatArgs([value])}\n`);
          finishProgram({ ok: true });
        },
        fail,
      );
    },
    (error) => {
      revokeObjectURL(url);
      fail(error);
    },
  );
}

// An error no one caught (a rejected promise nobody awaited, a throw in a timer) ends the run, as an
// uncaught exception does; between programs there is nobody to tell, so it is only logged.
let readySent = false;
function uncaught(error) {
  if (finishCurrent) finishProgram(failure(error));
  // Before `ready` the runtime itself failed: say so and end, rather than never becoming ready.
  else if (!readySent) fatal(EXIT_CRASHED, `the runtime failed while starting: ${describeError(error)}`);
}
addGlobalListener('error', (event) => {
  event.preventDefault();
  uncaught(event.error ?? event.message);
});
addGlobalListener('unhandledrejection', (event) => {
  event.preventDefault();
  uncaught(event.reason);
});
addGlobalListener('unload', () => {
  if (!exitingOnPurpose) writeStderr('the TypeScript sandbox ended itself (Deno.exit or a crash)');
});

// ---------------------------------------------------------------- start
const WARM_UP_RUN = {
  type: 'run',
  code: [
    'interface Warm { n: number }',
    'const warm: Warm = { n: await Promise.resolve(1) };',
    'console.log("warm", warm, [1, "a"]);',
    'try { throw new mcp.ToolError("warm", { code: "WARM" }); } catch (e) { console.error(e instanceof ToolError); }',
    'export default async () => warm.n;',
  ].join('\n'),
  servers: [{ name: 'warm', alias: 'warm', tools: [{ name: 'up', alias: 'up', inputSchema: {} }] }],
  catalog: [],
};

/**
 * A fixed program of ours through the whole path a run takes (the `mcp` object, blob import, type
 * stripping, console, the default export), before `ready`: V8 compiles each function on its first
 * call, and the user's program was paying for that (a fresh sandbox's first program took ~1.5× its
 * second). It makes no host call, and its output is dropped.
 */
function warmUp() {
  warmingUp = true;
  running = true;
  return PromisePrototypeThen(runProgram(WARM_UP_RUN), (outcome) => {
    warmingUp = false;
    running = false;
    if (!outcome.ok) throw new ErrorCtor(outcome.error);
    doneLine(outcome, false);
  });
}

function main() {
  for (const arg of Deno.args) {
    if (!/^--owner=\d+$/.test(arg)) fatal(EXIT_USAGE, `bad argument ${arg}`);
  }
  readStdin();
  const serve = (run) => {
    if (run === null) exitSandbox(0);
    if (run === null || typeof run !== 'object' || run.type !== 'run' || typeof run.code !== 'string') {
      fatal(EXIT_USAGE, 'the host sent something other than a run frame');
    }
    if (!ArrayIsArray(run.servers) || !ArrayIsArray(run.catalog))
      fatal(EXIT_USAGE, 'a run frame without servers');
    running = true;
    const keep = run.keep === true;
    PromisePrototypeThen(runProgram(run), (outcome) => {
      running = false;
      // `done` first: nothing the program left behind (a setter on Object.prototype) may hold it back.
      sendLine(doneLine(outcome, !keep));
      if (!keep) exitSandbox(0);
      try {
        failPending(new ToolError('the program has ended'));
      } finally {
        PromisePrototypeThen(nextLine(), serve);
      }
    });
  };
  // Before any console of ours exists: the first touch of `process` binds Node's streams to the
  // console of the moment, which fails on our frozen one (and would fail in the user's program).
  containProcess();
  PromisePrototypeThen(
    warmUp(),
    () => {
      readySent = true;
      sendLine('{"type":"ready"}');
      PromisePrototypeThen(nextLine(), serve);
    },
    (error) => fatal(EXIT_CRASHED, `the warm-up failed: ${describeError(error)}`),
  );
}

main();
