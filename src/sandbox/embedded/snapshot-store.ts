/**
 * The Pyodide memory snapshot cache under `<MCP_BRIDGE_STATE_DIR>/embedded/`. A snapshot turns a
 * ~2.5 s cold worker start into ~0.3 s. Files are named `pyodide-<key>-<sha256 prefix>.snap`: the key
 * says what made it (snapshot-key.ts), the digest lets a bridge verify the contents once (Pyodide has
 * no checksum and some corruptions load silently); workers check the size on every start. The check
 * (~50–90 ms of hashing 30 MB) runs beside the first workers' start rather than before it: a worker
 * started from a snapshot is used only once `verify` has said its contents are sound.
 * Files are written to a temp name and renamed, so concurrent bridges never see half a file.
 * Nothing here throws at its callers: without a snapshot, workers start cold.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/logger.js';

/** Rebuilds per bridge: a snapshot that keeps being rejected must not make every start rebuild it. */
const MAX_BUILDS = 3;
/** Snapshots of other versions are removed once this old; a bridge of that version may still run. */
const OTHER_KEY_MAX_AGE_MS = 24 * 60 * 60 * 1000;
const TEMP_MAX_AGE_MS = 60 * 60 * 1000;
const DIGEST_CHARS = 16;
/** A build takes ~4 s; closing waits this long for one in progress rather than throwing it away. */
const CLOSE_BUILD_GRACE_MS = 10_000;

export interface SnapshotRecord {
  file: string;
  size: number;
}

const SNAPSHOT_NAME = /^pyodide-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export function snapshotFileName(key: string, sha256: string): string {
  return `pyodide-${key}-${sha256.slice(0, DIGEST_CHARS)}.snap`;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface SnapshotCandidate {
  file: string;
  size: number;
  mtimeMs: number;
}

/** The snapshot files in `dir` built for `key`, newest first. */
async function listSnapshots(dir: string, key: string): Promise<SnapshotCandidate[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const found: SnapshotCandidate[] = [];
  for (const name of names) {
    const match = SNAPSHOT_NAME.exec(name);
    if (!match || match[1] !== key) continue;
    try {
      const info = await stat(join(dir, name));
      found.push({
        file: join(dir, name),
        size: info.size,
        mtimeMs: info.mtimeMs,
      });
    } catch {
      // removed meanwhile
    }
  }
  return found.sort((a, b) => b.mtimeMs - a.mtimeMs);
}

/** Whether a snapshot file's contents match the digest in its name (false if it cannot be read). */
async function matchesName(file: string): Promise<boolean> {
  const digest = SNAPSHOT_NAME.exec(basename(file))?.[2];
  if (!digest) return false;
  try {
    return (await sha256Of(file)).startsWith(digest);
  } catch {
    return false;
  }
}

export interface SnapshotStoreOptions {
  dir: string;
  key: string;
  /**
   * Builds the snapshot and writes it into `dir` (with {@link writeSnapshot}): its record, or
   * undefined when another process is building it. Rejects on failure or abort.
   */
  build: (signal: AbortSignal) => Promise<SnapshotRecord | undefined>;
  /** How long `close` lets a build in progress finish before aborting it. Default 10 s. */
  closeGraceMs?: number;
  logger: Logger;
}

/** Writes snapshot bytes into `dir` under their digest's name, atomically (a temp file renamed). */
export async function writeSnapshot(dir: string, key: string, bytes: Buffer): Promise<SnapshotRecord> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const file = join(dir, snapshotFileName(key, sha256));
  const temp = join(
    dir,
    `.${snapshotFileName(key, sha256)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await writeFile(temp, bytes, { mode: 0o600 });
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  return { file, size: bytes.length };
}

/** The newest snapshot file in `dir` built for `key`, if any (its contents unchecked). */
export async function newestSnapshot(dir: string, key: string): Promise<SnapshotRecord | undefined> {
  const [newest] = await listSnapshots(dir, key);
  return newest && newest.size > 0 ? { file: newest.file, size: newest.size } : undefined;
}

export class SnapshotStore {
  readonly #options: SnapshotStoreOptions;
  readonly #abort = new AbortController();
  #loading: Promise<void> | undefined;
  #record: SnapshotRecord | undefined;
  /** The digest check of each file, made once (a build's own file needs none). */
  readonly #checks = new Map<string, Promise<boolean>>();
  /** Files found corrupt or refused by a worker: not offered again, even if deleting them failed. */
  readonly #dropped = new Set<string>();
  #building: Promise<void> | undefined;
  #builds = 0;

  constructor(options: SnapshotStoreOptions) {
    this.#options = options;
  }

  /** What the snapshots here are built for (snapshot-key.ts). */
  get key(): string {
    return this.#options.key;
  }

  /**
   * The snapshot to start a worker from, or undefined (start cold) while none is usable; in that
   * case a build starts in the background, unless `build` is false (the caller starts it later with
   * `current()`). What is on disk is offered before its digest is checked: a worker started from it
   * must not be used until `verify(record)` resolves true.
   */
  async current({ build = true }: { build?: boolean } = {}): Promise<SnapshotRecord | undefined> {
    this.#loading ??= this.#load();
    await this.#loading;
    if (!this.#record && build) this.#startBuild();
    return this.#record;
  }

  /**
   * Whether `record`'s contents match the digest in its name; checked once per file. A corrupt file
   * is deleted and another looked for (or built).
   */
  verify(record: SnapshotRecord): Promise<boolean> {
    let check = this.#checks.get(record.file);
    if (!check) {
      check = matchesName(record.file).then((sound) => {
        if (!sound) {
          this.#options.logger.warn('embedded snapshot is corrupt; deleting it', { file: record.file });
          this.#drop(record);
        }
        return sound;
      });
      this.#checks.set(record.file, check);
    }
    return check;
  }

  /** A worker refused `record` (corrupt, truncated, built for something else): delete it and rebuild. */
  invalidate(record: SnapshotRecord, reason: string): void {
    this.#options.logger.warn('embedded snapshot rejected; deleting and rebuilding it', {
      file: record.file,
      reason,
    });
    this.#drop(record);
  }

  /** Whether a build is under way. */
  get building(): boolean {
    return this.#building !== undefined;
  }

  /** Waits for a build in progress; the snapshot then usable, if any. */
  async settled(): Promise<SnapshotRecord | undefined> {
    await this.#loading;
    await this.#building;
    return this.#record;
  }

  /**
   * Lets a build in progress finish (up to `CLOSE_BUILD_GRACE_MS`), so a short-lived bridge such as
   * `codemode-bridge run` still leaves a snapshot for the next one; then stops it.
   */
  async close(): Promise<void> {
    const graceMs = this.#options.closeGraceMs ?? CLOSE_BUILD_GRACE_MS;
    if (this.#building && graceMs > 0) {
      await Promise.race([this.#building, sleep(graceMs, undefined, { ref: false })]);
    }
    this.#abort.abort();
    await this.#building;
  }

  /** Offers the newest snapshot on disk not known to be corrupt, and starts checking its digest. */
  async #load(): Promise<void> {
    const { dir, key, logger } = this.#options;
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => {});
    for (const candidate of await listSnapshots(dir, key)) {
      if (this.#dropped.has(candidate.file)) continue;
      if (candidate.size === 0) {
        logger.warn('embedded snapshot is corrupt; deleting it', { file: candidate.file });
        this.#dropped.add(candidate.file);
        await unlink(candidate.file).catch(() => {});
        continue;
      }
      this.#record = { file: candidate.file, size: candidate.size };
      void this.verify(this.#record);
      break;
    }
    await this.#removeStale().catch(() => {});
  }

  /** Deletes `record`'s file and looks again (another bridge may have built a good one), else builds. */
  #drop(record: SnapshotRecord): void {
    this.#dropped.add(record.file);
    // A worker's refusal and the digest check may both report the same file: act once.
    if (this.#record?.file !== record.file) return;
    this.#record = undefined;
    this.#loading = unlink(record.file)
      .catch(() => {})
      .then(() => this.#load())
      .then(() => {
        if (!this.#record) this.#startBuild();
      });
  }

  async #removeStale(): Promise<void> {
    const { dir, key } = this.#options;
    const now = Date.now();
    for (const name of await readdir(dir)) {
      const match = SNAPSHOT_NAME.exec(name);
      const maxAge = match
        ? match[1] === key
          ? undefined
          : OTHER_KEY_MAX_AGE_MS
        : name.endsWith('.tmp')
          ? TEMP_MAX_AGE_MS
          : undefined;
      if (maxAge === undefined) continue;
      const file = join(dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && now - info.mtimeMs > maxAge) await unlink(file).catch(() => {});
    }
  }

  #startBuild(): void {
    const { logger } = this.#options;
    if (this.#building || this.#abort.signal.aborted) return;
    if (this.#builds >= MAX_BUILDS) return;
    this.#builds++;
    const startedAt = performance.now();
    this.#building = this.#build()
      .then((record) => {
        // Another process is building it: a later `#load` (a bridge started afterwards) finds it.
        if (!record) return;
        this.#record = record;
        logger.info('embedded snapshot built', {
          file: record.file,
          bytes: record.size,
          ms: Math.round(performance.now() - startedAt),
        });
      })
      .catch((error) => {
        if (this.#abort.signal.aborted) return;
        logger.warn('could not build the embedded snapshot; workers start cold (~2.5 s)', {
          error,
          attempt: this.#builds,
          of: MAX_BUILDS,
        });
      })
      .finally(() => {
        this.#building = undefined;
      });
  }

  async #build(): Promise<SnapshotRecord | undefined> {
    const record = await this.#options.build(this.#abort.signal);
    if (!record) return undefined;
    // Written by a build of ours from bytes it hashed: its name is its digest.
    this.#checks.set(record.file, Promise.resolve(true));
    this.#dropped.delete(record.file);
    return record;
  }
}

export interface SnapshotStatus {
  dir: string;
  key: string;
  /** The newest snapshot for this key and whether its contents match its name. */
  snapshot?: { file: string; size: number; valid: boolean };
}

/** What `doctor` shows: read-only, never builds or deletes. */
export async function inspectSnapshots(dir: string, key: string): Promise<SnapshotStatus> {
  const [newest] = await listSnapshots(dir, key);
  if (!newest) return { dir, key };
  const valid = newest.size > 0 && (await matchesName(newest.file));
  return { dir, key, snapshot: { file: newest.file, size: newest.size, valid } };
}
