/**
 * The host calls of one running program (`rpc` and `call` frames), and the bounds on every queue they
 * can fill: calls in flight (`MAX_CONCURRENT_HOST_CALLS`, holding at most `MAX_IN_FLIGHT_REQUEST_CHARS`
 * of requests; more wait their turn, in order), requests waiting (past `MAX_QUEUED_REQUEST_CHARS` the
 * sandbox is no longer read, so it blocks on its own writes), replies the program has not read
 * (`MAX_UNREAD_REPLY_BYTES` ends the run: it is not reading them) and each reply's size and depth.
 * ProcessSandbox makes one per program and closes it when the program ends.
 */
import { encodeFrame, exceedsDepth, type HostFrame, ProtocolViolation } from './protocol.js';
import { HostCallError, type ReplyChannel } from './types.js';

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

/** A request the program made: its id, the length of its frame, and the work that answers it. */
export interface HostRequest {
  id: number;
  chars: number;
  call: (signal: AbortSignal) => Promise<unknown>;
}

/** Where the queue's replies go, and how it holds the sandbox back. */
export interface HostCallQueueOptions {
  /** Bytes of replies written that the program has not read yet (the channel's `writableLength`). */
  unreadBytes(): number;
  /** Writes one encoded reply. */
  write(line: string): void;
  /** Stops (true) or resumes (false) reading the sandbox's frames. */
  pauseReading(paused: boolean): void;
  /** The program broke the protocol (it stopped reading its replies): its run must end. */
  violation(violation: ProtocolViolation): void;
}

export class HostCallQueue implements ReplyChannel {
  readonly #options: HostCallQueueOptions;
  /** One controller per call in flight, aborted together when the program ends. */
  readonly #calls = new Set<AbortController>();
  /** Characters of the requests in `#calls`. */
  #inFlightChars = 0;
  readonly #waiting: HostRequest[] = [];
  #waitingChars = 0;
  /** Host operations waiting for the program to read its replies (`drained`). */
  readonly #drainWaiters: Array<() => void> = [];
  #closed = false;

  constructor(options: HostCallQueueOptions) {
    this.#options = options;
  }

  /** Takes a request: it starts at once if there is room, else waits its turn. */
  enqueue(request: HostRequest): void {
    this.#waiting.push(request);
    this.#waitingChars += request.chars;
    this.pump();
  }

  /** Resolves once the program's unread replies are below the high-water mark, or its run has ended. */
  drained(): Promise<void> {
    if (this.#closed || this.#options.unreadBytes() < REPLY_HIGH_WATER_BYTES) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Starts waiting requests while there is room, then pauses or resumes reading the sandbox. Called
   * after each change, and when the channel has drained.
   */
  pump(): void {
    if (this.#closed) return;
    const unread = this.#options.unreadBytes();
    if (this.#drainWaiters.length > 0 && unread < REPLY_HIGH_WATER_BYTES) {
      for (const wake of this.#drainWaiters.splice(0)) wake();
    }
    for (
      let next = this.#waiting[0];
      next &&
      this.#calls.size < MAX_CONCURRENT_HOST_CALLS &&
      (this.#calls.size === 0 || this.#inFlightChars + next.chars <= MAX_IN_FLIGHT_REQUEST_CHARS) &&
      this.#options.unreadBytes() < REPLY_HIGH_WATER_BYTES;
      next = this.#waiting[0]
    ) {
      this.#waiting.shift();
      this.#waitingChars -= next.chars;
      void this.#serve(next);
    }
    this.#options.pauseReading(
      this.#waitingChars > MAX_QUEUED_REQUEST_CHARS || this.#waiting.length > MAX_QUEUED_REQUESTS,
    );
  }

  /** The program has ended: calls in flight are aborted, waiting ones dropped, nothing more is sent. */
  close(): void {
    this.#closed = true;
    for (const call of this.#calls) call.abort(new Error('the program has ended'));
    this.#waiting.length = 0;
    for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  async #serve(request: HostRequest): Promise<void> {
    const controller = new AbortController();
    this.#calls.add(controller);
    this.#inFlightChars += request.chars;
    let reply: HostFrame & { type: 'rpc_result' };
    try {
      const value = (await request.call(controller.signal)) ?? null;
      reply = { type: 'rpc_result', id: request.id, ok: true, value };
    } catch (error) {
      const code = error instanceof HostCallError ? error.code : 'HOST_ERROR';
      const message = error instanceof Error ? error.message : String(error);
      reply = { type: 'rpc_result', id: request.id, ok: false, code, error: message };
    } finally {
      this.#calls.delete(controller);
      this.#inFlightChars -= request.chars;
    }
    if (!this.#closed) {
      this.#reply(reply);
      this.pump();
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
    const unread = this.#options.unreadBytes();
    if (unread + line.length > MAX_UNREAD_REPLY_BYTES) {
      this.#options.violation(
        new ProtocolViolation(
          `the program stopped reading the host's replies (${Math.round(unread / 1048576)} MiB unread); await your calls`,
        ),
      );
      return;
    }
    this.#options.write(line);
  }
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
