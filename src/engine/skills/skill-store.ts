/**
 * Saved skills on the host, under `<MCP_BRIDGE_STATE_DIR>/skills/`: one directory per skill, one file
 * per version (`<name>/v<N>.py`, see skill-rules.ts). Only the host writes here, after validating.
 *
 * Safe with several writers (two runs, two bridges, the CLI): a version is written to a temporary file
 * and hard-linked into place, which fails instead of overwriting when another writer took that number
 * first, so no version is ever lost or half-written; a deletion renames the directory away first.
 * Reading never throws for one bad skill: it is listed with an `error` instead.
 */
import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { constants, existsSync } from 'node:fs';
import {
  copyFile,
  link,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { HostCallError } from '../../sandbox/types.js';
import { groupDigits } from '../../shared/digits.js';
import { isProcessAlive } from '../../shared/kill-group.js';
import {
  decodeSkillFile,
  encodeSkillFile,
  isStoreName,
  MAX_SKILL_SOURCE_BYTES,
  type PrincipalRef,
  preview,
  type SkillDraft,
  type SkillHeader,
  skillNameProblem,
  sourceProblem,
  versionFileName,
  versionOfFile,
} from './skill-rules.js';

/** Versions kept per skill; saving beyond this deletes the oldest. */
const DEFAULT_MAX_VERSIONS = 10;
/** Skills the store holds; a save of a new name beyond this is refused. */
const DEFAULT_MAX_SKILLS = 200;
/** Newest sources of all skills together (every run receives them), bytes. */
const DEFAULT_MAX_TOTAL_BYTES = 4 * 1024 * 1024;
/** A version file larger than this is not read: the source cap plus room for the metadata line. */
const MAX_FILE_BYTES = MAX_SKILL_SOURCE_BYTES + 8 * 1024;
const LINK_ATTEMPTS = 50;
const TEMP_DIR = '.tmp';
/** A leftover in TEMP_DIR older than this, or written by a bridge that is gone, is removed. */
const STALE_TEMP_MS = 10 * 60 * 1000;

/** The newest version of one skill, as the store found it. */
export interface StoredSkill {
  name: string;
  version: number;
  /** Every version on disk, ascending. */
  versions: number[];
  savedAt?: string;
  description: string;
  signature: string;
  parameters: string[];
  isAsync: boolean;
  servers: string[];
  /** Who saved the newest version; absent in files written before principals. */
  savedBy?: PrincipalRef;
  /** A shared skill's author (who published it). */
  author?: PrincipalRef;
  /** The newest version's source; absent when it could not be read. */
  source?: string;
  /** Why the newest version cannot be loaded, as far as the host can tell without Python. */
  error?: string;
}

export interface SkillVersion {
  name: string;
  version: number;
  versions: number[];
  header: Partial<SkillHeader>;
  source: string;
}

export interface SkillStoreOptions {
  /** The store's directory, `<MCP_BRIDGE_STATE_DIR>/skills`. Created on the first save. */
  dir: string;
  /** Default {@link DEFAULT_MAX_VERSIONS}. */
  maxVersions?: number;
  /** Default {@link DEFAULT_MAX_SKILLS}. */
  maxSkills?: number;
  /** Default {@link DEFAULT_MAX_TOTAL_BYTES}. */
  maxTotalBytes?: number;
  /** What the store is, in messages: `your namespace`, `the shared skills`. Default `the store`. */
  label?: string;
}

export interface SaveOutcome {
  name: string;
  version: number;
  savedAt: string;
  /** Older versions deleted to stay within the version limit. */
  pruned: number[];
}

interface CacheEntry {
  dirStamp: string;
  fileStamp: string;
  skill: StoredSkill;
}

function stamp(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function storeFailure(action: string, error: unknown): HostCallError {
  // The message reaches the sandbox: the error code, not the host's paths.
  return new HostCallError(`could not ${action}: ${errorCode(error) ?? 'I/O error'}`, 'SKILL_STORE_FAILED');
}

export class SkillStore {
  readonly dir: string;
  readonly #maxVersions: number;
  readonly #maxSkills: number;
  readonly #maxTotalBytes: number;
  readonly #label: string;
  readonly #cache = new Map<string, CacheEntry>();
  #listing: { key: string; skills: StoredSkill[] } | undefined;
  #swept: Promise<void> | undefined;

  constructor(options: SkillStoreOptions) {
    this.dir = options.dir;
    this.#maxVersions = options.maxVersions ?? DEFAULT_MAX_VERSIONS;
    this.#maxSkills = options.maxSkills ?? DEFAULT_MAX_SKILLS;
    this.#maxTotalBytes = options.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES;
    this.#label = options.label ?? 'the store';
  }

  /**
   * The newest version of every skill, by name. Cheap when nothing changed (a directory listing and
   * two `stat`s per skill); the same array is returned then, so callers may cache on its identity.
   * A directory whose name is not a valid skill name is listed with an `error` (runs never get it).
   */
  async list(): Promise<StoredSkill[]> {
    let names: string[] = [];
    // Before any skill is saved (the usual case) one synchronous check of one path answers; a readdir
    // goes through libuv's thread pool, whose wake-up costs ~0.3 ms of every run on a small idle VM.
    if (existsSync(this.dir)) {
      try {
        names = (await readdir(this.dir, { withFileTypes: true }))
          .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
          .map((entry) => entry.name)
          .sort();
      } catch (error) {
        if (errorCode(error) !== 'ENOENT') throw storeFailure('list the saved skills', error);
      }
    }
    const found = await Promise.all(names.map((name) => this.#current(name)));
    const skills = found.filter((skill): skill is StoredSkill => skill !== undefined);
    for (const name of this.#cache.keys()) if (!names.includes(name)) this.#cache.delete(name);
    const key = skills.map((skill) => `${skill.name}@${this.#cache.get(skill.name)?.fileStamp}`).join('|');
    if (this.#listing?.key !== key) this.#listing = { key, skills };
    return this.#listing.skills;
  }

  /** One version of a skill (default the newest) with its source; throws `HostCallError('UNKNOWN_SKILL')`. */
  async read(name: string, version?: number): Promise<SkillVersion> {
    const versions = await this.#versions(name);
    const wanted = version ?? versions.at(-1);
    if (wanted === undefined || !versions.includes(wanted)) {
      throw new HostCallError(
        version === undefined
          ? await this.#unknownMessage(name)
          : `skill '${name}' has no version ${version}; it has ${versions.join(', ')}`,
        'UNKNOWN_SKILL',
      );
    }
    const text = await readFile(join(this.dir, name, versionFileName(wanted)), 'utf8');
    const { header, source } = decodeSkillFile(text);
    return { name, version: wanted, versions, header, source };
  }

  /**
   * Stores a new version of a validated skill, recording who saved it (and a shared skill's author);
   * throws `HostCallError` when a limit refuses it.
   */
  async save(
    draft: SkillDraft,
    stamp: { savedBy?: PrincipalRef; author?: PrincipalRef } = {},
  ): Promise<SaveOutcome> {
    const existing = await this.list();
    const same = existing.find((skill) => skill.name === draft.name);
    const clash = existing.find(
      (skill) => skill.name !== draft.name && skill.name.toLowerCase() === draft.name.toLowerCase(),
    );
    if (clash) {
      throw new HostCallError(
        `cannot save '${draft.name}': a skill named '${clash.name}' exists, and names that differ only in case would share a file on some systems`,
        'INVALID_SKILL',
      );
    }
    if (!same && existing.length >= this.#maxSkills) {
      throw new HostCallError(
        `cannot save '${draft.name}': the store holds ${existing.length} skills, the limit; delete some with delete_skill(name) or \`codemode-bridge skills remove NAME\``,
        'SKILL_LIMIT',
      );
    }
    const others = existing
      .filter((skill) => skill.name !== draft.name)
      .reduce((sum, skill) => sum + Buffer.byteLength(skill.source ?? ''), 0);
    if (others + Buffer.byteLength(draft.source) > this.#maxTotalBytes) {
      throw new HostCallError(
        `cannot save '${draft.name}': the skills of ${this.#label} together would exceed ${this.#maxTotalBytes / 1048576} MiB; delete some first`,
        'SKILL_LIMIT',
      );
    }
    const savedAt = new Date().toISOString();
    const { source, ...fields } = draft;
    const text = encodeSkillFile({ ...fields, savedAt, ...stamp }, source);
    const temp = join(this.dir, TEMP_DIR, `${draft.name}.${process.pid}.${randomUUID()}.py`);
    try {
      this.#swept ??= this.#sweepTemp();
      await this.#swept;
      await mkdir(join(this.dir, TEMP_DIR), { recursive: true });
      await writeFile(temp, text, { mode: 0o644 });
      const version = await this.#commit(draft.name, temp);
      const pruned = await this.#prune(draft.name);
      this.#cache.delete(draft.name);
      return { name: draft.name, version, savedAt, pruned };
    } catch (error) {
      if (error instanceof HostCallError) throw error;
      throw storeFailure(`save skill '${draft.name}'`, error);
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  /** Deletes every version of a skill, or one; throws `HostCallError('UNKNOWN_SKILL')`. */
  async delete(name: string, version?: number): Promise<{ name: string; deleted: number[] }> {
    if (!isStoreName(name)) {
      throw new HostCallError(`${preview(name)} is not a skill name`, 'UNKNOWN_SKILL');
    }
    const versions = await this.#versions(name);
    if (versions.length === 0) throw new HostCallError(await this.#unknownMessage(name), 'UNKNOWN_SKILL');
    try {
      if (version !== undefined) {
        if (!versions.includes(version)) {
          throw new HostCallError(
            `skill '${name}' has no version ${version}; it has ${versions.join(', ')}`,
            'UNKNOWN_SKILL',
          );
        }
        await unlink(join(this.dir, name, versionFileName(version)));
        if (versions.length === 1) await rm(join(this.dir, name), { recursive: true, force: true });
        return { name, deleted: [version] };
      }
      // Renamed away first, so a reader sees the whole skill or none of it.
      const trash = join(this.dir, TEMP_DIR, `deleted-${name}-${randomUUID()}`);
      await mkdir(join(this.dir, TEMP_DIR), { recursive: true });
      await rename(join(this.dir, name), trash);
      await rm(trash, { recursive: true, force: true });
      return { name, deleted: versions };
    } catch (error) {
      if (error instanceof HostCallError) throw error;
      if (errorCode(error) === 'ENOENT')
        throw new HostCallError(await this.#unknownMessage(name), 'UNKNOWN_SKILL');
      throw storeFailure(`delete skill '${name}'`, error);
    } finally {
      this.#cache.delete(name);
    }
  }

  /**
   * Removes what a writer that crashed mid-save or mid-delete left in TEMP_DIR: temp files of a
   * bridge process that is gone, and anything older than STALE_TEMP_MS. Once per store; never fails.
   */
  async #sweepTemp(): Promise<void> {
    const dir = join(this.dir, TEMP_DIR);
    const entries = await readdir(dir).catch(() => [] as string[]);
    await Promise.all(
      entries.map(async (entry) => {
        const writer = Number(/\.(\d+)\.[0-9a-f-]{36}\.py$/.exec(entry)?.[1]);
        const path = join(dir, entry);
        const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now());
        const orphaned = Number.isInteger(writer) && writer !== process.pid && !isProcessAlive(writer);
        if (orphaned || age > STALE_TEMP_MS) await rm(path, { recursive: true, force: true }).catch(() => {});
      }),
    );
  }

  async #unknownMessage(name: string): Promise<string> {
    const names = (await this.list().catch(() => [])).map((skill) => skill.name);
    return `no skill named '${name}'; saved skills: ${names.join(', ') || 'none'}`;
  }

  /** The version numbers on disk, ascending ([] when the skill does not exist). */
  async #versions(name: string): Promise<number[]> {
    if (!isStoreName(name)) return [];
    try {
      const files = await readdir(join(this.dir, name));
      return files
        .map(versionOfFile)
        .filter((version): version is number => version !== undefined)
        .sort((a, b) => a - b);
    } catch (error) {
      if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return [];
      throw error;
    }
  }

  /** Links the temporary file in as the next free version; another writer taking a number first is retried. */
  async #commit(name: string, temp: string): Promise<number> {
    for (let attempt = 0; attempt < LINK_ATTEMPTS; attempt++) {
      await mkdir(join(this.dir, name), { recursive: true });
      const version = ((await this.#versions(name)).at(-1) ?? 0) + 1;
      const target = join(this.dir, name, versionFileName(version));
      try {
        await link(temp, target);
        return version;
      } catch (error) {
        const code = errorCode(error);
        if (code === 'EEXIST' || code === 'ENOENT') continue; // taken, or the skill was deleted meanwhile
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EOPNOTSUPP') throw error;
      }
      // A file system without hard links: an exclusive copy still never overwrites (readers may
      // briefly see it half-written, and report it as broken until it is complete).
      try {
        await copyFile(temp, target, constants.COPYFILE_EXCL);
        return version;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST' && errorCode(error) !== 'ENOENT') throw error;
      }
    }
    throw new HostCallError(
      `could not save skill '${name}': too many concurrent saves`,
      'SKILL_STORE_FAILED',
    );
  }

  async #prune(name: string): Promise<number[]> {
    const versions = await this.#versions(name);
    const old = versions.slice(0, Math.max(0, versions.length - this.#maxVersions));
    await Promise.all(
      old.map((version) => unlink(join(this.dir, name, versionFileName(version))).catch(() => {})),
    );
    return old;
  }

  /** The newest version of one skill, from the cache when neither its directory nor that file changed. */
  async #current(name: string): Promise<StoredSkill | undefined> {
    let dirStats: Stats;
    try {
      dirStats = await stat(join(this.dir, name));
    } catch {
      return undefined;
    }
    const cached = this.#cache.get(name);
    if (cached && cached.dirStamp === stamp(dirStats)) {
      try {
        const fileStats = await stat(join(this.dir, name, versionFileName(cached.skill.version)));
        if (stamp(fileStats) === cached.fileStamp) return cached.skill;
      } catch {
        // changed under us: read it again below
      }
    }
    let versions: number[];
    try {
      versions = await this.#versions(name);
    } catch {
      return undefined;
    }
    const version = versions.at(-1);
    if (version === undefined) return undefined;
    const file = join(this.dir, name, versionFileName(version));
    const skill: StoredSkill = {
      name,
      version,
      versions,
      description: '',
      signature: '',
      parameters: [],
      isAsync: false,
      servers: [],
    };
    let fileStats: Stats;
    try {
      fileStats = await stat(file);
      await this.#fill(skill, file, fileStats);
    } catch (error) {
      skill.error = `the file cannot be read (${errorCode(error) ?? 'I/O error'})`;
      return skill;
    }
    this.#cache.set(name, { dirStamp: stamp(dirStats), fileStamp: stamp(fileStats), skill });
    return skill;
  }

  async #fill(skill: StoredSkill, file: string, fileStats: Stats): Promise<void> {
    const nameProblem = skillNameProblem(skill.name);
    if (nameProblem) {
      skill.error = `not a valid skill name: ${nameProblem}`;
      return;
    }
    if (fileStats.size > MAX_FILE_BYTES) {
      skill.error = `the file is ${groupDigits(fileStats.size)} bytes; a skill holds at most ${groupDigits(MAX_SKILL_SOURCE_BYTES)}`;
      return;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(await readFile(file));
    } catch (error) {
      skill.error =
        error instanceof TypeError
          ? 'the file is not valid UTF-8'
          : `the file cannot be read (${errorCode(error)})`;
      return;
    }
    const { header, source } = decodeSkillFile(text);
    Object.assign(skill, {
      description: header.description ?? '',
      signature: header.signature ?? '',
      parameters: header.parameters ?? [],
      isAsync: header.isAsync ?? false,
      servers: header.servers ?? [],
      ...(header.savedAt ? { savedAt: header.savedAt } : {}),
      ...(header.savedBy ? { savedBy: header.savedBy } : {}),
      ...(header.author ? { author: header.author } : {}),
    });
    const problem =
      header.name !== undefined && header.name !== skill.name
        ? `the file says it is skill '${header.name}'`
        : sourceProblem(source, skill.name);
    if (problem) skill.error = problem;
    else skill.source = source;
  }
}
