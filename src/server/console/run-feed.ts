/**
 * The console's run feed: the runs in flight and the most recent ones, each with its code, output,
 * status, principal and a timeline of tool calls (arguments, results and each tool's policy), pushed to
 * listeners as they change. Listeners get deltas (a new call, a call's
 * end, a chunk of output, the run's end), never the whole run again, so a 500-call run costs a page
 * about a thousand small events rather than a thousand copies of a growing run.
 *
 * Memory holds the runs in flight. A finished run goes to the {@link RunStore} (SQLite) when one works,
 * and leaves memory: the store keeps it across restarts and is read when a run is asked for, and a
 * listing reads summaries there (no tool calls). Without a working store the last finished runs stay
 * in memory instead, bounded by count and by characters.
 *
 * It is a RunObserver: the engine tells it about every run, from any session or the console itself.
 * A viewer sees the runs it may (`mayAccess`: an admin all, a user its own).
 *
 * Arguments and results are shown as the program sent and received them: values the policy tokenized
 * stay placeholders, and real values restored for a `restore_to` tool are never seen here (the feed
 * observes the port outside the policy gate). Each server's secrets are redacted out of them as in the
 * audit log (the upstream pool's redactor).
 */
import { mayAccess, type Principal } from '../../engine/principal.js';
import type { RunObservation, RunObserver, ToolCallOutcome } from '../../engine/run-observer.js';
import type { Logger } from '../../shared/logger.js';
import type { RunFilter, RunStore } from './run-store.js';

/** Finished runs kept in memory when no store works (one does: none), by count and by characters. */
const KEEP_RUNS = 100;
const KEEP_CHARS = 2_000_000;
/** Listed when a listing names no limit. */
const DEFAULT_LISTED = 100;
/** Code and output are cut to this many characters per field (the run's own caps apply first). */
const MAX_TEXT_CHARS = 20_000;
const MAX_CALLS_PER_RUN = 500;
/** Tool names are the program's to choose (a call to a tool nobody listed is still shown). */
const MAX_NAME_CHARS = 200;
/** A call's arguments and its result are each cut to this many characters of JSON. */
const MAX_VALUE_CHARS = 1_000;
/**
 * Characters of JSON redacted beyond the cut, so a secret that straddles it is still found (only a
 * secret longer than this could leave a prefix of itself before the cut).
 */
const REDACT_MARGIN_CHARS = 4_096;
/** Characters of arguments and results one run keeps in all; later calls keep neither. */
const MAX_VALUE_CHARS_PER_RUN = 200_000;
/** Live output is sent at most this often per run: a loop of prints makes a few events, not thousands. */
const OUTPUT_FLUSH_MS = 100;

export type RunStatus =
  | 'running'
  | 'ok'
  | 'error'
  | 'timeout'
  | 'cancelled'
  | 'killed'
  | 'protocol_error'
  | 'not_started';

export interface FeedToolCall {
  server: string;
  tool: string;
  /** Milliseconds after the run started. */
  atMs: number;
  durationMs?: number;
  outcome?: ToolCallOutcome;
  error?: string;
  /** The arguments' JSON, redacted and cut; absent past the run's budget of shown values. */
  args?: string;
  /** The result's JSON as the program got it, redacted and cut. */
  result?: string;
  /** The policy's decision for the tool, when a policy is in force. */
  policy?: { action: string; rule: string };
}

export interface FeedRun {
  /** Unique across restarts of the bridge: the engine's run id and when this bridge started. */
  id: string;
  /** The engine's run id (`run-7`), which starts again at 1 in each bridge process. */
  runId: string;
  code: string;
  servers: string[];
  session?: string;
  /** Who the run is for. */
  principal: { id: string; name: string };
  startedAt: number;
  status: RunStatus;
  durationMs?: number;
  /** Live while the run goes (cut at MAX_TEXT_CHARS); the run's own capped output once it ends. */
  stdout?: string;
  stderr?: string;
  error?: string;
  toolCalls: FeedToolCall[];
  /** Calls beyond the ones kept. */
  droppedCalls: number;
  /** Changes so far; each delta carries its number, so a page applies each once and sees a gap. */
  seq: number;
}

/** A run as a listing shows it: without its tool calls, counted instead (the page loads a run whole). */
export type RunSummary = Omit<FeedRun, 'toolCalls'> & { calls: number; partial: true };

export function summarize(run: FeedRun): RunSummary {
  const { toolCalls, ...rest } = run;
  return { ...rest, calls: toolCalls.length + run.droppedCalls, partial: true };
}

/** What changed in a run: the unit of the live feed (each with the run's `seq` after it). */
export type RunDelta = RunChange & { seq?: number };
type RunChange =
  | { type: 'run'; run: FeedRun }
  | { type: 'call'; id: string; index: number; call: FeedToolCall }
  | { type: 'call-end'; id: string; index: number; end: Partial<FeedToolCall> }
  | { type: 'output'; id: string; stream: 'stdout' | 'stderr'; text: string }
  | {
      type: 'end';
      id: string;
      end: Pick<FeedRun, 'status' | 'durationMs' | 'stdout' | 'stderr' | 'error' | 'droppedCalls'>;
    };

/**
 * Told of a run each time it changes, with the delta's JSON (computed on first use, once for all
 * listeners). A listener that cannot send deltas in order (a stalled socket) sends `run` whole later.
 */
export type RunListener = (run: FeedRun, delta: () => string) => void;

export interface RunFeedOptions {
  /** Finished runs go here, and listings read from it; undefined: memory only. */
  store?: RunStore | undefined;
  /** Scrubs `server`'s secrets out of text shown (the audit log's redaction). */
  redact?(server: string, text: string): string;
  /** The policy's decision for a tool, when a policy is in force. */
  policyFor?(server: string, tool: string): { action: string; rule: string } | undefined;
  logger?: Logger;
}

const cut = (text: string, max = MAX_TEXT_CHARS) =>
  text.length <= max ? text : `${text.slice(0, max)}\n… (${text.length - max} more characters)`;

/** Runs still going when their bridge stopped: shown as killed, with why. */
export const INTERRUPTED_ERROR = 'The bridge stopped while this run was going.';

/** About how many characters a finished run holds (its texts and shown values), for the memory bound. */
function heldChars(run: FeedRun): number {
  let chars =
    run.code.length + (run.stdout?.length ?? 0) + (run.stderr?.length ?? 0) + (run.error?.length ?? 0);
  for (const call of run.toolCalls) {
    chars += 100 + (call.args?.length ?? 0) + (call.result?.length ?? 0) + (call.error?.length ?? 0);
  }
  return chars;
}

export class RunFeed {
  /** Runs in flight, oldest first. */
  readonly #running = new Map<string, FeedRun>();
  /** Finished runs kept in memory when no store works, oldest first, with their characters. */
  readonly #finished: Array<{ run: FeedRun; chars: number }> = [];
  #finishedChars = 0;
  readonly #listeners = new Set<RunListener>();
  readonly #options: RunFeedOptions;
  /** Tells runs of this process from those of earlier ones in the store. */
  readonly #boot = Date.now().toString(36);
  readonly observer: RunObserver = { runStarted: (run) => this.#started(run) };

  constructor(options: RunFeedOptions = {}) {
    this.#options = options;
  }

  /** Whether runs outlive the process (a store is open and working). */
  get persistent(): boolean {
    return this.#options.store?.working === true;
  }

  /**
   * Summaries, newest first: the runs `viewer` may see (default: all) that match `filter`, at most
   * `limit`.
   */
  runs(viewer?: Principal, filter: RunFilter = {}, limit = DEFAULT_LISTED): RunSummary[] {
    // Newest first already, so runs started in the same millisecond keep their order in the sort.
    const inMemory = [...this.#running.values(), ...this.#finished.map((each) => each.run)].reverse();
    const live = inMemory
      .filter((run) => (!viewer || mayAccess(viewer, run.principal.id)) && matches(run, filter))
      .map(summarize);
    const store = this.#options.store;
    const principal = viewer && viewer.role !== 'admin' ? viewer.id : undefined;
    const stored = store?.working
      ? store.list({ ...filter, ...(principal ? { viewer: principal } : {}) }, limit)
      : [];
    const seen = new Set(live.map((run) => run.id));
    return [...live, ...stored.filter((run) => !seen.has(run.id))]
      .sort((a, b) => b.startedAt - a.startedAt)
      .slice(0, limit);
  }

  /** One run by id, whole, if `viewer` may see it. */
  run(id: string, viewer?: Principal): FeedRun | undefined {
    const found =
      this.#running.get(id) ??
      this.#finished.find((each) => each.run.id === id)?.run ??
      this.#options.store?.get(id);
    if (!found || (viewer && !mayAccess(viewer, found.principal.id))) return undefined;
    return found;
  }

  /** Characters of finished runs held in memory now (none while a store works). */
  get heldChars(): number {
    return this.#finishedChars;
  }

  /** Called with a run (that `viewer` may see) each time it changes; returns the unsubscribe function. */
  subscribe(listener: RunListener, viewer?: Principal): () => void {
    const filtered: RunListener = viewer
      ? (run, delta) => {
          if (mayAccess(viewer, run.principal.id)) listener(run, delta);
        }
      : listener;
    this.#listeners.add(filtered);
    return () => this.#listeners.delete(filtered);
  }

  #emit(run: FeedRun, delta: RunDelta): void {
    delta.seq = ++run.seq;
    // Serialized at most once per change, however many subscribers send it.
    let json: string | undefined;
    const serialized = () => {
      json ??= JSON.stringify(delta);
      return json;
    };
    for (const listener of this.#listeners) {
      try {
        listener(run, serialized);
      } catch {}
    }
  }

  #save(run: FeedRun): void {
    this.#options.store?.save(run);
  }

  /** A run has ended: kept by the store if it works, else in memory within both bounds. */
  #retire(run: FeedRun): void {
    this.#running.delete(run.id);
    if (this.#options.store?.working) return;
    const chars = heldChars(run);
    this.#finished.push({ run, chars });
    this.#finishedChars += chars;
    while (
      this.#finished.length > KEEP_RUNS ||
      (this.#finishedChars > KEEP_CHARS && this.#finished.length > 1)
    ) {
      const dropped = this.#finished.shift();
      if (dropped) this.#finishedChars -= dropped.chars;
    }
  }

  /** JSON of a value shown for `server`: redacted as in the audit log, then cut. */
  #shown(server: string, value: unknown): string {
    let json: string;
    try {
      json = JSON.stringify(value) ?? 'undefined';
    } catch {
      json = String(value);
    }
    const margin = MAX_VALUE_CHARS + REDACT_MARGIN_CHARS;
    const head = json.length > margin ? json.slice(0, margin) : json;
    const redacted = this.#options.redact ? this.#options.redact(server, head) : head;
    return redacted.length <= MAX_VALUE_CHARS
      ? redacted
      : `${redacted.slice(0, MAX_VALUE_CHARS)}… (${json.length} characters in all)`;
  }

  #started(start: Parameters<RunObserver['runStarted']>[0]): RunObservation {
    const run: FeedRun = {
      id: `${start.runId}-${this.#boot}`,
      runId: start.runId,
      code: cut(start.code),
      servers: start.servers,
      ...(start.session !== undefined ? { session: start.session } : {}),
      principal: { id: start.principal.id, name: start.principal.name },
      startedAt: start.startedAt,
      status: 'running',
      toolCalls: [],
      droppedCalls: 0,
      seq: 0,
    };
    this.#running.set(run.id, run);
    this.#save(run);
    this.#emit(run, { type: 'run', run });
    let valueChars = 0;
    /** Output not yet sent, per stream; flushed on a timer, and before the run's end. */
    const unsent = { stdout: '', stderr: '' };
    let flushTimer: NodeJS.Timeout | undefined;
    const flush = () => {
      flushTimer = undefined;
      for (const stream of ['stdout', 'stderr'] as const) {
        const text = unsent[stream];
        if (text === '') continue;
        unsent[stream] = '';
        this.#emit(run, { type: 'output', id: run.id, stream, text });
      }
    };
    const keepValue = (server: string, value: unknown): string | undefined => {
      if (valueChars >= MAX_VALUE_CHARS_PER_RUN) return undefined;
      const shown = this.#shown(server, value);
      valueChars += shown.length;
      return shown;
    };
    const finish = (fields: Pick<FeedRun, 'status' | 'durationMs' | 'stdout' | 'stderr' | 'error'>) => {
      if (flushTimer) clearTimeout(flushTimer);
      flush();
      Object.assign(run, fields);
      for (const key of ['stdout', 'stderr', 'error'] as const) if (run[key] === undefined) delete run[key];
      this.#save(run);
      const { status, durationMs, stdout, stderr, error, droppedCalls } = run;
      this.#emit(run, {
        type: 'end',
        id: run.id,
        end: { status, durationMs, stdout, stderr, error, droppedCalls },
      });
      this.#retire(run);
    };
    return {
      toolCall: (server, tool, _trace, args) => {
        if (run.toolCalls.length >= MAX_CALLS_PER_RUN) {
          run.droppedCalls++;
          return () => {};
        }
        const policy = this.#options.policyFor?.(server, tool);
        const shownArgs = args === undefined ? undefined : keepValue(server, args);
        const call: FeedToolCall = {
          server: server.slice(0, MAX_NAME_CHARS),
          tool: tool.slice(0, MAX_NAME_CHARS),
          atMs: Date.now() - run.startedAt,
          ...(shownArgs !== undefined ? { args: shownArgs } : {}),
          ...(policy ? { policy: { action: policy.action, rule: policy.rule } } : {}),
        };
        const index = run.toolCalls.push(call) - 1;
        this.#emit(run, { type: 'call', id: run.id, index, call });
        return (end) => {
          call.durationMs = Math.round(end.durationMs * 10) / 10;
          call.outcome = end.outcome;
          if (end.error) {
            const error = end.error.slice(0, 500);
            call.error = this.#options.redact ? this.#options.redact(server, error) : error;
          }
          if (end.result !== undefined) {
            const result = keepValue(server, end.result);
            if (result !== undefined) call.result = result;
          }
          const { durationMs, outcome, error, result } = call;
          this.#emit(run, {
            type: 'call-end',
            id: run.id,
            index,
            end: { durationMs, outcome, ...(error ? { error } : {}), ...(result ? { result } : {}) },
          });
        };
      },
      output: (stream, text) => {
        const sofar = run[stream] ?? '';
        if (sofar.length >= MAX_TEXT_CHARS) return;
        const kept = text.slice(0, MAX_TEXT_CHARS - sofar.length);
        run[stream] = sofar + kept;
        unsent[stream] += kept;
        flushTimer ??= setTimeout(flush, OUTPUT_FLUSH_MS);
      },
      ended: (outcome) =>
        finish({
          status: outcome.status,
          durationMs: outcome.durationMs,
          stdout: cut(outcome.stdout),
          stderr: cut(outcome.stderr),
          ...(outcome.error ? { error: cut(outcome.error) } : {}),
        }),
      failed: (error) =>
        finish({
          status: 'not_started',
          durationMs: Date.now() - run.startedAt,
          error: cut(error instanceof Error ? error.message : String(error)),
        }),
    };
  }
}

/** Whether a run matches a filter (the same test the store's query makes). */
export function matches(run: FeedRun, filter: RunFilter): boolean {
  if (filter.status !== undefined && run.status !== filter.status) return false;
  if (filter.server !== undefined && !run.servers.includes(filter.server)) return false;
  if (filter.session !== undefined && !(run.session ?? '').startsWith(filter.session)) return false;
  if (filter.principal !== undefined && run.principal.id !== filter.principal) return false;
  return true;
}
