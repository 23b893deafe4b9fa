/**
 * The audit log (`MCP_BRIDGE_AUDIT_LOG`): one JSON line per tool call a program made or tried, with
 * the policy's decision. Arguments are recorded as a digest and a size; their values only when
 * `MCP_BRIDGE_AUDIT_VALUES=1` (and then with the server's secrets redacted). The file is rotated by
 * size: `audit.jsonl` → `audit.jsonl.1` → … → `audit.jsonl.<files>`, the oldest dropped. Written
 * synchronously through one descriptor, so a line is on disk before the program sees its result.
 * One run writes a bounded number of lines (the policy gate counts them): past its cap, its calls are
 * counted and summarised in one {@link AuditSummary} line when it ends, so no run can rotate the
 * records of others (or its own first ones) out of the log.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import type { PolicyAction } from './policy.js';

/** Audit lines one run may write when not configured otherwise (MCP_BRIDGE_AUDIT_RUN_LINES). */
export const DEFAULT_AUDIT_RUN_LINES = 1000;

export type AuditOutcome = 'ok' | 'error' | 'refused' | 'aborted';
export type ApprovalOutcome =
  | 'accepted'
  | 'remembered'
  | 'declined'
  | 'cancelled'
  | 'unanswered'
  | 'unsupported'
  /** The arguments were too large to show in a prompt, so nobody was asked. */
  | 'unshowable';

export interface AuditRecord {
  /** ISO time the call started. */
  time: string;
  /** The bridge process, so runs of different bridges (or restarts) sharing a file stay apart. */
  pid: number;
  run: string;
  /** Who the run was for: the principal's id (`local` over stdio; a tokens-file name, an OAuth `sub`). */
  principal?: string;
  /** The MCP session, when the transport has one. */
  session?: string;
  server: string;
  tool: string;
  /** The policy's decision and its rule; absent when no policy is configured. */
  action?: PolicyAction;
  rule?: string;
  approval?: ApprovalOutcome;
  outcome: AuditOutcome;
  /** The error code of a failed or refused call (`POLICY_DENIED`, `TOOL_ERROR`, …). */
  code?: string;
  /** Why a call was refused (the bridge's own words, no values). */
  reason?: string;
  /** SHA-256 and UTF-8 size of the arguments' JSON. */
  args: { sha256: string; bytes: number };
  /** The arguments themselves, only with `MCP_BRIDGE_AUDIT_VALUES=1`. */
  values?: unknown;
  ms: number;
  /** Size of the result's JSON, for a call that returned one. */
  bytes?: number;
  /** Values in the result replaced by placeholders. */
  tokenized?: number;
}

/**
 * The last line of a run that reached its cap of lines: how many of its calls came after, by outcome
 * and by server and tool (the most frequent names; the rest counted in `others`).
 */
export interface AuditSummary {
  /** ISO time the run ended. */
  time: string;
  pid: number;
  run: string;
  principal?: string;
  session?: string;
  kind: 'summary';
  /** The cap that was reached, as it is set: `MCP_BRIDGE_AUDIT_RUN_LINES=1000`. */
  cap: string;
  /** Calls after the cap, each counted here instead of written. */
  calls: number;
  outcomes: Partial<Record<AuditOutcome, number>>;
  /** Calls by server, then by tool name. */
  tools: Record<string, Record<string, number>>;
  /** Calls to tools beyond the names kept in `tools`. */
  others?: number;
}

/** A line of the log: one call, or the summary that ends a run's capped lines. */
export type AuditEntry = AuditRecord | AuditSummary;

export function isSummary(entry: AuditEntry): entry is AuditSummary {
  return (entry as AuditSummary).kind === 'summary';
}

export interface AuditLogOptions {
  path: string;
  /** Rotate before a line would take the file past this size. */
  maxBytes: number;
  /** Rotated files kept beside the current one. */
  files: number;
}

/** Digest and size of a value's JSON (arguments as the sandbox sent them). */
export function digest(value: unknown): { sha256: string; bytes: number } {
  const json = JSON.stringify(value) ?? 'null';
  return { sha256: createHash('sha256').update(json).digest('hex'), bytes: Buffer.byteLength(json) };
}

export class AuditLog {
  readonly #options: AuditLogOptions;
  #fd: number;
  #size: number;

  /** Opens (creating, mode 0600) the log; throws when it cannot, so the bridge does not start unaudited. */
  constructor(options: AuditLogOptions) {
    this.#options = options;
    mkdirSync(dirname(options.path), { recursive: true });
    this.#fd = openSync(options.path, 'a', 0o600);
    this.#size = statSync(options.path).size;
  }

  get path(): string {
    return this.#options.path;
  }

  /** The size one file of the log may reach. */
  get maxBytes(): number {
    return this.#options.maxBytes;
  }

  /** Writes one line; returns its size in bytes. */
  write(entry: AuditEntry): number {
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    if (this.#size > 0 && this.#size + line.length > this.#options.maxBytes) this.#rotate();
    writeSync(this.#fd, line);
    this.#size += line.length;
    return line.length;
  }

  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }

  #rotate(): void {
    closeSync(this.#fd);
    const { path, files } = this.#options;
    // rename overwrites, so the oldest kept file is replaced by the one before it
    for (let n = files; n >= 2; n--)
      if (existsSync(`${path}.${n - 1}`)) renameSync(`${path}.${n - 1}`, `${path}.${n}`);
    if (files >= 1) renameSync(path, `${path}.1`);
    this.#fd = openSync(path, 'w', 0o600);
    this.#size = 0;
  }
}

/** The log's files, oldest first (`audit.jsonl.<n>` … `.1`, then the current one), those that exist. */
export function auditFiles(path: string, maxFiles = 100): string[] {
  const files: string[] = [];
  for (let n = maxFiles; n >= 1; n--) if (existsSync(`${path}.${n}`)) files.push(`${path}.${n}`);
  if (existsSync(path)) files.push(path);
  return files;
}

/** Every entry of the log and its rotations, oldest first; lines that are not entries are skipped. */
export function readAuditLog(path: string): AuditEntry[] {
  const records: AuditEntry[] = [];
  for (const file of auditFiles(path)) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        const value = JSON.parse(line) as AuditEntry | null;
        if (!value || typeof value !== 'object' || typeof value.run !== 'string') continue;
        if (isSummary(value) ? typeof value.tools === 'object' : typeof value.server === 'string') {
          records.push(value);
        }
      } catch {
        // a torn last line (the bridge was killed mid-write) is not worth failing the command
      }
    }
  }
  return records;
}
