/**
 * The Monty workers of one bridge. A worker serves one run at a time, each in a fresh interpreter
 * session, and is reused: a new process per run costs milliseconds of CPU, a session microseconds. A
 * used worker's `Reset` and `Configure` go out in the same write as its next run's feed (`Checkout`),
 * so a run wakes its worker once. Reuse never crosses clients: a worker
 * that has served one client connection (`owner`) serves only that client again, so a program that
 * found a way to corrupt its interpreter could at most see its own client's later runs (see the
 * threat model in docs/security.md). A worker is replaced after `maxRunsPerWorker` runs, and after
 * any run that did not end cleanly (killed, timed out, cancelled, broke the protocol).
 *
 * Idle cost: `minIdle` never-used workers are kept ready (a few MB each); an owner's idle workers
 * are ended after `ownerIdleMs` or when the owner's connection closes.
 */
import { abortable } from '../../shared/abort.js';
import { shuttingDownError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { Confinement } from './confinement.js';
import { frameRequests, type ResourceLimits } from './messages.js';
import { MontyWorker, type Preamble, WorkerGone } from './worker.js';

export interface WorkerPoolOptions {
  binary: string;
  confinement: Confinement | undefined;
  /** RLIMIT_DATA of each worker process, bytes. */
  dataLimitBytes: number;
  /** The limits every session is configured with. */
  limits: ResourceLimits;
  /** Never-used workers kept ready. Default 2. */
  minIdle?: number;
  /** Runs one process serves before it is replaced. Default 500. */
  maxRunsPerWorker?: number;
  /** An owner's idle worker is ended after this long unused. Default 60 s. */
  ownerIdleMs?: number;
  /** An idle worker gets its new session (and frees the last run's heap) after this long. Default 50 ms. */
  renewAfterMs?: number;
  logger: Logger;
}

/** A worker taken for one run, with what must precede the run's first request (a new session). */
export interface Checkout {
  worker: MontyWorker;
  preamble: Preamble | undefined;
}

export interface WorkerPoolStats {
  fresh: number;
  idle: number;
  busy: number;
  started: number;
  crashed: number;
}

const SCRIPT_NAME = '<run_python>';
/** A run's print output is sent at most this long after it was printed, ms. */
const PRINT_FLUSH_INTERVAL_MS = 20;

export class MontyWorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #minIdle: number;
  readonly #maxRuns: number;
  readonly #ownerIdleMs: number;
  readonly #renewAfterMs: number;
  /** Configured, never used. */
  readonly #fresh: MontyWorker[] = [];
  /** Configured, used by one owner, waiting for that owner's next run. */
  readonly #idle = new Map<string, Array<{ worker: MontyWorker; timer: NodeJS.Timeout }>>();
  readonly #busy = new Set<MontyWorker>();
  /** Workers that served a run and have not had a new session since (`#preamble`). */
  readonly #used = new WeakSet<MontyWorker>();
  /** `Reset` and `Configure`, the same for every session of this pool, framed once. */
  readonly #preamble: Preamble;
  #starting = 0;
  #started = 0;
  #crashed = 0;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
    this.#minIdle = options.minIdle ?? 2;
    this.#maxRuns = options.maxRunsPerWorker ?? 500;
    this.#ownerIdleMs = options.ownerIdleMs ?? 60_000;
    this.#renewAfterMs = Math.min(options.renewAfterMs ?? 50, this.#ownerIdleMs);
    this.#preamble = { frames: frameRequests([{ kind: 'reset' }, this.#configureRequest()]), requests: 2 };
  }

  /** Never-used workers the pool keeps ready. */
  get minIdle(): number {
    return this.#minIdle;
  }

  get stats(): WorkerPoolStats {
    let idle = 0;
    for (const list of this.#idle.values()) idle += list.length;
    return {
      fresh: this.#fresh.length,
      idle,
      busy: this.#busy.size,
      started: this.#started,
      crashed: this.#crashed,
    };
  }

  /** Starts the ready stock. Never throws. */
  warm(): void {
    this.#refill();
  }

  /** A worker for one run of `owner`: its own idle one, a fresh one, or a new one. */
  async acquire(owner: string, signal?: AbortSignal): Promise<Checkout> {
    if (this.#closed) throw shuttingDownError();
    const mine = this.#idle.get(owner);
    for (let entry = mine?.pop(); entry; entry = mine?.pop()) {
      clearTimeout(entry.timer);
      if (entry.worker.alive) return this.#checkOut(entry.worker, owner);
    }
    for (let worker = this.#fresh.shift(); worker; worker = this.#fresh.shift()) {
      if (worker.alive) {
        this.#refill();
        return this.#checkOut(worker, owner);
      }
    }
    const worker = await abortable(this.#start(), signal);
    this.#refill();
    return this.#checkOut(worker, owner);
  }

  /**
   * A run is over. `clean`: it ended on its own and the worker is fit for its owner's next run (after
   * a fresh session); otherwise the process is killed.
   */
  release(worker: MontyWorker, clean: boolean): void {
    this.#busy.delete(worker);
    if (!clean || !worker.alive || this.#closed || worker.runs >= this.#maxRuns) {
      if (!worker.alive) this.#crashed++;
      void worker.kill();
      this.#refill();
      return;
    }
    this.#recycle(worker);
  }

  /** Ends the idle workers of a client connection that has gone. */
  closeOwner(owner: string): void {
    const list = this.#idle.get(owner);
    this.#idle.delete(owner);
    for (const { worker, timer } of list ?? []) {
      clearTimeout(timer);
      void worker.close();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#fresh.splice(0), ...this.#busy];
    for (const [owner, list] of this.#idle) {
      this.#idle.delete(owner);
      for (const { worker, timer } of list) {
        clearTimeout(timer);
        all.push(worker);
      }
    }
    this.#busy.clear();
    await Promise.all(all.map((worker) => worker.kill()));
  }

  #checkOut(worker: MontyWorker, owner: string): Checkout {
    const preamble = this.#used.has(worker) ? this.#preamble : undefined;
    this.#used.add(worker);
    worker.owner = owner;
    worker.runs++;
    this.#busy.add(worker);
    return { worker, preamble };
  }

  /**
   * Back to the owner's idle list. Its new session goes out with its next run's feed when that run
   * comes within `renewAfterMs` (a burst: one wake-up per run), else on its own once the worker has
   * been idle that long (a run at agent pace then finds its session ready: the worker's `Reset` and
   * `Configure`, 50–80 µs, are off its path, and the last run's heap is freed).
   */
  #recycle(worker: MontyWorker): void {
    const owner = worker.owner as string;
    const list = this.#idle.get(owner) ?? [];
    const close = () => {
      const current = this.#idle.get(owner);
      const index = current?.findIndex((entry) => entry.worker === worker) ?? -1;
      if (current && index !== -1) {
        current.splice(index, 1);
        if (current.length === 0) this.#idle.delete(owner);
      }
      void worker.close();
    };
    const entry = {
      worker,
      timer: setTimeout(() => {
        if (this.#used.delete(worker)) worker.post(this.#preamble);
        entry.timer = setTimeout(close, this.#ownerIdleMs - this.#renewAfterMs);
        entry.timer.unref();
      }, this.#renewAfterMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.#idle.set(owner, list);
  }

  #refill(): void {
    while (!this.#closed && this.#fresh.length + this.#starting < this.#minIdle) {
      this.#starting++;
      this.#start()
        .then(
          (worker) => {
            if (this.#closed) void worker.kill();
            else this.#fresh.push(worker);
          },
          (error) => {
            if (!this.#closed) this.#options.logger.warn('could not start a Monty worker', { error });
          },
        )
        .finally(() => {
          this.#starting--;
        });
      // One failure must not become a tight loop of spawns: the next acquire or release refills.
      if (this.#starting > this.#minIdle) break;
    }
  }

  async #start(): Promise<MontyWorker> {
    const { binary, confinement, dataLimitBytes, logger } = this.#options;
    const worker = new MontyWorker({ binary, confinement, dataLimitBytes, logger });
    try {
      await this.#configure(worker);
    } catch (error) {
      void worker.kill();
      throw error;
    }
    this.#started++;
    return worker;
  }

  #configure(worker: MontyWorker): Promise<void> {
    return this.#expectOk(worker, this.#configureRequest());
  }

  #configureRequest(): Parameters<MontyWorker['request']>[0] {
    return {
      kind: 'configure',
      scriptName: SCRIPT_NAME,
      limits: this.#options.limits,
      printFlushIntervalMs: PRINT_FLUSH_INTERVAL_MS,
    };
  }

  async #expectOk(worker: MontyWorker, request: Parameters<MontyWorker['request']>[0]): Promise<void> {
    const event = await worker.request(request);
    if (event.kind === 'ok') return;
    const detail = event.kind === 'fatal' ? event.message : event.kind;
    throw new WorkerGone(`the Monty worker refused ${request.kind}: ${detail}`, null, null, true);
  }
}
