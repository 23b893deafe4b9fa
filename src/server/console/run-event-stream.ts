/**
 * One subscriber of the console's live runs, as server-sent events. Deltas (a call, a call's end, a
 * chunk of output, a run's end) go out while the socket takes them; while it does not (the client
 * reads slower than runs change, or not at all), deltas are no longer sent: the runs they changed are
 * noted, and each goes out whole (its newest state, a `run` event) when the socket drains. What the bridge holds
 * for a subscriber is therefore one write's worth beyond what the kernel buffers and a bounded list
 * of runs, however busy they are. A subscriber whose socket takes nothing for a whole keep-alive period while updates wait is
 * dropped (a client that stopped reading, or a dead peer holding a descriptor); a page's EventSource
 * then reconnects and reloads the runs.
 */
import type { ServerResponse } from 'node:http';
import type { FeedRun } from './run-feed.js';

/**
 * A comment line this often keeps proxies from closing a quiet stream. A subscriber still unable to
 * take data at two ticks in a row (15–30 s without progress) is dropped.
 */
const KEEP_ALIVE_MS = 15_000;
/** Runs waiting for a full socket beyond which the subscriber is dropped at once (the feed keeps 100). */
const MAX_PENDING_RUNS = 100;

export interface RunEventStreamOptions {
  /** Called once when the subscriber is dropped for falling behind, with why. */
  onDropped(reason: string): void;
}

export class RunEventStream {
  readonly #response: ServerResponse;
  readonly #options: RunEventStreamOptions;
  /** Runs changed while the socket was full, by id: only their newest state is sent. */
  readonly #pending = new Map<string, FeedRun>();
  #stalled = false;
  #stalledAtLastKeepAlive = false;
  readonly #keepAlive: NodeJS.Timeout;
  #closed = false;

  constructor(response: ServerResponse, options: RunEventStreamOptions) {
    this.#response = response;
    this.#options = options;
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.#write(': connected\n\n');
    this.#keepAlive = setInterval(() => this.#tick(), KEEP_ALIVE_MS);
    this.#keepAlive.unref();
    response.on('drain', () => this.#flush());
  }

  /** A run changed; `delta` is the change's JSON, shared by every subscriber that sends it at once. */
  update(run: FeedRun, delta: () => string): void {
    if (this.#closed) return;
    if (this.#stalled) {
      this.#pending.set(run.id, run);
      if (this.#pending.size > MAX_PENDING_RUNS) {
        this.#drop(`more than ${MAX_PENDING_RUNS} runs changed while its socket took nothing`);
      }
      return;
    }
    this.#write(event(delta()));
  }

  /** Stops for good (the client left, or the subscriber was dropped). */
  close(): void {
    this.#closed = true;
    clearInterval(this.#keepAlive);
    this.#pending.clear();
  }

  #write(text: string): void {
    if (!this.#response.write(text)) this.#stalled = true;
  }

  #flush(): void {
    if (this.#closed) return;
    this.#stalled = false;
    this.#stalledAtLastKeepAlive = false;
    for (const [id, run] of this.#pending) {
      this.#pending.delete(id);
      this.#write(event(JSON.stringify({ type: 'run', run })));
      if (this.#stalled) return;
    }
  }

  #tick(): void {
    if (this.#stalled) {
      if (this.#stalledAtLastKeepAlive)
        this.#drop(`its socket took nothing for over ${KEEP_ALIVE_MS / 1000} s`);
      this.#stalledAtLastKeepAlive = true;
      return;
    }
    this.#write(': keep-alive\n\n');
  }

  #drop(reason: string): void {
    if (this.#closed) return;
    this.close();
    this.#options.onDropped(reason);
    this.#response.destroy();
  }
}

/** An unnamed event (the page's `message` listener): its data says what it is (`{"type": "call", …}`). */
function event(json: string): string {
  return `data: ${json}\n\n`;
}
