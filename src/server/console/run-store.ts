/**
 * The console's runs across restarts: one SQLite file (`<MCP_BRIDGE_STATE_DIR>/console/runs.sqlite`,
 * mode 0600: it holds code and output) through better-sqlite3, bounded by a count of runs and their
 * bytes (MCP_BRIDGE_CONSOLE_RUNS, MCP_BRIDGE_CONSOLE_RUNS_SIZE), the oldest finished runs dropped
 * first. better-sqlite3 is synchronous, so saves are written behind: a run's start and end are kept
 * in memory and written with the other saves of the next FLUSH_MS in one transaction, off the run's
 * response path (on `serve --http`, a transaction and a bound check per save cost the main thread
 * about a millisecond per run; measured). A read writes what is pending first, and `close` writes it
 * before closing; a crash loses at most FLUSH_MS of history.
 *
 * The console is a convenience, the bridge's job is running code: a database that cannot be opened
 * (corrupt, unwritable, the native module missing) or that fails later is logged, and the bridge goes
 * on without keeping runs (`working` turns false; `doctor` says why).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { type FeedRun, INTERRUPTED_ERROR, type RunStatus, type RunSummary } from './run-feed.js';

/** What a listing may be narrowed to; every field optional, all must match. */
export interface RunFilter {
  status?: RunStatus;
  /** A server the run asked for. */
  server?: string;
  /** The MCP session id, or its first characters (the console shows eight). */
  session?: string;
  /** The principal's id. */
  principal?: string;
}

export interface RunStore {
  /** False once the database failed: nothing is kept, listings come from memory only. */
  readonly working: boolean;
  /** Inserts or replaces a run (at its start and at its end). */
  save(run: FeedRun): void;
  /** Summaries (no tool calls), newest first; `viewer` set: that principal's runs only. */
  list(filter: RunFilter & { viewer?: string }, limit: number): RunSummary[];
  get(id: string): FeedRun | undefined;
  close(): void;
}

export interface RunStoreBounds {
  /** Finished runs kept. */
  maxRuns: number;
  /** Bytes of their JSON kept. */
  maxBytes: number;
}

/** The database's file under the state directory. */
export function runStorePath(stateDir: string): string {
  return join(stateDir, 'console', 'runs.sqlite');
}

/** The part of better-sqlite3 used here (it ships no types of its own). */
interface Statement {
  run(...params: unknown[]): unknown;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}
interface Database {
  prepare(sql: string): Statement;
  exec(sql: string): void;
  pragma(sql: string, options?: { simple?: boolean }): unknown;
  transaction<T extends (...args: never[]) => unknown>(work: T): T;
  close(): void;
}
type DatabaseConstructor = new (
  path: string,
  options?: { readonly?: boolean; fileMustExist?: boolean },
) => Database;

/** better-sqlite3, loaded only when the console keeps runs: a missing native module is not fatal. */
function loadSqlite(): DatabaseConstructor {
  return createRequire(import.meta.url)('better-sqlite3') as DatabaseConstructor;
}

/** The bound of SQLite's page cache for the store's connection, in KiB. */
const PAGE_CACHE_KIB = 2048;
/** How long a save waits to be written with the saves that follow it, ms. */
const FLUSH_MS = 50;
/** Bytes of dropped runs after which their pages are given back to the file system. */
const VACUUM_AFTER_BYTES = 1 << 20;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  started_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  principal TEXT NOT NULL,
  session TEXT,
  servers TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  run TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started_at ON runs (started_at);
`;

/**
 * Opens (creating) the store at `path`; on any failure logs why and returns a store that keeps
 * nothing, with `reason` saying why.
 */
export function openRunStore(path: string, bounds: RunStoreBounds, logger: Logger): SqliteRunStore {
  return new SqliteRunStore(path, bounds, logger);
}

export class SqliteRunStore implements RunStore {
  readonly path: string;
  readonly #bounds: RunStoreBounds;
  readonly #logger: Logger;
  #db: Database | undefined;
  #statements:
    | {
        save: Statement;
        get: Statement;
        totals: Statement;
        oldest: Statement;
        remove: Statement;
      }
    | undefined;
  /** Saves not yet written, by run id: a run saved again before the write is written once. */
  readonly #pending = new Map<string, FeedRun>();
  #flushTimer: NodeJS.Timeout | undefined;
  /**
   * What the table holds, kept as rows are written and dropped, so a write need not count the table
   * (a scan per run, measured at milliseconds): counted once at open.
   */
  #kept = { runs: 0, bytes: 0 };
  /** The bytes of each row this store wrote `running`: its end replaces that row. */
  readonly #running = new Map<string, number>();
  /** Bytes dropped since the last incremental vacuum. */
  #dropped = 0;
  /** Why nothing is kept, once something failed. */
  reason: string | undefined;

  constructor(path: string, bounds: RunStoreBounds, logger: Logger) {
    this.path = path;
    this.#bounds = bounds;
    this.#logger = logger;
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Created 0600 before SQLite opens it: the runs' code and output are nobody else's to read.
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
      const Sqlite = loadSqlite();
      const db = new Sqlite(path);
      this.#db = db;
      // Before the first table exists (a new file), so deleted runs give their pages back.
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // SQLite's page cache is per connection and grows to its limit as runs are read and written;
      // named here so the bridge's memory does not depend on the library's default (runs are read
      // one at a time, on demand, so a small cache costs little).
      db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the database is damaged (quick_check: ${String(check)})`);
      db.exec(SCHEMA);
      this.#statements = {
        save: db.prepare(
          'INSERT OR REPLACE INTO runs (id, started_at, status, principal, session, servers, bytes, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        ),
        get: db.prepare('SELECT run FROM runs WHERE id = ?'),
        totals: db.prepare('SELECT count(*) AS runs, coalesce(sum(bytes), 0) AS bytes FROM runs'),
        oldest: db.prepare(
          "SELECT id, bytes FROM runs WHERE status != 'running' ORDER BY started_at LIMIT ?",
        ),
        remove: db.prepare('DELETE FROM runs WHERE id = ?'),
      };
      this.#markInterrupted();
      this.#kept = this.#statements.totals.get() as { runs: number; bytes: number };
      this.#prune();
    } catch (error) {
      this.#fail('cannot open', error);
    }
  }

  get working(): boolean {
    return this.#statements !== undefined;
  }

  /** Runs and bytes kept now; undefined when the store does not work. */
  totals(): { runs: number; bytes: number } | undefined {
    this.flush();
    try {
      return this.#statements?.totals.get() as { runs: number; bytes: number } | undefined;
    } catch (error) {
      this.#fail('cannot read', error);
      return undefined;
    }
  }

  save(run: FeedRun): void {
    if (!this.#statements) return;
    // Serialized when written, so a run saved at its start and again at its end is written once.
    this.#pending.delete(run.id);
    this.#pending.set(run.id, run);
    this.#flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Writes the pending saves in one transaction, then drops what the bounds no longer allow. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const statements = this.#statements;
    if (!statements || this.#pending.size === 0) return;
    const runs = [...this.#pending.values()];
    this.#pending.clear();
    try {
      (this.#db as Database).transaction(() => {
        for (const run of runs) this.#write(statements.save, run);
      })();
      if (runs.some((run) => run.status !== 'running')) this.#prune();
    } catch (error) {
      this.#fail('cannot write', error);
    }
  }

  #write(save: Statement, run: FeedRun): void {
    const json = JSON.stringify(run);
    const bytes = Buffer.byteLength(json);
    save.run(
      run.id,
      run.startedAt,
      run.status,
      run.principal.id,
      run.session ?? null,
      JSON.stringify(run.servers),
      bytes,
      json,
    );
    const replaced = this.#running.get(run.id);
    if (replaced === undefined) this.#kept.runs++;
    this.#kept.bytes += bytes - (replaced ?? 0);
    if (run.status === 'running') this.#running.set(run.id, bytes);
    else this.#running.delete(run.id);
  }

  list(filter: RunFilter & { viewer?: string }, limit: number): RunSummary[] {
    this.flush();
    const db = this.#db;
    if (!db || !this.#statements) return [];
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.viewer !== undefined) {
      where.push('principal = ?');
      params.push(filter.viewer);
    }
    if (filter.principal !== undefined) {
      where.push('principal = ?');
      params.push(filter.principal);
    }
    if (filter.status !== undefined) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.session !== undefined) {
      where.push('substr(session, 1, length(?)) = ?');
      params.push(filter.session, filter.session);
    }
    if (filter.server !== undefined) {
      where.push('EXISTS (SELECT 1 FROM json_each(runs.servers) WHERE value = ?)');
      params.push(filter.server);
    }
    try {
      // The tool calls are left in SQLite (counted there): a listing of hundreds of runs parses only
      // what it shows.
      const rows = db
        .prepare(
          `SELECT json_remove(run, '$.toolCalls') AS summary, json_array_length(run, '$.toolCalls') AS calls FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC LIMIT ?`,
        )
        .all(...params, limit) as Array<{ summary: string; calls: number }>;
      return rows.map((row) => {
        const run = JSON.parse(row.summary) as Omit<FeedRun, 'toolCalls'>;
        return { ...run, calls: row.calls + run.droppedCalls, partial: true as const };
      });
    } catch (error) {
      this.#fail('cannot read', error);
      return [];
    }
  }

  get(id: string): FeedRun | undefined {
    this.flush();
    try {
      const row = this.#statements?.get.get(id) as { run: string } | undefined;
      return row ? (JSON.parse(row.run) as FeedRun) : undefined;
    } catch (error) {
      this.#fail('cannot read', error);
      return undefined;
    }
  }

  close(): void {
    this.flush();
    this.#statements = undefined;
    try {
      this.#db?.close();
    } catch {}
    this.#db = undefined;
  }

  /** Runs an earlier bridge left `running` ended with it. */
  #markInterrupted(): void {
    const db = this.#db as Database;
    const save = (this.#statements as { save: Statement }).save;
    const rows = db.prepare("SELECT run FROM runs WHERE status = 'running'").all() as Array<{ run: string }>;
    for (const row of rows) {
      const run = JSON.parse(row.run) as FeedRun;
      this.#write(save, { ...run, status: 'killed', error: INTERRUPTED_ERROR });
    }
  }

  /** Drops the oldest finished runs until both bounds hold. */
  #prune(): void {
    const statements = this.#statements;
    if (!statements) return;
    const { maxRuns, maxBytes } = this.#bounds;
    const kept = this.#kept;
    if (kept.runs <= maxRuns && kept.bytes <= maxBytes) return;
    const db = this.#db as Database;
    db.transaction(() => {
      while (kept.runs > maxRuns || kept.bytes > maxBytes) {
        const limit = Math.max(kept.runs - maxRuns, 32);
        const oldest = statements.oldest.all(limit) as Array<{ id: string; bytes: number }>;
        if (oldest.length === 0) break;
        for (const row of oldest) {
          if (kept.runs <= maxRuns && kept.bytes <= maxBytes) break;
          statements.remove.run(row.id);
          kept.runs--;
          kept.bytes -= row.bytes;
          this.#dropped += row.bytes;
        }
      }
    })();
    if (this.#dropped >= VACUUM_AFTER_BYTES) {
      this.#dropped = 0;
      db.pragma('incremental_vacuum');
    }
  }

  #fail(what: string, error: unknown): void {
    this.reason = `${what} ${this.path}: ${errorMessage(error)}`;
    this.#logger.warn('the console keeps no runs across restarts: its database failed', {
      error: this.reason,
    });
    this.close();
  }
}

/**
 * For `doctor`: what the store at `path` holds, read-only (nothing created, nothing dropped), or why
 * the bridge could not use it.
 */
export function inspectRunStore(path: string): string {
  if (!existsSync(path)) return `none yet at ${path} (created by the first serve --http)`;
  try {
    const db = new (loadSqlite())(path, { readonly: true, fileMustExist: true });
    try {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the database is damaged (quick_check: ${String(check)})`);
      const { runs, bytes } = db
        .prepare('SELECT count(*) AS runs, coalesce(sum(bytes), 0) AS bytes FROM runs')
        .get() as { runs: number; bytes: number };
      return `${path}: ${runs} runs, ${Math.round(bytes / 1024)} KiB`;
    } finally {
      db.close();
    }
  } catch (error) {
    return `${path} cannot be used (${errorMessage(error)}): serve --http runs without keeping runs across restarts; move the file away to start afresh`;
  }
}
