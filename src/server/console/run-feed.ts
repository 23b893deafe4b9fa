/**
 * The console's run feed: the runs in flight and the most recent ones, each with its code, output,
 * status and a timeline of tool calls, kept in memory (bounded) and pushed to listeners as they change.
 * It is a RunObserver: the engine tells it about every run, from any session or the console itself.
 */
import type { RunObservation, RunObserver, ToolCallOutcome } from '../../engine/run-observer.js';

/** Runs kept after they end. */
const KEEP_RUNS = 100;
/** Code and output are cut to this many characters per field (the run's own caps apply first). */
const MAX_TEXT_CHARS = 20_000;
const MAX_CALLS_PER_RUN = 500;
/** Tool names are the program's to choose (a call to a tool nobody listed is still shown). */
const MAX_NAME_CHARS = 200;

export interface FeedToolCall {
  server: string;
  tool: string;
  /** Milliseconds after the run started. */
  atMs: number;
  durationMs?: number;
  outcome?: ToolCallOutcome;
  error?: string;
}

export interface FeedRun {
  id: string;
  code: string;
  servers: string[];
  session?: string;
  startedAt: number;
  status: 'running' | 'ok' | 'error' | 'timeout' | 'cancelled' | 'killed' | 'protocol_error' | 'not_started';
  durationMs?: number;
  stdout?: string;
  stderr?: string;
  error?: string;
  toolCalls: FeedToolCall[];
  /** Calls beyond the ones kept. */
  droppedCalls: number;
}

/** Told of a run each time it changes, with its JSON now (computed on first use, once for all listeners). */
export type RunListener = (run: FeedRun, json: () => string) => void;

const cut = (text: string) =>
  text.length <= MAX_TEXT_CHARS
    ? text
    : `${text.slice(0, MAX_TEXT_CHARS)}\n… (${text.length - MAX_TEXT_CHARS} more characters)`;

export class RunFeed {
  readonly #runs: FeedRun[] = [];
  readonly #listeners = new Set<RunListener>();
  readonly observer: RunObserver = { runStarted: (run) => this.#started(run) };

  /** Newest first. */
  runs(): FeedRun[] {
    return [...this.#runs].reverse();
  }

  /** Called with a run each time it changes; returns the unsubscribe function. */
  subscribe(listener: RunListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(run: FeedRun): void {
    // Serialized at most once per change, however many subscribers send it.
    let json: string | undefined;
    const serialized = () => {
      json ??= JSON.stringify(run);
      return json;
    };
    for (const listener of this.#listeners) {
      try {
        listener(run, serialized);
      } catch {}
    }
  }

  #started(start: Parameters<RunObserver['runStarted']>[0]): RunObservation {
    const run: FeedRun = {
      id: start.runId,
      code: cut(start.code),
      servers: start.servers,
      ...(start.session !== undefined ? { session: start.session } : {}),
      startedAt: start.startedAt,
      status: 'running',
      toolCalls: [],
      droppedCalls: 0,
    };
    this.#runs.push(run);
    // Drop the oldest finished runs beyond the limit (runs in flight are always kept).
    while (this.#runs.length > KEEP_RUNS) {
      const index = this.#runs.findIndex((each) => each.status !== 'running');
      if (index < 0) break;
      this.#runs.splice(index, 1);
    }
    this.#emit(run);
    return {
      toolCall: (server, tool) => {
        if (run.toolCalls.length >= MAX_CALLS_PER_RUN) {
          run.droppedCalls++;
          return () => {};
        }
        const call: FeedToolCall = {
          server: server.slice(0, MAX_NAME_CHARS),
          tool: tool.slice(0, MAX_NAME_CHARS),
          atMs: Date.now() - run.startedAt,
        };
        run.toolCalls.push(call);
        this.#emit(run);
        return (end) => {
          call.durationMs = Math.round(end.durationMs * 10) / 10;
          call.outcome = end.outcome;
          if (end.error) call.error = end.error.slice(0, 500);
          this.#emit(run);
        };
      },
      ended: (outcome) => {
        run.status = outcome.status;
        run.durationMs = outcome.durationMs;
        run.stdout = cut(outcome.stdout);
        run.stderr = cut(outcome.stderr);
        if (outcome.error) run.error = cut(outcome.error);
        this.#emit(run);
      },
      failed: (error) => {
        run.status = 'not_started';
        run.durationMs = Date.now() - run.startedAt;
        run.error = cut(error instanceof Error ? error.message : String(error));
        this.#emit(run);
      },
    };
  }
}
