/**
 * One program on the Monty tier: the subset check, a worker for the run, the feed with the `mcp`
 * globals, and the conversation that follows (prints, tool and host calls as external futures so
 * `asyncio.gather` overlaps them, name lookups, OS calls), until the program completes, raises, or
 * the run is ended (the worker is then killed; the pool replaces it).
 *
 * Under `auto` a run may be declined for full Python: before it runs, when the checker says it does
 * not fit; while it runs, when it fails in a way that may be the subset's (a module, builtin or
 * attribute Monty lacks, a parse error) before anything observable happened (no tool or host call,
 * no output released), so running it again elsewhere cannot repeat an effect. Output is held back
 * meanwhile, and released at the first call, at the end, past 1 MiB or after a second.
 */
import { addAbortListener } from 'node:events';
import { exceedsDepth } from '../protocol.js';
import {
  HostCallError,
  type OutputStream,
  type Sandbox,
  type SandboxExit,
  type SandboxHost,
  type SandboxKind,
  type SandboxProgram,
} from '../types.js';
import { McpSurface } from './mcp-surface.js';
import type { CallResult, ChildEvent, MontyValue, RaisedException, StackFrame } from './messages.js';
import { MAX_WIRE_DEPTH, wireDepth } from './messages.js';
import { checkSubset } from './subset.js';
import { fullPythonHint, subsetFailure } from './subset-failures.js';
import { fromJson } from './values.js';
import type { MontyWorker, Preamble } from './worker.js';
import { WorkerGone } from './worker.js';
import type { Checkout, MontyWorkerPool } from './worker-pool.js';

/** Host calls one program may have in flight; more wait in line (as in host-call-queue.ts). */
const MAX_CONCURRENT_HOST_CALLS = 32;
/** One tool result, as JSON text; beyond, that call fails (as in host-call-queue.ts). */
const MAX_RESULT_CHARS = 32 * 1024 * 1024;
const MAX_RESULT_DEPTH = 256;
/** Output held back while a run could still be declined: at most this much, for at most this long. */
const HOLD_OUTPUT_CHARS = 1024 * 1024;
const HOLD_OUTPUT_MS = 1000;
const PROGRAM_FILE = '<run_python>';
/** An error and its traceback are cut as the container runtime cuts them (executor.py), head and tail kept. */
const ERROR_CHARS = 16_000;
const TRACEBACK_CHARS = 32_000;
const TRACEBACK_FRAMES = 12;

/** A run the tier hands back before anything observable happened: full Python should run it. */
export interface Declined {
  kind: 'declined';
  /** What in the program Monty lacks, for logs (`import csv`, `NameError: name 'open' …`). */
  reason: string;
}

export interface MontyExecuteOptions {
  /** Whether the run may be declined for full Python (`auto`); else a subset failure is the run's error. */
  fallback: boolean;
  /** The client connection the run came from: workers are never shared across owners. */
  owner: string;
}

let runs = 0;

/** A handle on the tier for one program; the worker is taken when the program starts. */
export class MontySandbox implements Sandbox {
  readonly kind: SandboxKind = 'monty';
  readonly id = `monty-run-${++runs}`;
  readonly #pool: MontyWorkerPool;
  #destroyed = false;
  /** Whether the program failed for want of something full Python has (after `run`). */
  subsetFailure = false;

  constructor(pool: MontyWorkerPool) {
    this.#pool = pool;
  }

  get alive(): boolean {
    return !this.#destroyed;
  }

  async execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit> {
    const exit = await this.run(program, host, signal, {
      fallback: false,
      owner: program.owner ?? 'default',
    });
    return exit.kind === 'declined' ? { kind: 'done', ok: false, error: exit.reason } : exit;
  }

  async destroy(): Promise<void> {
    this.#destroyed = true;
  }

  /** Runs `program`, or declines it (only with `options.fallback`). Never rejects for what the program did. */
  async run(
    program: SandboxProgram,
    host: SandboxHost,
    signal: AbortSignal,
    options: MontyExecuteOptions,
  ): Promise<SandboxExit | Declined> {
    if (this.#destroyed) throw new Error(`${this.id} was destroyed`);
    this.#destroyed = true; // one program per handle
    const verdict = checkSubset(program.code, { skills: (program.skills ?? []).map((skill) => skill.name) });
    if (!verdict.fits) {
      const where = verdict.line ? ` (line ${verdict.line})` : '';
      const reason = `${verdict.construct}${where}: ${verdict.why}`;
      if (options.fallback) return { kind: 'declined', reason };
      return { kind: 'done', ok: false, error: `${reason}. ${fullPythonHint('static')}` };
    }
    if (signal.aborted) return { kind: 'aborted' };
    let checkout: Checkout;
    try {
      checkout = await this.#pool.acquire(options.owner, signal);
    } catch (error) {
      if (signal.aborted) return { kind: 'aborted' };
      throw error;
    }
    const { worker, preamble } = checkout;
    const conversation = new Conversation(worker, program, host, signal, options.fallback);
    let clean = false;
    try {
      const exit = await conversation.run(verdict.code, preamble);
      clean = conversation.endedCleanly;
      this.subsetFailure = conversation.subsetFailure;
      return exit;
    } finally {
      conversation.end();
      this.#pool.release(worker, clean && !signal.aborted);
    }
  }
}

/** The state of one program's exchange with its worker. */
class Conversation {
  readonly #worker: MontyWorker;
  readonly #program: SandboxProgram;
  readonly #host: SandboxHost;
  readonly #signal: AbortSignal;
  readonly #surface: McpSurface;
  /** Whether the run may still be declined: nothing observable has happened. */
  #declinable: boolean;
  /** Under `auto` (full Python exists), as opposed to `MCP_BRIDGE_RUNTIME=monty`. */
  readonly #auto: boolean;
  #held: Array<[OutputStream, string]> = [];
  #heldChars = 0;
  #holdTimer: NodeJS.Timeout | undefined;
  /** Calls in flight, and their answers once in, by call id. */
  readonly #pending = new Map<number, AbortController>();
  readonly #answers = new Map<number, CallResult>();
  readonly #waiting: Array<() => void> = [];
  readonly #queue: Array<{ callId: number; begin: () => void }> = [];
  /** Calls answered with a future in the request being sent, started once it is written. */
  readonly #deferred: Array<{ callId: number; begin: () => void }> = [];
  #firstCall: string | undefined;
  endedCleanly = false;
  subsetFailure = false;

  constructor(
    worker: MontyWorker,
    program: SandboxProgram,
    host: SandboxHost,
    signal: AbortSignal,
    declinable: boolean,
  ) {
    this.#worker = worker;
    this.#program = program;
    this.#host = host;
    this.#signal = signal;
    this.#declinable = declinable;
    this.#auto = declinable;
    this.#surface = new McpSurface(program);
  }

  async run(code: string, preamble: Preamble | undefined): Promise<SandboxExit | Declined> {
    const onAbort = addAbortListener(this.#signal, () => {
      void this.#worker.kill();
      for (const wake of this.#waiting.splice(0)) wake();
    });
    this.#worker.onPrint((event) => {
      for (const segment of event.segments) this.#output(segment.stream, segment.text);
    });
    try {
      let event = await this.#worker.request(
        { kind: 'feed', code, encodedInputs: this.#surface.encodedInputs(code) },
        preamble,
      );
      for (;;) {
        if (this.#signal.aborted) return { kind: 'aborted' };
        const next =
          event.kind === 'resolve_futures'
            ? { request: { kind: 'resume_futures' as const, results: await this.#resolved(event.pending) } }
            : this.#answer(event);
        if ('exit' in next) return next.exit;
        const reply = this.#worker.request(next.request);
        // The worker has its answer (a future) before the host call starts: it goes on to its next
        // call while the bridge checks and sends this one, so gathered calls overlap from the first.
        this.#startDeferred();
        event = await reply;
      }
    } catch (error) {
      if (this.#signal.aborted) return { kind: 'aborted' };
      if (error instanceof WorkerGone) {
        if (error.violation) return { kind: 'protocol_error', message: error.message };
        return { kind: 'exited', exitCode: error.exitCode, signal: error.signal, diagnostics: error.message };
      }
      throw error;
    } finally {
      onAbort[Symbol.dispose]();
      this.#worker.onPrint(undefined);
    }
  }

  /** Aborts what is still in flight and releases held output (the run is over). */
  end(): void {
    clearTimeout(this.#holdTimer);
    for (const controller of this.#pending.values()) controller.abort(new Error('the program has ended'));
    this.#pending.clear();
    this.#queue.length = 0;
    this.#deferred.length = 0;
  }

  /** The answer to a suspension other than `ResolveFutures`, or how the run ended. */
  #answer(
    event: ChildEvent,
  ): { exit: SandboxExit | Declined } | { request: Parameters<MontyWorker['request']>[0] } {
    switch (event.kind) {
      case 'function_call':
        return { request: { kind: 'resume_call', callId: event.callId, result: this.#call(event) } };
      case 'name_lookup':
        return this.#lookup(event);
      case 'os_call':
        return { request: { kind: 'resume_call', callId: event.callId, result: osCall(event) } };
      case 'complete':
        this.endedCleanly = true;
        this.#release();
        return { exit: { kind: 'done', ok: true } };
      case 'error':
        this.endedCleanly = true;
        return { exit: this.#failed(event.exception) };
      case 'fatal':
        return { exit: { kind: 'protocol_error', message: `the Monty worker failed: ${event.message}` } };
      default:
        return {
          exit: {
            kind: 'protocol_error',
            message: `the Monty worker sent an unexpected ${event.kind} event`,
          },
        };
    }
  }

  #lookup(
    event: ChildEvent & { kind: 'name_lookup' },
  ): { exit: Declined } | { request: Parameters<MontyWorker['request']>[0] } {
    if (!event.objectId && this.#declinable) {
      const skill = (this.#program.skills ?? []).find((entry) => entry.name === event.name);
      if (skill) return { exit: { kind: 'declined', reason: `the saved skill ${event.name}` } };
    }
    const value = event.objectId ? undefined : this.#surface.global(event.name);
    return { request: { kind: 'resume_name_lookup', value } };
  }

  #call(event: ChildEvent & { kind: 'function_call' }): CallResult {
    if (event.args instanceof Error) {
      return {
        error: {
          type: 'ValueError',
          message: `the arguments of ${event.name}() are too large: ${event.args.message}`,
        },
      };
    }
    if (event.objectId) return { notFound: event.name };
    const action = this.#surface.call(event.name, event.args, event.kwargs);
    switch (action.kind) {
      case 'value':
        return { value: action.value };
      case 'raise':
        return { error: { type: action.type, message: action.message } };
      case 'ready':
        this.#answers.set(event.callId, { value: action.value });
        return { future: event.callId };
      case 'tool':
        this.#observable(action.label);
        this.#start(event.callId, (signal) => this.#host.callTool(action.request, signal), toolValue);
        return { future: event.callId };
      case 'host':
        this.#observable(`mcp.runtime ${action.op}`);
        this.#start(
          event.callId,
          (signal) => this.#host.callHost(action.op, action.args, signal),
          (answer) => {
            const finished = action.finish(answer);
            if (finished.stderr) this.#output('stderr', finished.stderr);
            return finished.value;
          },
        );
        return { future: event.callId };
      case 'unknown':
        return { notFound: event.name };
    }
  }

  /** Starts the host calls answered with a future, once that answer is on its way to the worker. */
  #startDeferred(): void {
    if (this.#deferred.length === 0) return;
    const calls = this.#deferred.splice(0);
    if (!this.#worker.alive || this.#signal.aborted) return;
    for (const call of calls) {
      if (this.#pending.size < MAX_CONCURRENT_HOST_CALLS) call.begin();
      else this.#queue.push(call);
    }
  }

  /**
   * Starts a host call once the answer to its suspension is sent (`#startDeferred`), or when a slot
   * frees up; its answer is kept for `ResolveFutures`.
   */
  #start(
    callId: number,
    call: (signal: AbortSignal) => Promise<unknown>,
    convert: (value: unknown) => MontyValue,
  ): void {
    const begin = () => {
      const controller = new AbortController();
      this.#pending.set(callId, controller);
      void call(controller.signal)
        .then(
          (value): CallResult => {
            try {
              return { value: convert(value ?? null) };
            } catch (error) {
              return { error: { type: 'RuntimeError', message: (error as Error).message } };
            }
          },
          (error): CallResult => {
            const message = error instanceof Error ? error.message : String(error);
            const code = error instanceof HostCallError ? error.code : 'HOST_ERROR';
            this.#surface.toolFailed(message, code);
            return { error: { type: 'RuntimeError', message } };
          },
        )
        .then((result) => {
          if (!this.#pending.delete(callId)) return; // the run ended meanwhile
          this.#answers.set(callId, result);
          this.#queue.shift()?.begin();
          for (const wake of this.#waiting.splice(0)) wake();
        });
    };
    this.#deferred.push({ callId, begin });
  }

  /**
   * The answers the program is blocked on: at least one, all that are in. When some are in and some
   * are not, the answers that came in the same read from the upstream are let finish first (one turn
   * of the event loop): each `ResumeFutures` is a round trip with the worker, and gathered calls'
   * answers tend to arrive together.
   */
  async #resolved(pending: number[]): Promise<Array<[number, CallResult]>> {
    let settled = false;
    for (;;) {
      const ready = pending.filter((id) => this.#answers.has(id));
      if (ready.length > 0 && ready.length < pending.length && !settled && !this.#signal.aborted) {
        settled = true;
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      if (ready.length > 0) {
        return ready.map((id) => {
          const result = this.#answers.get(id) as CallResult;
          this.#answers.delete(id);
          return [id, result];
        });
      }
      const known = (id: number) =>
        this.#pending.has(id) || this.#queue.some((queued) => queued.callId === id);
      if (!pending.some(known)) {
        // Futures the host never started: fail them rather than wait forever.
        return pending.map((id) => [
          id,
          { error: { type: 'RuntimeError', message: 'no such call in flight' } },
        ]);
      }
      if (this.#signal.aborted) throw new WorkerGone('the run was ended', null, null, false);
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  #failed(exception: RaisedException): SandboxExit | Declined {
    const failure = subsetFailure(exception);
    // A program's own error is the same error on CPython (the differential test holds that); one that
    // may be the subset's (or a parse error: Monty's parser is not CPython's) is worth full Python.
    if (this.#declinable && (failure !== undefined || exception.type === 'SyntaxError')) {
      return { kind: 'declined', reason: `${exception.type}: ${exception.message ?? ''}`.trim() };
    }
    this.#release();
    const name = this.#surface.errorName(exception.type, exception.message);
    const line = exception.message ? `${name}: ${exception.message}` : name;
    let error = line;
    if (failure) {
      this.subsetFailure = true;
      const because = this.#firstCall
        ? `the program had already made a call (${this.#firstCall}) that a retry would repeat`
        : 'its output had already been passed on';
      error += this.#auto
        ? `\n(${failure} This ran on Monty, the bridge's instant subset of Python. It was not retried on full ` +
          `Python because ${because}; run it again and it goes to full Python.)`
        : `\n(${failure} ${fullPythonHint('runtime')})`;
    }
    return {
      kind: 'done',
      ok: false,
      error: elide(error, ERROR_CHARS),
      traceback: elide(formatTraceback(exception.traceback ?? [], line, this.#program.code), TRACEBACK_CHARS),
    };
  }

  #observable(what: string): void {
    this.#firstCall ??= what;
    if (this.#declinable) this.#release();
  }

  #output(stream: OutputStream, text: string): void {
    if (!this.#declinable) {
      this.#host.onOutput(stream, text);
      return;
    }
    this.#held.push([stream, text]);
    this.#heldChars += text.length;
    if (this.#heldChars > HOLD_OUTPUT_CHARS) this.#release();
    else this.#holdTimer ??= setTimeout(() => this.#release(), HOLD_OUTPUT_MS);
  }

  /** From here on the run is observable: held output goes to the host, and no decline is possible. */
  #release(): void {
    this.#declinable = false;
    clearTimeout(this.#holdTimer);
    for (const [stream, text] of this.#held.splice(0)) this.#host.onOutput(stream, text);
    this.#heldChars = 0;
  }

  /** Whether the run saw anything the client could observe (for the router's memory of fallbacks). */
  get observable(): boolean {
    return !this.#declinable;
  }
}

function toolValue(value: unknown): MontyValue {
  if (exceedsDepth(value, MAX_RESULT_DEPTH)) {
    throw new Error(
      `the result is nested deeper than ${MAX_RESULT_DEPTH} levels; ask the tool for less (a page, a filter, a smaller range)`,
    );
  }
  const converted = fromJson(value);
  if (wireDepth(converted) > MAX_WIRE_DEPTH) {
    throw new Error(
      'the result is nested deeper than Monty takes (about 30 levels of objects, 45 of lists); ask the tool ' +
        'for less, or run the program on full Python (MCP_BRIDGE_RUNTIME=auto sends it there next time)',
    );
  }
  const chars = JSON.stringify(value)?.length ?? 0;
  if (chars > MAX_RESULT_CHARS) {
    throw new Error(
      `the result is ${(chars / 1048576).toFixed(1)} MiB; a sandbox takes at most ${MAX_RESULT_CHARS / 1048576} MiB per call; ` +
        'ask the tool for less (a page, a filter, a smaller range)',
    );
  }
  return converted;
}

/** OS calls: the clock (UTC, as in a container), an empty environment; nothing else is served. */
function osCall(event: ChildEvent & { kind: 'os_call' }): CallResult {
  switch (event.operation) {
    case 'os.getenv':
      return { value: event.payload ?? { kind: 'none' } };
    case 'os.environ':
      return { value: { kind: 'dict', pairs: [] } };
    case 'date.today':
    case 'datetime.now':
      return { value: clockValue(event.operation === 'date.today', event.offsetSeconds) };
    default:
      return { notHandled: true };
  }
}

function clockValue(dateOnly: boolean, offsetSeconds: number | undefined): MontyValue {
  const now = Date.now();
  const local = new Date(now + (offsetSeconds ?? 0) * 1000);
  const varint = (field: number, value: number) => encodeVarintField(field, value);
  const parts = [
    varint(1, local.getUTCFullYear()),
    varint(2, local.getUTCMonth() + 1),
    varint(3, local.getUTCDate()),
  ];
  if (dateOnly) return { kind: 'opaque', field: 17, bytes: Buffer.concat(parts), typeName: 'date' };
  const micros = (now % 1000) * 1000;
  parts.push(
    varint(4, local.getUTCHours()),
    varint(5, local.getUTCMinutes()),
    varint(6, local.getUTCSeconds()),
  );
  if (micros) parts.push(varint(7, micros));
  if (offsetSeconds !== undefined) parts.push(encodeSignedVarintField(8, offsetSeconds));
  return { kind: 'opaque', field: 19, bytes: Buffer.concat(parts), typeName: 'datetime' };
}

function encodeVarintField(field: number, value: number): Buffer {
  const bytes = [field << 3];
  let rest = value >>> 0;
  while (rest > 127) {
    bytes.push((rest & 127) | 128);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** An `int32` field: negative values are ten-byte two's-complement varints. */
function encodeSignedVarintField(field: number, value: number): Buffer {
  if (value >= 0) return encodeVarintField(field, value);
  const bytes = [field << 3];
  let rest = BigInt.asUintN(64, BigInt(value));
  while (rest > 127n) {
    bytes.push(Number(rest & 127n) | 128);
    rest >>= 7n;
  }
  bytes.push(Number(rest));
  return Buffer.from(bytes);
}

/** `text` cut to `limit` characters, head and tail kept, with how much was dropped between (executor.py's `_elide`). */
function elide(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const marker = `\n... [${text.length - limit} characters elided] ...\n`;
  const head = Math.floor(((limit - marker.length) * 2) / 3);
  const tail = limit - marker.length - head;
  return text.slice(0, head) + marker + text.slice(text.length - tail);
}

/** A traceback as the container runtime prints one: the program's frames only, named `<run_python>`. */
function formatTraceback(frames: StackFrame[], errorLine: string, code: string): string {
  const source = code.split(/\r\n|\r|\n/);
  const own = frames
    .filter((frame) => frame.filename.startsWith('<python-input') || frame.filename === PROGRAM_FILE)
    .slice(-TRACEBACK_FRAMES);
  if (own.length === 0) return `${errorLine}\n`;
  const lines = ['Traceback (most recent call last):'];
  for (const frame of own) {
    lines.push(`  File "${PROGRAM_FILE}", line ${frame.line}, in ${frame.name ?? '<module>'}`);
    // The program's own line, not the rewritten one Monty ran.
    const text = source[frame.line - 1]?.trim();
    if (text) lines.push(`    ${text}`);
  }
  lines.push(errorLine);
  return `${lines.join('\n')}\n`;
}
