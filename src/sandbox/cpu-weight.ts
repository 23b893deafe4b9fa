/**
 * A sandbox's CPU weight, the mechanism of fair CPU shares between principals (docs/team.md, "Fair
 * shares"; the engine's cpu-shares.ts decides the weights). Run slots alone share programs, not cores:
 * a principal with four CPU-bound programs on two cores took four fifths of the CPU from another's one
 * short run. With a weight per sandbox the kernel's scheduler gives each principal's sandboxes together
 * the CPU of one sandbox of another's, and stays work-conserving (a lone principal still gets every
 * idle core).
 *
 * How, best first:
 * - `cgroup`: the sandbox's own cgroup's weight (`cpu.weight` on cgroup v2, `cpu.shares` on v1). A
 *   container has its own cgroup already (found from the pid podman writes with `--pidfile`); an
 *   embedded worker is moved into one the bridge makes, under its own cgroup, when that is writable
 *   (root on cgroup v1; on v2 a cgroup delegated to the bridge with the cpu controller).
 * - `nice`: an embedded worker's niceness, where no cgroup is writable. Only ever raised (lowering it
 *   again needs privileges), and it orders processes only within one cgroup (or autogroup).
 * Weights are in cgroup v2 units: 100 is a sandbox's default, 1–10,000.
 */
import { constants } from 'node:fs';
import { access, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive } from '../shared/kill-group.js';

/** A sandbox's weight when no principal has more than one running: cgroup v2's default. */
export const DEFAULT_CPU_WEIGHT = 100;
const V1_SHARES_PER_WEIGHT = 1024 / DEFAULT_CPU_WEIGHT;
/** Each step of niceness is ~1.25× less CPU than the one before (the kernel's sched_prio_to_weight). */
const NICE_STEP = 1.25;
const MAX_NICE = 19;
const CGROUP_RMDIR_ATTEMPTS = 20;
const CGROUP_RMDIR_RETRY_MS = 50;
/** The bridge's own cgroups for embedded workers: `codemode-bridge-<pid>` under its own cgroup. */
const BRIDGE_CGROUP_PREFIX = 'codemode-bridge-';

export type CpuShareMechanism = 'cgroup' | 'nice';

/** How one sandbox's CPU weight is set; every `set` is best effort and never throws. */
export interface CpuControl {
  readonly mechanism: CpuShareMechanism;
  /** The weight file written (`cgroup`) or the process reniced (`nice`), for logs and doctor. */
  readonly target: string;
  /** Sets the weight (cgroup v2 units); resolves with what was written, or undefined if it failed. */
  set(weight: number): Promise<string | undefined>;
}

interface CpuCgroup {
  version: 1 | 2;
  dir: string;
}

/** What a cgroup's weight file holds for `weight`: v2's `cpu.weight`, or v1's `cpu.shares` scaled. */
export function cgroupWeightValue(version: 1 | 2, weight: number): { file: string; value: string } {
  const clamped = Math.min(10_000, Math.max(1, Math.round(weight)));
  return version === 2
    ? { file: 'cpu.weight', value: String(clamped) }
    : { file: 'cpu.shares', value: String(Math.max(2, Math.round(clamped * V1_SHARES_PER_WEIGHT))) };
}

/** The niceness that gives about `weight`'s share against processes at the default (0–19). */
export function niceForWeight(weight: number): number {
  if (weight >= DEFAULT_CPU_WEIGHT) return 0;
  const steps = Math.log(DEFAULT_CPU_WEIGHT / Math.max(1, weight)) / Math.log(NICE_STEP);
  return Math.min(MAX_NICE, Math.round(steps));
}

/**
 * Where the cpu controller is mounted, from /proc/self/mountinfo: a v1 hierarchy holding `cpu`,
 * else the v2 one (its controllers are checked per cgroup).
 */
async function cpuMounts(): Promise<{ v1?: string; v2?: string }> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const mounts: { v1?: string; v2?: string } = {};
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const mountPoint = left.split(' ')[4];
    const [type, , options] = right.split(' ');
    if (!mountPoint) continue;
    if (type === 'cgroup2') mounts.v2 ??= mountPoint;
    if (type === 'cgroup' && options?.split(',').includes('cpu')) mounts.v1 ??= mountPoint;
  }
  return mounts;
}

let mountsOnce: Promise<{ v1?: string; v2?: string }> | undefined;

/** The cgroup that holds `pid`'s CPU accounting (`self` for this process), or undefined. */
export async function cpuCgroupOf(pid: number | 'self'): Promise<CpuCgroup | undefined> {
  if (process.platform !== 'linux') return undefined;
  mountsOnce ??= cpuMounts();
  const mounts = await mountsOnce;
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.match(/^\d+:([^:]*):(.*)$/) ?? [];
    if (path === undefined) continue;
    if (mounts.v1 && controllers?.split(',').includes('cpu'))
      return { version: 1, dir: join(mounts.v1, path) };
    if (controllers === '') unified = path;
  }
  return unified !== undefined && mounts.v2 ? { version: 2, dir: join(mounts.v2, unified) } : undefined;
}

async function writable(path: string): Promise<boolean> {
  return access(path, constants.W_OK).then(
    () => true,
    () => false,
  );
}

/** A control over the weight file of `cgroup`, if this process may write it. */
async function cgroupControl(cgroup: CpuCgroup): Promise<CpuControl | undefined> {
  const { file } = cgroupWeightValue(cgroup.version, DEFAULT_CPU_WEIGHT);
  const target = join(cgroup.dir, file);
  if (!(await writable(target))) return undefined;
  return {
    mechanism: 'cgroup',
    target,
    set: async (weight) => {
      const { value } = cgroupWeightValue(cgroup.version, weight);
      return writeFile(target, value).then(
        () => value,
        () => undefined,
      );
    },
  };
}

/**
 * The control of a container's CPU weight, from the host pid of its first process: the cgroup the
 * engine made for it (under crun on cgroup v2 the process sits in a `container` child of the
 * container's scope, whose weight is the one that counts against other containers).
 */
export async function containerCpuControl(pid: number): Promise<CpuControl | undefined> {
  const cgroup = await cpuCgroupOf(pid);
  if (!cgroup || cgroup.dir === dirname(cgroup.dir)) return undefined;
  const dir = basename(cgroup.dir) === 'container' ? dirname(cgroup.dir) : cgroup.dir;
  // The root cgroup (or the bridge's own) is not the container's: a weight there would move everyone.
  const own = await cpuCgroupOf('self');
  if (own && own.dir === dir) return undefined;
  return cgroupControl({ version: cgroup.version, dir });
}

/** Renices `pid` (its main thread, where a Deno worker runs Python); only ever lowers its priority. */
export function niceControl(pid: number): CpuControl {
  let current = 0;
  return {
    mechanism: 'nice',
    target: `/proc/${pid}/stat`,
    set: async (weight) => {
      const nice = Math.max(current, niceForWeight(weight));
      if (nice === current) return String(nice);
      try {
        setPriority(pid, nice);
        current = nice;
        return String(nice);
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * The cgroups the bridge makes for its embedded workers, one per worker, under
 * `<the bridge's cgroup>/codemode-bridge-<pid>/`. Exists only where that cgroup is writable with the
 * cpu controller: cgroup v1 as root, or a v2 cgroup delegated to the bridge whose controllers
 * include cpu and whose subtree already enables it (the bridge does not move processes for it).
 */
export class WorkerCgroups {
  readonly #parent: CpuCgroup;
  /** The weight of each worker's cgroup, whose sum the parent carries. */
  readonly #weights = new Map<string, number>();
  #parentWrite: Promise<void> = Promise.resolve();
  #counter = 0;

  private constructor(parent: CpuCgroup) {
    this.#parent = parent;
  }

  /** The bridge's parent cgroup for workers, made now; undefined where it cannot be. */
  static async create(ownerPid = process.pid): Promise<WorkerCgroups | undefined> {
    const own = await cpuCgroupOf('self');
    if (!own) return undefined;
    if (own.version === 2) {
      const enabled = await readFile(join(own.dir, 'cgroup.subtree_control'), 'utf8').catch(() => '');
      if (!enabled.split(/\s+/).includes('cpu')) return undefined;
    }
    await reapStaleWorkerCgroups(own.dir);
    const dir = join(own.dir, `${BRIDGE_CGROUP_PREFIX}${ownerPid}`);
    try {
      await mkdir(dir, { recursive: true });
    } catch {
      return undefined;
    }
    // v2: a child cgroup has controllers only if its parent enables them for its subtree.
    if (own.version === 2) await writeFile(join(dir, 'cgroup.subtree_control'), '+cpu').catch(() => {});
    const parent = { version: own.version, dir };
    if (!(await cgroupControl(parent))) {
      await rmdir(dir).catch(() => {});
      return undefined;
    }
    return new WorkerCgroups(parent);
  }

  /** Where workers' cgroups are made. */
  get dir(): string {
    return this.#parent.dir;
  }

  /** Moves `pid` into a cgroup of its own; undefined when that fails (it stays where it was). */
  async adopt(pid: number): Promise<{ control: CpuControl; remove: () => Promise<void> } | undefined> {
    const cgroup = {
      version: this.#parent.version,
      dir: join(this.#parent.dir, `worker-${++this.#counter}`),
    };
    try {
      await mkdir(cgroup.dir);
      await writeFile(join(cgroup.dir, 'cgroup.procs'), String(pid));
    } catch {
      await rmdir(cgroup.dir).catch(() => {});
      return undefined;
    }
    const own = await cgroupControl(cgroup);
    const remove = async () => {
      await removeCgroup(cgroup.dir);
      this.#weights.delete(cgroup.dir);
      await this.#weighParent();
    };
    if (!own) {
      await remove();
      return undefined;
    }
    this.#weights.set(cgroup.dir, DEFAULT_CPU_WEIGHT);
    await this.#weighParent();
    const control: CpuControl = {
      ...own,
      set: async (weight) => {
        const value = await own.set(weight);
        if (value !== undefined && this.#weights.has(cgroup.dir)) {
          this.#weights.set(cgroup.dir, weight);
          await this.#weighParent();
        }
        return value;
      },
    };
    return { control, remove };
  }

  /** Removes the parent cgroup (its workers' are removed as each exits). */
  close(): Promise<void> {
    return removeCgroup(this.#parent.dir);
  }

  /**
   * The parent weighs what its workers weigh together: against the processes beside the bridge it
   * then counts as its workers would without it, instead of as one process however many run.
   */
  #weighParent(): Promise<void> {
    // One write at a time, each of the sum as it is when written: the last one is the current sum.
    this.#parentWrite = this.#parentWrite.then(async () => {
      let sum = 0;
      for (const weight of this.#weights.values()) sum += weight;
      const { file, value } = cgroupWeightValue(this.#parent.version, Math.max(DEFAULT_CPU_WEIGHT, sum));
      await writeFile(join(this.#parent.dir, file), value).catch(() => {});
    });
    return this.#parentWrite;
  }
}

/** Removes an empty cgroup; a process that has just exited may still be counted for a moment. */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < CGROUP_RMDIR_ATTEMPTS; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY') return;
      await sleep(CGROUP_RMDIR_RETRY_MS);
    }
  }
}

/** Removes the worker cgroups of bridges that are gone (killed before they could). */
async function reapStaleWorkerCgroups(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (!entry.startsWith(BRIDGE_CGROUP_PREFIX)) continue;
    const pid = Number(entry.slice(BRIDGE_CGROUP_PREFIX.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isProcessAlive(pid)) continue;
    const stale = join(dir, entry);
    for (const child of await readdir(stale, { withFileTypes: true }).catch(() => [])) {
      if (child.isDirectory()) await removeCgroup(join(stale, child.name));
    }
    await removeCgroup(stale);
  }
}

/** Where a control writes, as doctor and the logs say it. */
export function describeCpuControl(control: CpuControl | undefined): string {
  if (!control) return 'none: no writable cgroup with the cpu controller for this sandbox';
  return control.mechanism === 'cgroup'
    ? `cgroup weights (${control.target})`
    : `niceness (${control.target}; no writable cgroup with the cpu controller)`;
}

/** How embedded workers' weights would be set here: a trial of the bridge's worker cgroups. */
export async function describeEmbeddedCpuShares(): Promise<string> {
  const cgroups = await WorkerCgroups.create().catch(() => undefined);
  if (!cgroups) return 'niceness per worker (no writable cgroup with the cpu controller for the bridge)';
  await cgroups.close();
  return `cgroup weights, a cgroup per worker under ${cgroups.dir}`;
}
