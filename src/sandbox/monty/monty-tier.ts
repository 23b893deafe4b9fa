/**
 * The Monty tier of one bridge: finds and checks the pinned binary, confines workers where the
 * machine allows it (else says why, once), keeps the worker pool, and runs programs. The engine
 * reaches it through `run` (see engine/routing.ts); `doctor` through `probeMontyTier`.
 */
import type { Logger } from '../../shared/logger.js';
import type { SandboxExit, SandboxHost, SandboxProgram } from '../types.js';
import { type Confinement, probeConfinement } from './confinement.js';
import { MONTY_VERSION, probeMontyBinary } from './monty-binary.js';
import { type Declined, MontySandbox } from './monty-sandbox.js';
import { checkSubset } from './subset.js';
import { warmUp } from './warm-up.js';
import { MontyWorkerPool, type WorkerPoolStats } from './worker-pool.js';

/** Headroom of a worker's RLIMIT_DATA above Monty's heap limit: the interpreter's own allocations. */
const DATA_LIMIT_HEADROOM_BYTES = 256 * 1024 * 1024;
/** Monty's own clock counts only execution; this backstop sits past the longest run the engine allows. */
const DURATION_BACKSTOP_MS = 5000;

export interface MontyTierOptions {
  /** The heap limit of each run (MCP_BRIDGE_MEMORY), bytes. */
  memoryBytes: number;
  /** The longest run the engine allows (MCP_BRIDGE_MAX_TIMEOUT), ms: Monty's own time limit sits above it. */
  maxTimeoutMs: number;
  /** Never-used workers kept ready. Default 2. */
  minIdle?: number;
  logger: Logger;
}

export interface MontyTierProbe {
  usable: boolean;
  version?: string;
  binary?: string;
  problem?: string;
  /** How workers are confined, or why they cannot be. */
  confinement: string;
}

/** What `doctor` says about the tier, without starting it. */
export async function probeMontyTier(): Promise<MontyTierProbe> {
  const binary = await probeMontyBinary();
  if ('problem' in binary) return { usable: false, problem: binary.problem, confinement: 'n/a' };
  const confinement = await probeConfinement(binary.path);
  return {
    usable: true,
    version: binary.version,
    binary: binary.path,
    confinement:
      'confinement' in confinement
        ? `bubblewrap ${confinement.confinement.description}`
        : `none (${confinement.problem}); workers are still separate processes under RLIMIT_DATA`,
  };
}

export type TierVerdict = { fits: true } | { fits: false; reason: string };

export class MontyTier {
  readonly #options: MontyTierOptions;
  #ready: Promise<{ pool: MontyWorkerPool; confinement: Confinement | undefined }> | undefined;
  #closed = false;
  description = `Monty ${MONTY_VERSION}`;

  constructor(options: MontyTierOptions) {
    this.#options = options;
  }

  /**
   * Finds the binary, probes confinement, starts the ready workers and then the warm-up (warm-up.ts);
   * failures surface on `run`.
   */
  warm(): void {
    this.#init().then(
      ({ pool }) => {
        pool.warm();
        void warmUp(pool, () => !this.#closed);
      },
      () => {},
    );
  }

  /** Resolves when the tier can run programs; rejects with why it cannot. */
  async ready(): Promise<void> {
    await this.#init();
  }

  /** Whether `program` fits the subset (decided before it runs; Monty's parser has the last word). */
  fits(program: Pick<SandboxProgram, 'code' | 'skills'>): TierVerdict {
    const verdict = checkSubset(program.code, { skills: (program.skills ?? []).map((skill) => skill.name) });
    if (verdict.fits) return { fits: true };
    return {
      fits: false,
      reason: `${verdict.construct}${verdict.line ? ` (line ${verdict.line})` : ''}: ${verdict.why}`,
    };
  }

  /** Runs `program` on a worker; with `fallback`, may decline it for full Python (see monty-sandbox.ts). */
  async run(
    program: SandboxProgram,
    host: SandboxHost,
    signal: AbortSignal,
    options: { fallback: boolean; owner: string },
  ): Promise<{ exit: SandboxExit | Declined; subsetFailure: boolean }> {
    const { pool } = await this.#init();
    const sandbox = new MontySandbox(pool);
    const exit = await sandbox.run(program, host, signal, options);
    return { exit, subsetFailure: sandbox.subsetFailure };
  }

  /** The idle workers of a client connection that has gone are ended. */
  closeOwner(owner: string): void {
    void this.#ready?.then(
      ({ pool }) => pool.closeOwner(owner),
      () => {},
    );
  }

  async stats(): Promise<WorkerPoolStats> {
    return (await this.#init()).pool.stats;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const ready = await this.#ready?.catch(() => undefined);
    await ready?.pool.close();
  }

  #init(): Promise<{ pool: MontyWorkerPool; confinement: Confinement | undefined }> {
    if (this.#closed) return Promise.reject(new Error('the Monty tier is closed'));
    if (!this.#ready) {
      const { logger } = this.#options;
      this.#ready = (async () => {
        const binary = await probeMontyBinary();
        if ('problem' in binary) throw new Error(binary.problem);
        const probe = await probeConfinement(binary.path);
        const confinement = 'confinement' in probe ? probe.confinement : undefined;
        if (confinement) {
          this.description = `Monty ${binary.version}, workers confined by bubblewrap ${confinement.version}`;
          logger.info('Monty tier ready', { binary: binary.path, confinement: confinement.description });
        } else {
          this.description = `Monty ${binary.version}, workers NOT confined (${'problem' in probe ? probe.problem : ''})`;
          logger.warn('Monty workers run unconfined (separate processes under RLIMIT_DATA only)', {
            reason: 'problem' in probe ? probe.problem : 'unknown',
          });
        }
        const pool = new MontyWorkerPool({
          binary: binary.path,
          confinement,
          dataLimitBytes: this.#options.memoryBytes + DATA_LIMIT_HEADROOM_BYTES,
          limits: {
            maxMemoryBytes: this.#options.memoryBytes,
            maxDurationMicros: (this.#options.maxTimeoutMs + DURATION_BACKSTOP_MS) * 1000,
            maxRecursionDepth: 1000,
            maxSuspensions: 1_000_000_000,
          },
          ...(this.#options.minIdle !== undefined ? { minIdle: this.#options.minIdle } : {}),
          logger,
        });
        return { pool, confinement };
      })();
      this.#ready.catch((error) => {
        logger.warn('the Monty tier is not available', { error });
      });
    }
    return this.#ready;
  }
}
