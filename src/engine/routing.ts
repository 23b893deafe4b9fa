/**
 * Which sandbox runs a program (docs/architecture.md, "Routing"). Under `auto`, the Monty tier when
 * the program fits, decided before its first statement runs, else full Python (podman → docker →
 * embedded, as selected); a run Monty declines before anything observable happened goes to full
 * Python too, and so does the next run of a program that failed on the tier for want of something
 * full Python has. `monty` runs everything on the tier; `full` never uses it.
 */
import { createHash } from 'node:crypto';
import type {
  Sandbox,
  SandboxClaim,
  SandboxExit,
  SandboxHost,
  SandboxKind,
  SandboxProgram,
} from '../sandbox/types.js';
import { BridgeError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/** `auto`: Monty when a program fits; `monty`: Monty only; `full`: never Monty. */
export type RuntimeMode = 'auto' | 'monty' | 'full';

/** The Monty tier as the engine uses it (sandbox/monty/monty-tier.ts implements it). */
export interface InstantTier {
  fits(program: Pick<SandboxProgram, 'code' | 'skills'>): { fits: true } | { fits: false; reason: string };
  run(
    program: SandboxProgram,
    host: SandboxHost,
    signal: AbortSignal,
    options: { fallback: boolean; owner: string },
  ): Promise<{ exit: SandboxExit | { kind: 'declined'; reason: string }; subsetFailure: boolean }>;
  closeOwner(owner: string): void;
}

/** Where full-Python sandboxes come from (the engine's `SandboxSource`, structurally). */
export interface FullPythonSource {
  acquire(signal?: AbortSignal, options?: undefined, claim?: SandboxClaim): Promise<Sandbox>;
}

export interface Routed {
  exit: SandboxExit;
  /** The sandbox that ran the program (`structuredContent.sandbox`). */
  kind: SandboxKind;
}

/** Programs remembered as needing full Python (their code's digest), oldest forgotten first. */
const REMEMBERED_PROGRAMS = 256;

export class SandboxRouter {
  readonly #full: FullPythonSource;
  readonly #instant: InstantTier | undefined;
  readonly #mode: RuntimeMode;
  readonly #logger: Logger;
  readonly #needsFull = new Set<string>();
  #tierFailureLogged = false;

  constructor(options: {
    full: FullPythonSource;
    instant: InstantTier | undefined;
    mode: RuntimeMode;
    logger: Logger;
  }) {
    this.#full = options.full;
    this.#instant = options.instant;
    this.#mode = options.instant ? options.mode : 'full';
    this.#logger = options.logger;
  }

  get mode(): RuntimeMode {
    return this.#mode;
  }

  /**
   * Runs `program`; `onFullSandbox` is told of a full-Python sandbox as soon as it is taken, so the
   * caller destroys it whatever happens next. `admit`, when given, is awaited before a full-Python
   * sandbox is taken (the engine's fair shares), and says how a warm one is taken.
   */
  async run(
    program: SandboxProgram,
    host: SandboxHost,
    signal: AbortSignal,
    owner: string,
    onFullSandbox: (sandbox: Sandbox) => void,
    admit?: () => Promise<SandboxClaim | undefined>,
  ): Promise<Routed> {
    const instant = this.#instant;
    if (instant && this.#mode !== 'full') {
      const routed = await this.#tryInstant(instant, program, host, signal, owner);
      if (routed) return routed;
    }
    const claim = await admit?.();
    const sandbox = await this.#full.acquire(signal, undefined, claim);
    onFullSandbox(sandbox);
    return { exit: await sandbox.execute(program, host, signal), kind: sandbox.kind };
  }

  closeOwner(owner: string): void {
    this.#instant?.closeOwner(owner);
  }

  /** The tier's outcome, or undefined when full Python should run the program instead. */
  async #tryInstant(
    instant: InstantTier,
    program: SandboxProgram,
    host: SandboxHost,
    signal: AbortSignal,
    owner: string,
  ): Promise<Routed | undefined> {
    const auto = this.#mode === 'auto';
    const digest = auto ? createHash('sha256').update(program.code).digest('base64') : '';
    if (auto) {
      if (this.#needsFull.has(digest)) return undefined;
      const verdict = instant.fits(program);
      if (!verdict.fits) {
        this.#logger.debug('program routed to full Python', { run: program.runId, reason: verdict.reason });
        return undefined;
      }
    }
    let result: Awaited<ReturnType<InstantTier['run']>>;
    try {
      result = await instant.run(program, host, signal, { fallback: auto, owner });
    } catch (error) {
      if (signal.aborted || !auto) {
        if (!auto && !signal.aborted) {
          throw new BridgeError(
            'RUNTIME_UNAVAILABLE',
            `MCP_BRIDGE_RUNTIME=monty, but the Monty tier cannot run: ${(error as Error).message}. ` +
              'Set MCP_BRIDGE_RUNTIME=auto to use a container or the embedded sandbox instead.',
            { cause: error },
          );
        }
        throw error;
      }
      if (!this.#tierFailureLogged) {
        this.#tierFailureLogged = true;
        this.#logger.warn('the Monty tier is not available; every program runs on full Python', { error });
      }
      return undefined;
    }
    if (result.exit.kind === 'declined') {
      this.#remember(digest);
      this.#logger.debug('Monty declined the program; it runs on full Python', {
        run: program.runId,
        reason: result.exit.reason,
      });
      return undefined;
    }
    if (auto && result.subsetFailure) this.#remember(digest);
    return { exit: result.exit, kind: 'monty' };
  }

  #remember(digest: string): void {
    this.#needsFull.delete(digest);
    this.#needsFull.add(digest);
    if (this.#needsFull.size > REMEMBERED_PROGRAMS) {
      const [oldest] = this.#needsFull;
      if (oldest !== undefined) this.#needsFull.delete(oldest);
    }
  }
}

/** The error of a run that needs full Python where this bridge has none (`MCP_BRIDGE_RUNTIME=monty`). */
export function montyOnlyRefusal(what: string): string {
  return (
    `${what} needs full Python, and this bridge runs every program on Monty, its instant subset of Python ` +
    '(MCP_BRIDGE_RUNTIME=monty). Set MCP_BRIDGE_RUNTIME=auto (Monty when a program fits, else a container or ' +
    'the embedded sandbox), podman, docker or embedded to use it.'
  );
}
