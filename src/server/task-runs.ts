/**
 * Runs started as MCP tasks (spec 2025-11-25): a `tools/call` with a `task` field returns a task at
 * once, and the client follows it with `tasks/get`, `tasks/result`, `tasks/cancel` and `tasks/list`.
 * One table per principal, as long-runs.ts keeps `wait` handles: every connection of the principal
 * sees its tasks and nobody else does (the SDK passes each request's MCP session id; this table is
 * the principal's, so it is ignored). A run started as a task is only a task: it never gets a `wait`
 * handle, and a `wait` handle never names one.
 *
 * Bounded: at most `maxTasks` per principal (the oldest ended one makes room; when every one is still
 * running a new one is refused), and an ended task is kept `ttl` after its run ended (the client's
 * `ttl`, capped; the SDK's own store counts it the same way). A running task is never dropped: its
 * run's own deadline ends it. Implements the SDK's experimental `TaskStore`, whose `tasks/list` and
 * `tasks/cancel` handlers use it; the bridge answers `tasks/get` and `tasks/result` itself (tasks.ts).
 */
import { randomUUID } from 'node:crypto';
import {
  type CreateTaskOptions,
  isTerminal,
  type TaskStore,
} from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import {
  ErrorCode,
  type McpError,
  type Request,
  type RequestId,
  type Result,
  type Task,
} from '@modelcontextprotocol/sdk/types.js';
import { ProtocolError } from '../shared/errors.js';

export interface TaskRunsOptions {
  /** Tasks one principal may hold, running or ended. */
  maxTasks: number;
  /** How long an ended task is kept when the client asks for no `ttl`. */
  defaultTtlMs: number;
  /** The longest `ttl` granted; a longer request gets this. */
  maxTtlMs: number;
  /** Tasks per `tasks/list` page. */
  pageSize: number;
  /** How often a client should poll `tasks/get`, as the task tells it. */
  pollIntervalMs: number;
}

/** What a task's work is given: the signal `tasks/cancel` aborts, and a way to say it waits on the user. */
export interface TaskHooks {
  signal: AbortSignal;
  /** The task is `input_required` while its run waits for the user (an approval prompt), `working` after. */
  setWaiting(waiting: boolean): void;
}

/**
 * How a task's work ended: the result `tasks/result` returns (`failed`: a tool result with `isError`,
 * the task ends `failed` as the spec says), or a JSON-RPC error it returns instead.
 */
export type TaskEnd = { result: Result; failed: boolean; message?: string } | { error: McpError };

/** Sends `notifications/tasks/status` to the connection that started the task, while it is open. */
export type TaskStatusSink = (task: Task) => void;

interface TaskRecord {
  task: Task;
  /** Creation order, the `tasks/list` cursor. */
  readonly seq: number;
  end: { result: Result } | { error: McpError } | undefined;
  readonly ended: Promise<void>;
  readonly markEnded: () => void;
  readonly controller: AbortController;
  notify: TaskStatusSink | undefined;
  keepTimer: NodeJS.Timeout | undefined;
}

const CURSOR = /^\d{1,15}$/;

export class TaskRuns implements TaskStore {
  readonly #options: TaskRunsOptions;
  /** Oldest first (a Map keeps insertion order). */
  readonly #tasks = new Map<string, TaskRecord>();
  #seq = 0;
  #closed = false;

  constructor(options: TaskRunsOptions) {
    this.#options = options;
  }

  /** The `ttl` this table grants for a client's request (`null` or none: the default). */
  grantedTtl(requested: number | null | undefined): number {
    if (requested === null || requested === undefined) return this.#options.defaultTtlMs;
    return Math.min(Math.max(0, Math.round(requested)), this.#options.maxTtlMs);
  }

  /**
   * Creates a task and starts its work, which gets the task's abort signal; `notify` is told each
   * change of status after this one. Throws `McpError` when the principal holds `maxTasks` running ones.
   */
  start(
    params: CreateTaskOptions,
    work: (hooks: TaskHooks) => Promise<TaskEnd>,
    notify?: TaskStatusSink,
  ): Task {
    const record = this.#create(params);
    record.notify = notify;
    const hooks: TaskHooks = {
      signal: record.controller.signal,
      setWaiting: (waiting) => {
        const status = waiting ? 'input_required' : 'working';
        if (!isTerminal(record.task.status) && record.task.status !== status) this.#setStatus(record, status);
      },
    };
    work(hooks).then(
      (end) => this.#end(record, end),
      (error: unknown) =>
        this.#end(record, {
          error: new ProtocolError(
            ErrorCode.InternalError,
            error instanceof Error ? error.message : String(error),
          ),
        }),
    );
    return { ...record.task };
  }

  /** The task's result once its run has ended (waits for it; `signal`: the caller gave up). */
  async result(taskId: string, signal: AbortSignal): Promise<Result> {
    const record = this.#tasks.get(taskId);
    if (!record) throw this.#notFound(taskId);
    if (!record.end) {
      await new Promise<void>((resolve, reject) => {
        const abandon = () =>
          reject(new ProtocolError(ErrorCode.RequestTimeout, 'tasks/result was cancelled'));
        if (signal.aborted) abandon();
        signal.addEventListener('abort', abandon, { once: true });
        void record.ended.then(() => {
          signal.removeEventListener('abort', abandon);
          resolve();
        });
      });
    }
    const end = record.end as NonNullable<TaskRecord['end']>;
    if ('error' in end) throw end.error;
    return end.result;
  }

  /** The task, or the spec's error for an id this principal does not hold. */
  describe(taskId: string): Task {
    const record = this.#tasks.get(taskId);
    if (!record) throw this.#notFound(taskId);
    return { ...record.task };
  }

  /** Ends every task's run (the principal has gone) and forgets every task. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const record of this.#tasks.values()) {
      record.controller.abort(new Error('the client has gone'));
      clearTimeout(record.keepTimer);
      // A tasks/result still waiting is answered, not left hanging.
      if (record.end === undefined) {
        record.end = {
          error: new ProtocolError(ErrorCode.ConnectionClosed, 'the task ended: its client has gone'),
        };
        record.markEnded();
      }
    }
    this.#tasks.clear();
  }

  // The SDK's TaskStore, for its tasks/list and tasks/cancel handlers. The session id is ignored: this
  // table is one principal's, shared by its connections.

  async createTask(params: CreateTaskOptions, _requestId: RequestId, _request: Request): Promise<Task> {
    return { ...this.#create(params).task };
  }

  async getTask(taskId: string): Promise<Task | null> {
    const record = this.#tasks.get(taskId);
    return record ? { ...record.task } : null;
  }

  async storeTaskResult(taskId: string, status: 'completed' | 'failed', result: Result): Promise<void> {
    const record = this.#tasks.get(taskId);
    if (!record) throw this.#notFound(taskId);
    this.#end(record, { result, failed: status === 'failed' });
  }

  async getTaskResult(taskId: string): Promise<Result> {
    const record = this.#tasks.get(taskId);
    if (!record) throw this.#notFound(taskId);
    if (!record.end)
      throw new ProtocolError(ErrorCode.InvalidParams, `Task ${taskId} is still ${record.task.status}`);
    if ('error' in record.end) throw record.end.error;
    return record.end.result;
  }

  /** `cancelled` aborts the task's run: the sandbox is killed, the slot freed. */
  async updateTaskStatus(taskId: string, status: Task['status'], statusMessage?: string): Promise<void> {
    const record = this.#tasks.get(taskId);
    if (!record) throw this.#notFound(taskId);
    if (isTerminal(record.task.status)) {
      throw new ProtocolError(
        ErrorCode.InvalidParams,
        `Task ${taskId} has ended (${record.task.status}); its status no longer changes`,
      );
    }
    this.#setStatus(record, status, statusMessage);
    if (status === 'cancelled') record.controller.abort(new Error('the task was cancelled (tasks/cancel)'));
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    if (cursor !== undefined && !CURSOR.test(cursor)) {
      throw new ProtocolError(
        ErrorCode.InvalidParams,
        `Invalid cursor ${JSON.stringify(cursor.slice(0, 64))}: pass the nextCursor of the previous tasks/list page, or none for the first`,
      );
    }
    const after = cursor === undefined ? 0 : Number(cursor);
    const rest = [...this.#tasks.values()].filter((record) => record.seq > after);
    const page = rest.slice(0, this.#options.pageSize);
    const last = page.at(-1);
    return {
      tasks: page.map((record) => ({ ...record.task })),
      ...(rest.length > page.length && last ? { nextCursor: String(last.seq) } : {}),
    };
  }

  #create(params: CreateTaskOptions): TaskRecord {
    this.#makeRoom();
    const now = new Date().toISOString();
    let markEnded = () => {};
    const ended = new Promise<void>((resolve) => {
      markEnded = resolve;
    });
    const record: TaskRecord = {
      task: {
        taskId: randomUUID(),
        status: 'working',
        ttl: this.grantedTtl(params.ttl),
        createdAt: now,
        lastUpdatedAt: now,
        pollInterval: this.#options.pollIntervalMs,
      },
      seq: ++this.#seq,
      end: undefined,
      ended,
      markEnded,
      controller: new AbortController(),
      notify: undefined,
      keepTimer: undefined,
    };
    if (this.#closed) record.controller.abort(new Error('the client has gone'));
    this.#tasks.set(record.task.taskId, record);
    return record;
  }

  /** At the cap, drops the oldest ended task; refuses when every task is still running. */
  #makeRoom(): void {
    if (this.#tasks.size < this.#options.maxTasks) return;
    for (const record of this.#tasks.values()) {
      if (record.end !== undefined) {
        this.#drop(record);
        return;
      }
    }
    throw new ProtocolError(
      ErrorCode.InvalidRequest,
      `${this.#options.maxTasks} of your tasks are still running, the most one principal may hold: ` +
        'wait for one to end (tasks/result) or cancel one (tasks/cancel), then start this one again',
    );
  }

  #end(record: TaskRecord, end: TaskEnd): void {
    if (record.end !== undefined || this.#tasks.get(record.task.taskId) !== record) return;
    if ('error' in end) {
      record.end = { error: end.error };
      if (!isTerminal(record.task.status)) this.#setStatus(record, 'failed', end.error.message);
    } else {
      record.end = { result: end.result };
      // A cancelled task stays cancelled (the spec): its result is the run's own `cancelled` outcome.
      if (!isTerminal(record.task.status)) {
        this.#setStatus(record, end.failed ? 'failed' : 'completed', end.message);
      }
    }
    record.markEnded();
    record.keepTimer = setTimeout(() => this.#drop(record), record.task.ttl ?? this.#options.defaultTtlMs);
    record.keepTimer.unref();
  }

  #setStatus(record: TaskRecord, status: Task['status'], statusMessage?: string): void {
    record.task.status = status;
    if (statusMessage !== undefined) record.task.statusMessage = statusMessage;
    else delete record.task.statusMessage;
    record.task.lastUpdatedAt = new Date().toISOString();
    record.notify?.({ ...record.task });
  }

  #drop(record: TaskRecord): void {
    clearTimeout(record.keepTimer);
    if (this.#tasks.get(record.task.taskId) === record) this.#tasks.delete(record.task.taskId);
  }

  #notFound(taskId: string): McpError {
    return new ProtocolError(
      ErrorCode.InvalidParams,
      `No task ${JSON.stringify(taskId.slice(0, 64))}: a task is kept for its ttl after its run ended, ` +
        'and only for the principal that started it; run the code again as a new task',
    );
  }
}
