/**
 * Sessions: a sandbox kept alive between runs under a name the program's caller chose, so globals,
 * imports and `/workspace` files survive. Keyed by the owner (a principal) and the name: two
 * principals never share one. One program at a time per session (later calls wait their turn); idle
 * sessions expire; their number is capped per owner and in all, and at the bridge's cap an idle
 * session of the owner holding the most makes room for an owner holding fewer, so nobody's idle
 * sessions lock anyone else out. A session whose sandbox died (timeout, crash, memory kill, expiry,
 * reset) leaves a short record, so the next call under that name says its state was lost.
 */
import type { Sandbox } from '../sandbox/types.js';
import { BridgeError, shuttingDownError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** Why the names of ended sessions are remembered, and how many: enough for any agent's working set. */
const MAX_ENDED_SESSIONS = 256;
/** Session names: short identifiers the model can repeat exactly. */
export const SESSION_NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export interface SessionTableOptions {
  /** A session with no run for this long is ended and its sandbox removed. */
  idleMs: number;
  /** Live sessions at once, over all owners; one more is refused with the names in use. */
  maxSessions: number;
  /** Live sessions of one owner. Default: `maxSessions`. */
  maxPerOwner?: number;
  logger: Logger;
}

/** What a run learns about its session: fresh, continued, or fresh because the old one was lost. */
export interface SessionReport {
  name: string;
  state: 'new' | 'resumed' | 'restarted';
  /** Why the previous sandbox of this session is gone (when `state` is `restarted`). */
  lost?: string;
  /** Set when this run ended the session (its sandbox is gone): why. */
  ended?: string;
  /** Runs this session has served, this one included. */
  runs: number;
}

/** One live session, as `list` shows it. */
export interface SessionInfo {
  name: string;
  runs: number;
  createdAt: string;
  lastUsedAt: string;
  /** Seconds until the session expires if it stays idle. */
  expiresInS: number;
  busy: boolean;
}

interface LiveSession {
  owner: string;
  name: string;
  sandbox: Sandbox | undefined;
  runs: number;
  createdAt: number;
  lastUsedAt: number;
  /** The tail of the chain of runs waiting for this session. */
  tail: Promise<void>;
  busy: number;
  timer: NodeJS.Timeout | undefined;
  /** This life of the session: replaced when it ends, so what was keyed by it ends with it. */
  scope: object;
}

/** A session's turn: its sandbox (if it has a live one) and how to give it back. */
export interface SessionTurn {
  readonly report: SessionReport;
  /** The session's sandbox, when one survives from an earlier run. */
  readonly sandbox: Sandbox | undefined;
  /** The session's current life (see `CallContext.sessionScope`). */
  readonly scope: object;
  /** Ends the turn: `sandbox` stays for the next run, or (undefined) the session ends for `reason`. */
  finish(sandbox: Sandbox | undefined, reason?: string): void;
}

export class SessionTable {
  readonly #options: SessionTableOptions;
  readonly #live = new Map<string, LiveSession>();
  /** Why each recently ended session ended, oldest first. */
  readonly #ended = new Map<string, string>();
  #closed = false;

  constructor(options: SessionTableOptions) {
    this.#options = options;
  }

  /**
   * Waits for the session's turn (one run at a time) and returns it; creates the session when it does
   * not exist. Throws `BridgeError('SESSION_LIMIT')` when a new session would exceed the cap.
   */
  async turn(owner: string, name: string, signal: AbortSignal): Promise<SessionTurn> {
    if (this.#closed) throw shuttingDownError();
    const key = keyOf(owner, name);
    let session = this.#live.get(key);
    if (!session) {
      this.#makeRoom(owner);
      const now = Date.now();
      session = {
        owner,
        name,
        sandbox: undefined,
        runs: 0,
        createdAt: now,
        lastUsedAt: now,
        tail: Promise.resolve(),
        busy: 0,
        timer: undefined,
        scope: {},
      };
      this.#live.set(key, session);
    }
    const live = session;
    const previous = live.tail;
    let release!: () => void;
    live.tail = new Promise((resolve) => {
      release = resolve;
    });
    live.busy += 1;
    this.#stopTimer(live);
    try {
      await waitOrAbort(previous, signal);
    } catch (error) {
      // Our place in line is given up once the one before us is done.
      void previous.then(release);
      live.busy -= 1;
      this.#idle(live);
      throw error;
    }
    if (live.sandbox && !live.sandbox.alive) {
      // Its process ended between runs (a thread called os._exit, the engine removed it).
      this.#ended.set(key, 'its sandbox exited between calls');
      live.sandbox = undefined;
      live.scope = {};
    }
    const lost = live.sandbox ? undefined : this.#ended.get(key);
    this.#ended.delete(key);
    live.runs += 1;
    const report: SessionReport = {
      name,
      state: live.sandbox ? 'resumed' : lost ? 'restarted' : 'new',
      ...(lost ? { lost } : {}),
      runs: live.runs,
    };
    let finished = false;
    return {
      report,
      sandbox: live.sandbox,
      scope: live.scope,
      finish: (sandbox, reason) => {
        if (finished) return;
        finished = true;
        live.busy -= 1;
        live.lastUsedAt = Date.now();
        if (sandbox && !this.#closed && this.#live.get(key) === live) {
          live.sandbox = sandbox;
        } else {
          if (sandbox) void sandbox.destroy();
          report.ended = this.#ended.get(key) ?? reason ?? 'it was reset';
          this.#end(live, report.ended);
        }
        release();
        this.#idle(live);
      },
    };
  }

  /**
   * Throws `SESSION_LIMIT` when `owner` may not start another session: it holds its share, or the
   * bridge is full and no owner holding more than it would has an idle session to give up (the
   * least recently used one of the biggest holder goes, reporting why to its next call).
   */
  #makeRoom(owner: string): void {
    const { maxSessions } = this.#options;
    const maxPerOwner = Math.min(this.#options.maxPerOwner ?? maxSessions, maxSessions);
    const held = new Map<string, LiveSession[]>();
    for (const live of this.#live.values()) held.set(live.owner, [...(held.get(live.owner) ?? []), live]);
    const own = held.get(owner) ?? [];
    const refuse = (limit: string): never => {
      throw new BridgeError(
        'SESSION_LIMIT',
        `Too many sessions (${limit}); yours: ${own.map((each) => each.name).join(', ') || 'none'}. ` +
          'End one with `await mcp.runtime.reset_session(name)`, reuse one, or run without `session`.',
      );
    };
    if (own.length >= maxPerOwner && maxPerOwner < maxSessions) {
      refuse(`MCP_BRIDGE_MAX_SESSIONS_PER_PRINCIPAL=${maxPerOwner}`);
    }
    if (this.#live.size < maxSessions) return;
    const victim = [...held.values()]
      .filter((sessions) => sessions.length > own.length + 1)
      .sort((a, b) => b.length - a.length)
      .flatMap((sessions) =>
        sessions.filter((each) => each.busy === 0).sort((a, b) => a.lastUsedAt - b.lastUsedAt),
      )[0];
    if (!victim) refuse(`MCP_BRIDGE_MAX_SESSIONS=${maxSessions}`);
    this.#end(
      victim as LiveSession,
      `it was idle and ended to make room for another principal's session (MCP_BRIDGE_MAX_SESSIONS=${maxSessions})`,
    );
  }

  /** The caller's live sessions. */
  list(owner: string): SessionInfo[] {
    const now = Date.now();
    return [...this.#live.values()]
      .filter((session) => session.owner === owner)
      .map((session) => ({
        name: session.name,
        runs: session.runs,
        createdAt: new Date(session.createdAt).toISOString(),
        lastUsedAt: new Date(session.lastUsedAt).toISOString(),
        expiresInS: Math.max(0, Math.round((session.lastUsedAt + this.#options.idleMs - now) / 1000)),
        busy: session.busy > 0,
      }));
  }

  /**
   * Ends one of the caller's sessions (its sandbox is removed; a run in it is killed and reports
   * that). Returns whether there was one.
   */
  reset(owner: string, name: string): boolean {
    const session = this.#live.get(keyOf(owner, name));
    if (!session) return false;
    this.#end(session, 'it was reset');
    return true;
  }

  /** Ends every session of one connection (it closed). */
  closeOwner(owner: string): void {
    for (const session of [...this.#live.values()]) {
      if (session.owner === owner) this.#end(session, 'its client disconnected');
    }
  }

  /** Ends every session; later turns are refused. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const session of [...this.#live.values()]) this.#end(session, 'the bridge shut down');
  }

  /** The session's sandbox goes; the session itself too, unless runs are waiting for it. */
  #end(session: LiveSession, reason: string): void {
    const key = keyOf(session.owner, session.name);
    this.#stopTimer(session);
    if (session.busy === 0 && this.#live.get(key) === session) this.#live.delete(key);
    const sandbox = session.sandbox;
    session.sandbox = undefined;
    session.scope = {};
    if (sandbox) void sandbox.destroy();
    this.#ended.delete(key);
    this.#ended.set(key, reason);
    while (this.#ended.size > MAX_ENDED_SESSIONS) {
      const oldest = this.#ended.keys().next().value;
      if (oldest === undefined) break;
      this.#ended.delete(oldest);
    }
    this.#options.logger.debug('session ended', { session: session.name, reason });
  }

  #idle(session: LiveSession): void {
    if (session.busy > 0 || this.#live.get(keyOf(session.owner, session.name)) !== session) return;
    if (!session.sandbox) {
      // A session with nothing kept and nobody waiting holds no sandbox: it need not count.
      this.#live.delete(keyOf(session.owner, session.name));
      return;
    }
    this.#stopTimer(session);
    const seconds = Math.round(this.#options.idleMs / 1000);
    session.timer = setTimeout(
      () => this.#end(session, `it was idle for ${seconds} s (MCP_BRIDGE_SESSION_IDLE_TIMEOUT)`),
      this.#options.idleMs,
    );
    session.timer.unref();
  }

  #stopTimer(session: LiveSession): void {
    if (session.timer) clearTimeout(session.timer);
    session.timer = undefined;
  }
}

function keyOf(owner: string, name: string): string {
  return `${owner}\u0000${name}`;
}

function waitOrAbort(work: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    void work.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
