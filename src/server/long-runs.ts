/**
 * Runs that outlast a call (`run_python`'s `wait`): a run still going at the yield point returns the
 * output printed so far and a handle instead of holding the model's turn; each call with the handle
 * returns what was printed since the last return and, once the run has ended, its result. The run
 * itself keeps its own deadline. One table per principal (over stdio, the one client's), so a handle
 * is good from any of its principal's connections and from nobody else's; bounded in number, and a
 * finished run's result waits for its caller only so long. A run ends with the connection that
 * started it (`closeOrigin`): nothing guarantees anyone comes back for it.
 */
import { OutputBuffer } from '../engine/output-buffer.js';
import type { RunOptions, RunOutcome } from '../engine/types.js';

export interface LongRunsOptions {
  /** Handles one client may hold; at the cap the oldest finished one is dropped, or the run does not yield. */
  maxHandles: number;
  /** How long a finished run's result waits for a `wait` call before it is dropped. */
  keepFinishedMs: number;
  /** Cap per stream of each piece of output returned (characters; head and tail kept), as for a whole run. */
  maxOutputChars: number;
}

/** What a started run needs from its table: a signal that ends it, and a tap on its output. */
export interface LongRunHooks {
  signal: AbortSignal;
  onOutput: NonNullable<RunOptions['onOutput']>;
}

/** What one call returns: the run's end, or its output since the last return and how to wait for more. */
export type RunStep =
  | { kind: 'done'; outcome: RunOutcome }
  | {
      kind: 'running';
      handle: string;
      stdout: string;
      stderr: string;
      truncated?: { stdout?: number; stderr?: number };
      elapsedMs: number;
    };

/** One run started through the table; waited on with {@link LongRuns.next}. */
export interface LongRun {
  /** `performance.now()` when the run started. */
  readonly startedAt: number;
  /** The run's own deadline, for progress notifications. */
  readonly timeoutMs: number;
}

interface RunState extends LongRun {
  readonly controller: AbortController;
  /** The connection that started it, if the caller said. */
  readonly origin: string | undefined;
  settled: Promise<void>;
  stdout: OutputBuffer;
  stderr: OutputBuffer;
  result: { outcome: RunOutcome } | { failure: unknown } | undefined;
  /** Set once the run has returned a piece of output with a handle. */
  handle: string | undefined;
  /** Wakes the call waiting on this run, so a newer call for the same handle takes over. */
  wake: (() => void) | undefined;
  keepTimer: NodeJS.Timeout | undefined;
}

export class LongRuns {
  readonly #options: LongRunsOptions;
  /** Every run started and not yet handed back or dropped (for close). */
  readonly #runs = new Set<RunState>();
  /** Runs with a handle, oldest first. */
  readonly #handles = new Map<string, RunState>();
  #next = 0;
  #closed = false;

  constructor(options: LongRunsOptions) {
    this.#options = options;
  }

  /**
   * Starts a run (its deadline `timeoutMs`); `start` gets the run's own abort signal and an output
   * tap. `origin`: the connection starting it, whose closing ends it.
   */
  start(timeoutMs: number, start: (hooks: LongRunHooks) => Promise<RunOutcome>, origin?: string): LongRun {
    const controller = new AbortController();
    if (this.#closed) controller.abort(new Error('the client has gone'));
    const run: RunState = {
      startedAt: performance.now(),
      timeoutMs,
      controller,
      origin,
      settled: Promise.resolve(),
      stdout: new OutputBuffer(this.#options.maxOutputChars),
      stderr: new OutputBuffer(this.#options.maxOutputChars),
      result: undefined,
      handle: undefined,
      wake: undefined,
      keepTimer: undefined,
    };
    run.settled = start({
      signal: controller.signal,
      onOutput: (stream, data) => (stream === 'stdout' ? run.stdout : run.stderr).append(data),
    }).then(
      (outcome) => this.#settle(run, { outcome }),
      (failure: unknown) => this.#settle(run, { failure }),
    );
    this.#runs.add(run);
    return run;
  }

  /** The run a handle names, if this client holds it. */
  get(handle: string): LongRun | undefined {
    return this.#handles.get(handle);
  }

  /**
   * Waits for the run to end, at most `yieldAfterMs` (0: until it ends). `signal` (the caller's
   * cancellation) ends the run. A later call for the same run makes this one return at once.
   * Rejects with what the run rejected with (no program could be run).
   */
  async next(run: LongRun, yieldAfterMs: number, signal?: AbortSignal): Promise<RunStep> {
    const state = run as RunState;
    state.wake?.();
    let woken = false;
    let timer: NodeJS.Timeout | undefined;
    const cancel = () => state.controller.abort(signal?.reason);
    signal?.addEventListener('abort', cancel, { once: true });
    if (signal?.aborted) cancel();
    try {
      for (;;) {
        await new Promise<void>((resolve) => {
          state.wake = () => {
            woken = true;
            resolve();
          };
          if (yieldAfterMs > 0 && !woken) timer = setTimeout(resolve, yieldAfterMs);
          void state.settled.then(resolve);
        });
        clearTimeout(timer);
        if (state.result) return this.#finish(state);
        // Past the yield point: hand back what was printed, unless this client holds too many handles.
        if (woken || this.#register(state)) return this.#piece(state);
        yieldAfterMs = 0;
      }
    } finally {
      clearTimeout(timer);
      if (!woken) state.wake = undefined;
      signal?.removeEventListener('abort', cancel);
    }
  }

  /** Ends the runs a connection started (it has closed), and forgets their handles. */
  closeOrigin(origin: string): void {
    for (const run of [...this.#runs]) {
      if (run.origin !== origin) continue;
      run.controller.abort(new Error('the client has gone'));
      if (run.result !== undefined) this.#drop(run);
    }
  }

  /** Ends every run of this table (its principal has gone) and forgets every handle. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const run of this.#runs) {
      run.controller.abort(new Error('the client has gone'));
      clearTimeout(run.keepTimer);
    }
    this.#handles.clear();
  }

  #settle(run: RunState, result: RunState['result']): void {
    run.result = result;
    if (run.handle === undefined || run.wake) return;
    // Nobody is waiting: the result waits for its caller, for a while.
    run.keepTimer = setTimeout(() => this.#drop(run), this.#options.keepFinishedMs);
    run.keepTimer.unref();
  }

  #finish(run: RunState): RunStep {
    this.#drop(run);
    const result = run.result;
    if (!result || 'failure' in result) throw result?.failure;
    if (run.handle === undefined) return { kind: 'done', outcome: result.outcome };
    // The run returned pieces before: its result carries only what was printed since the last one.
    const { truncated: _truncated, ...outcome } = result.outcome;
    const truncated = elided(run);
    return {
      kind: 'done',
      outcome: {
        ...outcome,
        stdout: run.stdout.text(),
        stderr: run.stderr.text(),
        ...(truncated ? { truncated } : {}),
      },
    };
  }

  #piece(run: RunState): RunStep {
    const truncated = elided(run);
    const piece: RunStep = {
      kind: 'running',
      handle: run.handle as string,
      stdout: run.stdout.text(),
      stderr: run.stderr.text(),
      ...(truncated ? { truncated } : {}),
      elapsedMs: Math.round(performance.now() - run.startedAt),
    };
    run.stdout = new OutputBuffer(this.#options.maxOutputChars);
    run.stderr = new OutputBuffer(this.#options.maxOutputChars);
    return piece;
  }

  /** Gives the run a handle; false when the client already holds the most it may and none has finished. */
  #register(run: RunState): boolean {
    if (run.handle !== undefined) return true;
    if (this.#handles.size >= this.#options.maxHandles) {
      const finished = [...this.#handles.values()].find((held) => held.result !== undefined);
      if (!finished) return false;
      this.#drop(finished);
    }
    run.handle = `job-${++this.#next}`;
    this.#handles.set(run.handle, run);
    return true;
  }

  #drop(run: RunState): void {
    clearTimeout(run.keepTimer);
    this.#runs.delete(run);
    if (run.handle !== undefined && this.#handles.get(run.handle) === run) this.#handles.delete(run.handle);
  }
}

function elided(run: RunState): { stdout?: number; stderr?: number } | undefined {
  const truncated = {
    ...(run.stdout.elidedChars > 0 ? { stdout: run.stdout.elidedChars } : {}),
    ...(run.stderr.elidedChars > 0 ? { stderr: run.stderr.elidedChars } : {}),
  };
  return Object.keys(truncated).length > 0 ? truncated : undefined;
}
