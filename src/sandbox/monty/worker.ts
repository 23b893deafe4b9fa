/**
 * One Monty worker process (`monty subprocess`): a long-lived, crash-isolated interpreter speaking
 * length-prefixed protobuf frames on its stdin/stdout, one request and its events at a time. Any
 * misbehaviour (a frame over the size cap, bytes that do not decode, an exit) ends the worker and
 * fails only the request waiting on it.
 */
import type { ChildProcess } from 'node:child_process';
import { killProcessGroup } from '../../shared/kill-group.js';
import type { Logger } from '../../shared/logger.js';
import { summarizeDiagnostics } from '../diagnostics.js';
import { type Confinement, spawnWorker, workerCommand } from './confinement.js';
import { type ChildEvent, decodeEvent, frameRequests, type ParentRequest } from './messages.js';
import { WireError } from './wire.js';

/** One event frame: big enough for a print of a large string, small enough to bound the host. */
export const MAX_EVENT_BYTES = 64 * 1024 * 1024;
const DIAGNOSTICS_CHARS = 4096;

export interface WorkerOptions {
  binary: string;
  confinement: Confinement | undefined;
  /** RLIMIT_DATA of the process, bytes (a backstop to Monty's own heap limit). */
  dataLimitBytes: number;
  logger: Logger;
}

/** Why a worker can serve no more: it exited, or it broke the protocol and was killed. */
export class WorkerGone extends Error {
  override readonly name = 'WorkerGone';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly violation: boolean,
  ) {
    super(message);
  }
}

/** Requests framed once and sent ahead of another in the same write; each must be answered `Ok`. */
export interface Preamble {
  frames: Buffer;
  requests: number;
}

let nextWorkerId = 0;

export class MontyWorker {
  readonly id = `monty-${process.pid}-${++nextWorkerId}`;
  /** Runs this process has served (it is recycled after a number of them). */
  runs = 0;
  /** The client connection whose runs this process has served, once it has served one. */
  owner: string | undefined;
  readonly #child: ChildProcess;
  readonly #logger: Logger;
  readonly #exited: Promise<void>;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  /** The length of the frame being read, once its header is in. */
  #frameBytes: number | undefined;
  /**
   * What the worker owes, in order: a reply someone awaits, or an `Ok` to a request of a preamble
   * (a new session's `Reset`/`Configure`, sent in the same write as the request that follows them).
   */
  readonly #owed: Array<
    { resolve: (event: ChildEvent) => void; reject: (error: WorkerGone) => void } | 'ok'
  > = [];
  #onPrint: ((event: ChildEvent & { kind: 'print' }) => void) | undefined;
  #gone: WorkerGone | undefined;
  #diagnostics = '';

  constructor(options: WorkerOptions) {
    this.#logger = options.logger;
    const command = workerCommand(options.binary, options.confinement, options.dataLimitBytes);
    this.#child = spawnWorker(command, options.confinement);
    this.#child.stdin?.on('error', () => {});
    this.#child.stdout?.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (text: string) => {
      this.#diagnostics = (this.#diagnostics + text).slice(-DIAGNOSTICS_CHARS);
      this.#logger.debug('monty worker stderr', { worker: this.id, text: text.trim().slice(0, 500) });
    });
    this.#exited = new Promise((resolve) => {
      this.#child.once('error', (error) => {
        this.#fail(new WorkerGone(`the Monty worker could not start: ${error.message}`, null, null, false));
        resolve();
      });
      this.#child.once('close', (code, signal) => {
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        const detail = summarizeDiagnostics(this.#diagnostics);
        this.#fail(
          new WorkerGone(
            `the Monty worker ended (${how})${detail ? `: ${detail}` : ''}`,
            code,
            signal,
            false,
          ),
        );
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#gone === undefined;
  }

  /** Resolves once the process has exited, whatever the reason. */
  exited(): Promise<void> {
    return this.#exited;
  }

  /** Where the current request's print output goes (prints never end a turn). */
  onPrint(handler: ((event: ChildEvent & { kind: 'print' }) => void) | undefined): void {
    this.#onPrint = handler;
  }

  /**
   * Sends one request and resolves with the event that ends its turn (or the next suspension).
   * `preamble`: requests whose answer must be `Ok` (a new session's `Reset` and `Configure`), framed
   * once by the pool and sent before it in the same write: each write to an idle worker wakes it, and
   * on a VM a wake-up costs the writer 30–70 µs (measured), more than the worker spends on `print(1)`.
   */
  request(request: ParentRequest, preamble?: Preamble): Promise<ChildEvent> {
    if (this.#gone) return Promise.reject(this.#gone);
    const frames = frameRequests([request]);
    for (let i = 0; i < (preamble?.requests ?? 0); i++) this.#owed.push('ok');
    const reply = new Promise<ChildEvent>((resolve, reject) => {
      this.#owed.push({ resolve, reject });
    });
    const stdin = this.#child.stdin;
    if (stdin?.writable) stdin.write(preamble ? Buffer.concat([preamble.frames, frames]) : frames);
    return reply;
  }

  /** Sends requests that must be answered `Ok` without waiting for them (anything else ends the worker). */
  post(preamble: Preamble): void {
    if (this.#gone) return;
    for (let i = 0; i < preamble.requests; i++) this.#owed.push('ok');
    const stdin = this.#child.stdin;
    if (stdin?.writable) stdin.write(preamble.frames);
  }

  /** Kills the process group (bubblewrap and the interpreter) and resolves once it is gone. */
  async kill(): Promise<void> {
    killProcessGroup(this.#child);
    await this.#exited;
  }

  /** Asks the worker to exit, and kills it if it does not within `graceMs`. */
  async close(graceMs = 1000): Promise<void> {
    if (!this.#gone) this.#child.stdin?.end();
    const timer = setTimeout(() => killProcessGroup(this.#child), graceMs);
    timer.unref();
    await this.#exited;
    clearTimeout(timer);
  }

  #receive(chunk: Buffer): void {
    if (this.#gone) return;
    this.#buffered.push(chunk);
    this.#bufferedBytes += chunk.length;
    for (;;) {
      if (this.#frameBytes === undefined) {
        if (this.#bufferedBytes < 4) return;
        const length = this.#take(4).readUInt32LE(0);
        if (length > MAX_EVENT_BYTES) {
          this.#violation(
            `the program wrote more than ${MAX_EVENT_BYTES / 1048576} MiB at once (${(length / 1048576).toFixed(0)} MiB); print less`,
          );
          return;
        }
        this.#frameBytes = length;
      }
      // Chunks are joined once the whole frame is here, never per chunk (a large print arrives in many).
      if (this.#bufferedBytes < this.#frameBytes) return;
      const frame = this.#take(this.#frameBytes);
      this.#frameBytes = undefined;
      let event: ChildEvent;
      try {
        event = decodeEvent(frame);
      } catch (error) {
        this.#violation(`the Monty worker sent a frame that does not decode (${(error as Error).message})`);
        return;
      }
      this.#deliver(event);
      if (this.#gone) return;
    }
  }

  /** The next `bytes` bytes of what has arrived (the caller checked they are there). */
  #take(bytes: number): Buffer {
    const first = this.#buffered[0] as Buffer;
    let taken: Buffer;
    if (first.length >= bytes) {
      taken = first.subarray(0, bytes);
      if (first.length === bytes) this.#buffered.shift();
      else this.#buffered[0] = first.subarray(bytes);
    } else {
      const joined = Buffer.concat(this.#buffered);
      taken = joined.subarray(0, bytes);
      this.#buffered = joined.length > bytes ? [joined.subarray(bytes)] : [];
    }
    this.#bufferedBytes -= bytes;
    return taken;
  }

  #deliver(event: ChildEvent): void {
    if (event.kind === 'print') {
      this.#onPrint?.(event);
      return;
    }
    const owed = this.#owed.shift();
    if (owed === 'ok') {
      if (event.kind !== 'ok') {
        this.#violation(
          `the Monty worker refused a session request: ${event.kind === 'fatal' ? event.message : event.kind}`,
        );
      }
      return;
    }
    if (owed) owed.resolve(event);
    else this.#violation(`the Monty worker sent a ${event.kind} event nobody asked for`);
  }

  #violation(reason: string): void {
    this.#logger.warn('Monty worker broke the protocol', { worker: this.id, reason });
    this.#fail(new WorkerGone(reason, null, null, true));
    killProcessGroup(this.#child);
  }

  #fail(error: WorkerGone): void {
    if (this.#gone) return;
    this.#gone = error;
    for (const owed of this.#owed.splice(0)) if (owed !== 'ok') owed.reject(error);
  }
}

export { WireError };
