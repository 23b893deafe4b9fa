/**
 * A sandbox whose protocol channel is a child process's stdin/stdout (or a socket it connects).
 * Container and embedded backends differ only in how the process is started and how it is killed
 * (`terminate`), so the frame handling, RPC routing, bounds and exit bookkeeping live here once.
 *
 * Every queue a run can fill is bounded: host calls in flight (`MAX_CONCURRENT_HOST_CALLS`, holding at
 * most `MAX_IN_FLIGHT_REQUEST_CHARS` of requests; more wait their turn, in order), requests waiting
 * (past `MAX_QUEUED_REQUEST_CHARS` the host stops reading the sandbox, which then blocks on its own
 * writes), replies the sandbox has not read
 * (`MAX_UNREAD_REPLY_BYTES` ends the run: it is not reading them) and each reply's size and depth.
 */
import type { ChildProcess } from 'node:child_process';
import { addAbortListener } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortable } from '../shared/abort.js';
import { writeBatched } from '../shared/batched-write.js';
import type { Logger } from '../shared/logger.js';
import { summarizeDiagnostics } from './diagnostics.js';
import {
  type DecodedFrame,
  encodeFrame,
  exceedsDepth,
  FrameDecoder,
  type HostFrame,
  ProtocolViolation,
  type SandboxFrame,
} from './protocol.js';
import {
  HostCallError,
  type ReplyChannel,
  type Sandbox,
  type SandboxExit,
  type SandboxHost,
  type SandboxKind,
  type SandboxProgram,
} from './types.js';

/** Host calls one program may have in flight; more wait in line until one ends. */
const MAX_CONCURRENT_HOST_CALLS = 32;
/**
 * Characters of the requests one program has in flight: a call waits in line while the calls in flight
 * hold this much (one alone always starts), so 32 calls of 8 MiB arguments hold 16 MiB, not 256.
 */
const MAX_IN_FLIGHT_REQUEST_CHARS = 16 * 1024 * 1024;
/** Requests waiting in line (characters, count) beyond which the host stops reading the sandbox. */
const MAX_QUEUED_REQUEST_CHARS = 16 * 1024 * 1024;
const MAX_QUEUED_REQUESTS = 4096;
/** Unread reply bytes above which waiting requests are not started: the sandbox is behind. */
const REPLY_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Unread reply bytes that end the run: a program this far behind is not reading its replies. */
const MAX_UNREAD_REPLY_BYTES = 64 * 1024 * 1024;
/** One reply's size; a larger tool result fails that call. */
const MAX_REPLY_BYTES = 32 * 1024 * 1024;
/** Nesting of one reply: Python's JSON decoder recurses once per level, under a recursion limit of 1000. */
const MAX_REPLY_DEPTH = 256;
const DIAGNOSTICS_CHARS = 4096;
/** After `done` the runtime exits once the host closes the channel; only one that lingers is killed. */
const EXIT_AFTER_DONE_GRACE_MS = 2000;
/** How long a separate frame channel may lag behind the process's exit. */
const CHANNEL_DRAIN_MS = 1000;

/** Where frames travel: the child's stdio by default, or a socket the backend connects later. */
export interface FrameChannel {
  input: Readable;
  output: Writable;
}

export interface ProcessSandboxOptions {
  id: string;
  kind: SandboxKind;
  child: ChildProcess;
  /**
   * The frame channel. Default: the child's stdout/stdin. `'later'` means the backend calls
   * `attachChannel` once the sandbox has connected (until then no frame can arrive).
   */
  channel?: FrameChannel | 'later';
  /** Kills whatever owns the work (the container, the process group) and resolves when it is gone. */
  terminate: () => Promise<void>;
  logger: Logger;
}

type Phase = 'starting' | 'ready' | 'running' | 'finished';

interface Readiness {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A request the program made that waits for a free slot. */
interface QueuedRequest {
  id: number;
  chars: number;
  call: (signal: AbortSignal) => Promise<unknown>;
}

/** The state of the one program a sandbox runs. */
interface ActiveRun {
  host: SandboxHost;
  /** A session's program: after `done` the sandbox is ready for the next one. */
  keep: boolean;
  settle: (exit: SandboxExit) => void;
  /** One controller per call in flight, aborted together when the run ends. */
  calls: Set<AbortController>;
  /** Characters of the requests in `calls`. */
  inFlightChars: number;
  queue: QueuedRequest[];
  queuedChars: number;
  /** Host operations waiting for the program to read its replies (`ReplyChannel.drained`). */
  drainWaiters: Array<() => void>;
  /** What host operations of this run are told of its replies. */
  replies: ReplyChannel;
}

export class ProcessSandbox implements Sandbox {
  readonly id: string;
  readonly kind: SandboxKind;
  readonly #child: ChildProcess;
  #input: Readable | undefined;
  #output: Writable | undefined;
  #channelClosed: Promise<void> | undefined;
  readonly #terminate: () => Promise<void>;
  readonly #logger: Logger;
  readonly #decoder = new FrameDecoder();
  readonly #exited: Promise<void>;
  #phase: Phase = 'starting';
  /** Settled once: by `ready`, or by a violation or the process's exit before it. */
  readonly #ready: Promise<void>;
  #readiness!: Readiness;
  #run: ActiveRun | undefined;
  #diagnostics = '';
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;
  /** Why the process could not be started (its 'error' event), when it could not. */
  #spawnError: Error | undefined;
  #hasExited = false;
  #completed = false;
  #destroying: Promise<void> | undefined;

  constructor(options: ProcessSandboxOptions) {
    this.id = options.id;
    this.kind = options.kind;
    this.#child = options.child;
    this.#terminate = options.terminate;
    this.#logger = options.logger;
    this.#ready = new Promise((resolve, reject) => {
      this.#readiness = { resolve, reject };
    });
    // Nobody may be waiting (a sandbox that dies in the pool): its failure is reported on use, if ever.
    this.#ready.catch(() => {});
    this.#exited = new Promise((resolve) => {
      this.#child.once('close', async (code, signal) => {
        // Frames on a separate channel (a socket) may still be in flight when the process is gone:
        // read them to the end first, so a `done` sent just before exiting is never lost.
        if (this.#channelClosed) {
          await Promise.race([this.#channelClosed, sleep(CHANNEL_DRAIN_MS, undefined, { ref: false })]);
        }
        this.#hasExited = true;
        this.#exitCode = code;
        this.#exitSignal = signal;
        resolve();
      });
    });
    void this.#exited.then(() => this.#onExit());
    // Spawning failed (EMFILE, ENOENT…): 'close' follows with a negative code; say why instead.
    this.#child.once('error', (error) => {
      this.#spawnError ??= error;
    });
    // A write after the sandbox died must not become an unhandled 'error' event.
    this.#child.stdin?.on('error', () => {});
    if (options.channel !== 'later') {
      const stdio =
        this.#child.stdout && this.#child.stdin
          ? { input: this.#child.stdout, output: this.#child.stdin }
          : undefined;
      const channel = options.channel ?? stdio;
      if (channel) this.attachChannel(channel);
    }
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (text: string) => {
      this.#diagnostics = (this.#diagnostics + text).slice(-DIAGNOSTICS_CHARS);
      for (const line of text.split('\n')) {
        if (line.trim()) this.#logger.debug('sandbox stderr', { sandbox: this.id, line });
      }
    });
  }

  /** Starts reading frames from `channel`; called once. */
  attachChannel(channel: FrameChannel): void {
    if (this.#output) throw new Error(`sandbox ${this.id} already has a channel`);
    this.#input = channel.input;
    this.#output = channel.output;
    if (channel.input !== this.#child.stdout) {
      this.#channelClosed = new Promise((resolve) => channel.input.once('close', () => resolve()));
    }
    channel.output.on('error', () => {});
    channel.output.on('drain', () => this.#startQueued());
    channel.input.on('error', () => {});
    channel.input.on('data', (chunk: Buffer) => this.#receive(chunk));
  }

  get alive(): boolean {
    return !this.#hasExited && this.#destroying === undefined;
  }

  /**
   * The last line the sandbox process wrote to its own stderr (runtime errors, container engine
   * messages), cleaned for an error message; the whole text is in the debug log.
   */
  get diagnostics(): string {
    return summarizeDiagnostics(this.#diagnostics);
  }

  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Resolves when the runtime reports `ready`; rejects with the process's diagnostics if it dies first. */
  async waitReady(signal?: AbortSignal): Promise<void> {
    try {
      await abortable(this.#ready, signal);
    } catch (error) {
      await this.destroy();
      throw error;
    }
  }

  async execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit> {
    if (this.#phase !== 'ready' || !this.alive) {
      throw new Error(`sandbox ${this.id} cannot run a program (phase ${this.#phase})`);
    }
    this.#phase = 'running';
    const exit = new Promise<SandboxExit>((resolve) => {
      const run: ActiveRun = {
        host,
        keep: program.keep === true,
        settle: resolve,
        calls: new Set(),
        inFlightChars: 0,
        queue: [],
        queuedChars: 0,
        drainWaiters: [],
        replies: { drained: () => this.#drained(run) },
      };
      this.#run = run;
    });
    const onAbort = addAbortListener(signal, () => {
      this.#settle({ kind: 'aborted' });
      void this.destroy();
    });
    try {
      if (signal.aborted) this.#settle({ kind: 'aborted' });
      else this.#write({ type: 'run', ...programFrame(program) });
      return await exit;
    } finally {
      onAbort[Symbol.dispose]();
    }
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroyOnce();
    return this.#destroying;
  }

  /** Resolves when the sandbox process has exited, whatever the reason. */
  async exited(): Promise<void> {
    await this.#exited;
  }

  async #destroyOnce(): Promise<void> {
    this.#readiness.reject(this.#notReadyError()); // a no-op once ready
    this.#phase = 'finished';
    // Closing the channel is what tells a finished runtime to exit (it waits for it after `done`).
    this.#child.stdin?.end();
    if (this.#output !== this.#child.stdin) this.#output?.end();
    if (this.#completed && !this.#hasExited) {
      // Cheaper than spawning `rm -f`: a finished runtime exits and the engine removes it (`--rm`).
      await Promise.race([this.#exited, sleep(EXIT_AFTER_DONE_GRACE_MS, undefined, { ref: false })]);
      if (this.#hasExited) return;
    }
    try {
      await this.#terminate();
    } catch (error) {
      this.#logger.warn('sandbox termination failed', { sandbox: this.id, error });
    }
    if (!this.#hasExited) {
      this.#child.kill('SIGKILL');
      await this.#exited;
    }
  }

  /** Ends the running program (once) with `exit`: calls in flight are aborted, waiting ones dropped. */
  #settle(exit: SandboxExit): void {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    this.#phase = run.keep && exit.kind === 'done' && this.alive ? 'ready' : 'finished';
    for (const call of run.calls) call.abort(new Error('the program has ended'));
    run.queue.length = 0;
    for (const wake of run.drainWaiters.splice(0)) wake();
    run.settle(exit);
  }

  #notReadyError(): Error {
    if (this.#spawnError) {
      return new Error(`sandbox process could not be started: ${this.#spawnError.message}`, {
        cause: this.#spawnError,
      });
    }
    const how = this.#hasExited
      ? `exited (${this.#exitSignal ?? `code ${this.#exitCode}`})`
      : 'was destroyed';
    return new Error(
      `sandbox process ${how} before it was ready${this.diagnostics ? `: ${this.diagnostics}` : ''}`,
    );
  }

  #onExit(): void {
    this.#readiness.reject(this.#notReadyError());
    this.#settle({
      kind: 'exited',
      exitCode: this.#exitCode,
      signal: this.#exitSignal,
      diagnostics: this.diagnostics,
    });
  }

  #receive(chunk: Buffer): void {
    // One frame at a time, in stream order, however the bytes were chunked: what precedes a bad line
    // (the program's output, its `done`) counts, and nothing after a `done` is even decoded.
    const frames = this.#decoder.frames(chunk);
    for (;;) {
      if (this.#phase === 'finished') return;
      let next: IteratorResult<DecodedFrame>;
      try {
        next = frames.next();
      } catch (error) {
        this.#violation(error instanceof ProtocolViolation ? error : new ProtocolViolation(String(error)));
        return;
      }
      if (next.done) return;
      this.#dispatch(next.value.frame, next.value.chars);
    }
  }

  #dispatch(frame: SandboxFrame, chars: number): void {
    if (this.#phase === 'starting') {
      if (frame.type === 'ready') {
        this.#phase = 'ready';
        this.#readiness.resolve();
      } else this.#violation(new ProtocolViolation(`sandbox sent '${frame.type}' before 'ready'`));
      return;
    }
    const run = this.#run;
    if (!run) {
      // A session's sandbox between programs: a thread the user left running may still print.
      if (frame.type === 'out') return;
      this.#logger.warn('sandbox sent a frame while idle', { sandbox: this.id, type: frame.type });
      void this.destroy();
      return;
    }
    switch (frame.type) {
      case 'out':
        run.host.onOutput(frame.stream, frame.data);
        return;
      case 'rpc': {
        const request = {
          server: frame.server,
          tool: frame.tool,
          args: frame.args,
          ...(frame.raw ? { raw: true } : {}),
        };
        this.#enqueue(run, { id: frame.id, chars, call: (signal) => run.host.callTool(request, signal) });
        return;
      }
      case 'call':
        this.#enqueue(run, {
          id: frame.id,
          chars,
          call: (signal) => run.host.callHost(frame.op, frame.args, signal, run.replies),
        });
        return;
      case 'done':
        this.#completed = true;
        if (frame.final && run.keep) {
          // The process ends after this program: the session cannot keep it.
          run.keep = false;
          void this.destroy();
        }
        this.#settle(
          frame.ok
            ? { kind: 'done', ok: true }
            : {
                kind: 'done',
                ok: false,
                error: frame.error ?? 'the program failed',
                ...(frame.traceback ? { traceback: frame.traceback } : {}),
              },
        );
        return;
      case 'ready':
        this.#violation(new ProtocolViolation("sandbox sent 'ready' twice"));
        return;
    }
  }

  #violation(violation: ProtocolViolation): void {
    this.#logger.warn('sandbox protocol violation', { sandbox: this.id, reason: violation.message });
    this.#readiness.reject(violation); // a no-op once ready
    this.#settle({ kind: 'protocol_error', message: violation.message });
    void this.destroy();
  }

  #enqueue(run: ActiveRun, request: QueuedRequest): void {
    run.queue.push(request);
    run.queuedChars += request.chars;
    this.#startQueued();
  }

  /** Resolves once the program's unread replies are below the high-water mark, or its run has ended. */
  #drained(run: ActiveRun): Promise<void> {
    if (this.#run !== run || (this.#output?.writableLength ?? 0) < REPLY_HIGH_WATER_BYTES) {
      return Promise.resolve();
    }
    return new Promise((resolve) => run.drainWaiters.push(resolve));
  }

  /** Starts waiting requests while there is room, then pauses or resumes reading the sandbox. */
  #startQueued(): void {
    const run = this.#run;
    if (!run) return;
    if (run.drainWaiters.length > 0 && (this.#output?.writableLength ?? 0) < REPLY_HIGH_WATER_BYTES) {
      for (const wake of run.drainWaiters.splice(0)) wake();
    }
    for (
      let next = run.queue[0];
      next &&
      run.calls.size < MAX_CONCURRENT_HOST_CALLS &&
      (run.calls.size === 0 || run.inFlightChars + next.chars <= MAX_IN_FLIGHT_REQUEST_CHARS) &&
      (this.#output?.writableLength ?? 0) < REPLY_HIGH_WATER_BYTES;
      next = run.queue[0]
    ) {
      run.queue.shift();
      run.queuedChars -= next.chars;
      void this.#serve(run, next);
    }
    const full = run.queuedChars > MAX_QUEUED_REQUEST_CHARS || run.queue.length > MAX_QUEUED_REQUESTS;
    if (full && !this.#input?.isPaused()) this.#input?.pause();
    else if (!full && this.#input?.isPaused()) this.#input.resume();
  }

  async #serve(run: ActiveRun, request: QueuedRequest): Promise<void> {
    const controller = new AbortController();
    run.calls.add(controller);
    run.inFlightChars += request.chars;
    let reply: HostFrame;
    try {
      const value = (await request.call(controller.signal)) ?? null;
      reply = { type: 'rpc_result', id: request.id, ok: true, value };
    } catch (error) {
      const code = error instanceof HostCallError ? error.code : 'HOST_ERROR';
      const message = error instanceof Error ? error.message : String(error);
      reply = { type: 'rpc_result', id: request.id, ok: false, code, error: message };
    } finally {
      run.calls.delete(controller);
      run.inFlightChars -= request.chars;
    }
    if (this.#run === run) {
      this.#reply(reply);
      this.#startQueued();
    }
  }

  /** Sends a reply within the bounds the sandbox can take; an oversize result fails its call instead. */
  #reply(frame: HostFrame & { type: 'rpc_result' }): void {
    let line: string;
    if (frame.ok && exceedsDepth(frame.value, MAX_REPLY_DEPTH)) {
      line = encodeFrame(callFailure(frame.id, `the result is nested deeper than ${MAX_REPLY_DEPTH} levels`));
    } else {
      line = encodeFrame(frame);
      if (line.length > MAX_REPLY_BYTES) {
        const size = `${(Buffer.byteLength(line) / (1024 * 1024)).toFixed(1)} MiB`;
        line = encodeFrame(
          callFailure(
            frame.id,
            `the result is ${size}; a sandbox takes at most ${MAX_REPLY_BYTES / 1048576} MiB per call`,
          ),
        );
      }
    }
    const unread = this.#output?.writableLength ?? 0;
    if (unread + line.length > MAX_UNREAD_REPLY_BYTES) {
      this.#violation(
        new ProtocolViolation(
          `the program stopped reading the host's replies (${Math.round(unread / 1048576)} MiB unread); await your calls`,
        ),
      );
      return;
    }
    this.#write(line);
  }

  #write(frame: HostFrame | string): void {
    if (!this.#output?.writable) return;
    writeBatched(this.#output, typeof frame === 'string' ? frame : encodeFrame(frame));
  }
}

function programFrame(program: SandboxProgram) {
  return {
    id: program.runId,
    code: program.code,
    servers: program.servers,
    catalog: program.catalog,
    skills: program.skills ?? [],
    ...(program.keep ? { keep: true } : {}),
  };
}

function callFailure(id: number, reason: string): HostFrame {
  return {
    type: 'rpc_result',
    id,
    ok: false,
    code: 'RESULT_TOO_LARGE',
    error: `${reason}; ask the tool for less (a page, a filter, a smaller range)`,
  };
}
