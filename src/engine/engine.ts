/**
 * One run, start to finish: grants, deadline, sandbox, output caps, routing of the sandbox's calls
 * to upstream servers, and the outcome. The only module that joins sandboxes and upstreams.
 */

import { addAbortListener } from 'node:events';
import { availableParallelism } from 'node:os';
import type {
  CatalogEntry,
  HostCallErrorCode,
  SandboxClaim,
  SandboxKind,
  SandboxStartOptions,
  ServerGrant,
  SkillGrant,
  ToolCallRequest,
} from '../sandbox/types.js';
import {
  HostCallError,
  type Sandbox,
  type SandboxExit,
  type SandboxHost,
  type SandboxProgram,
} from '../sandbox/types.js';
import { abortable } from '../shared/abort.js';
import { BridgeError, type BridgeErrorCode, errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { CpuShares } from './cpu-shares.js';
import { attachOperations } from './host-operations/attach.js';
import { outputOperations } from './host-operations/outputs.js';
import { type HostOperationSpec, HostOperations } from './host-operations/registry.js';
import { sessionOperations } from './host-operations/sessions.js';
import { valueOperations } from './host-operations/values.js';
import { OutputStore } from './output-store.js';
import { localPrincipal, type Principal } from './principal.js';
import { type InstantTier, montyOnlyRefusal, type RuntimeMode, SandboxRouter } from './routing.js';
import type { RunObservation, RunObserver } from './run-observer.js';
import { RunRecord } from './run-record.js';
import { RunSlots } from './run-slots.js';
import { SandboxAdmission, type SandboxTicket } from './sandbox-admission.js';
import { type SessionInfo, SessionTable, type SessionTurn } from './sessions.js';
import {
  type CallContext,
  DEFAULT_OWNER,
  type RunOptions,
  type RunOutcome,
  type RunRequest,
  type UpstreamPort,
} from './types.js';
import {
  grantDeclarations,
  HeldHost,
  type ProgramCheck,
  type Verdict,
  verdictOf,
  withSignatures,
} from './typescript/typescript-run.js';
import { ValueStore, type ValueStoreOptions } from './value-store.js';

/** Where sandboxes come from: a warm pool, or a backend started on demand. */
export interface SandboxSource {
  /** A warm sandbox; with `options`, one started with them (a session's own memory limit). */
  acquire(signal?: AbortSignal, options?: SandboxStartOptions, claim?: SandboxClaim): Promise<Sandbox>;
  /** Called once a run holding a sandbox has replied, to start the next one off the hot path. */
  released(): void;
}

/** TypeScript programs (docs/typescript.md): their sandboxes, and their type check unless it is off. */
export interface TypeScriptRuns {
  sandboxes: SandboxSource;
  /** Checks each program while it runs (MCP_BRIDGE_TYPECHECK); absent: programs run unchecked. */
  check?: ProgramCheck;
}

/** Where the saved skills every run receives come from. */
export interface SkillSource {
  /** The newest version of every skill `principal` sees (its own and the shared); never throws. */
  forRun(principal: Principal): Promise<SkillGrant[]>;
}

export interface EngineOptions {
  /** Full-Python sandboxes (containers, the embedded sandbox). */
  sandboxes: SandboxSource;
  /** TypeScript runs, when MCP_BRIDGE_LANGUAGES enables them. Default: none (a TypeScript run is refused). */
  typescript?: TypeScriptRuns;
  /** The Monty tier, when the bridge has one. Default: none. */
  instant?: InstantTier;
  /** How runs are routed between the two (engine/routing.ts). Default: `auto` with a tier, else `full`. */
  runtime?: RuntimeMode;
  upstreams: UpstreamPort;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Cap per stream (stdout, stderr), in characters; head and tail are kept. */
  maxOutputChars: number;
  /** The memory limit as configured, named in the message of a run the kernel killed. */
  memoryLimit?: string;
  /**
   * Host operations beside the engine's own (values, outputs, sessions, attach): discovery and skills,
   * which the composition root builds over the port and the skill store. Default: none.
   */
  hostOperations?: readonly HostOperationSpec[];
  /** Told when each run starts and ends (telemetry, the console). Default: none. */
  observer?: RunObserver;
  /** Saved skills, sent to every run. Default: none. */
  skills?: SkillSource;
  /** Programs that may run at once; more wait (their timeout running). Default: unbounded. */
  maxConcurrentRuns?: number;
  /**
   * What one principal (one owner) may hold: programs at once (more wait, and a freed slot goes to the
   * principal with the fewest going), named sessions, kept output characters and saved-value bytes.
   * Default: the bridge-wide limits (one principal may use everything, as over stdio).
   */
  perPrincipal?: { maxRuns?: number; maxSessions?: number; keptOutputChars?: number; savedBytes?: number };
  /**
   * Fair CPU between principals (MCP_BRIDGE_CPU_SHARES, a team's bridges): while several are active,
   * each runs at most its share of the cores in full-Python sandboxes and leaves warm ones to the
   * others (sandbox-admission.ts), and each one's running sandboxes share one sandbox's CPU weight
   * (cpu-shares.ts). Default false.
   */
  cpuShares?: boolean;
  /** The cores full-Python sandboxes share, for their admission. Default `os.availableParallelism()`. */
  cores?: number;
  /**
   * Named sessions: idle expiry, how many may live at once, and the memory limit of each one's
   * sandbox (MCP_BRIDGE_SESSION_MEMORY; when it differs from `memoryLimit`, a session's sandbox is
   * started for it instead of taken from the warm pool). Default: 10 min, 8, `memoryLimit`.
   */
  sessions?: { idleMs: number; maxSessions: number; memory?: string };
  /**
   * Stdout beyond `maxOutputChars` kept for `read_output`: per run, all runs together (characters),
   * and for how long (MCP_BRIDGE_KEEP_OUTPUT_*; `maxChars` 0 keeps none). Default: 4 M, 32 M, 15 min.
   */
  keptOutput?: { maxChars: number; maxTotalChars: number; ttlMs: number };
  /** Values saved with `mcp.runtime.save`: caps per value and in total. Default: 64 MiB, 512 MiB. */
  values?: ValueStoreOptions;
  logger: Logger;
}

const DEFAULT_SESSION_IDLE_MS = 10 * 60 * 1000;
const DEFAULT_MAX_SESSIONS = 8;

/**
 * Whose a run's state is: its principal's (named sessions, saved values, kept output and the run
 * slots it counts against), unless the caller names another owner.
 */
function ownerOf(options: RunOptions): string {
  return options.owner ?? options.principal?.id ?? DEFAULT_OWNER;
}

const KILLED_EXIT_CODE = 137;

export class Engine {
  readonly #options: EngineOptions;
  readonly #slots: RunSlots;
  readonly #sessions: SessionTable;
  readonly #values: ValueStore;
  readonly #outputs: OutputStore;
  /** Every operation a program may call (`call` frames): the engine's own and `options.hostOperations`. */
  readonly #hostOperations: HostOperations;
  /** A session's memory limit when it differs from every other run's: its sandbox is started for it. */
  readonly #ownSessionMemory: string | undefined;
  readonly #router: SandboxRouter;
  /** Each principal's running full-Python sandboxes share one sandbox's CPU weight (cpu-shares.ts). */
  readonly #cpuShares: CpuShares | undefined;
  /** Each principal's share of the cores and the warm pool while others are active (sandbox-admission.ts). */
  readonly #admission: SandboxAdmission | undefined;
  /** Sandboxes running TypeScript: a session holding one takes no Python program, and the reverse. */
  readonly #typescriptSandboxes = new WeakSet<Sandbox>();
  /** How to end each run in flight, by run id (`cancel`). */
  readonly #cancels = new Map<string, (reason: string) => void>();
  #runs = 0;

  constructor(options: EngineOptions) {
    this.#options = options;
    const sessionMemory = options.sessions?.memory;
    this.#ownSessionMemory = sessionMemory !== options.memoryLimit ? sessionMemory : undefined;
    const share = options.perPrincipal ?? {};
    this.#cpuShares = options.cpuShares ? new CpuShares() : undefined;
    this.#admission = options.cpuShares
      ? new SandboxAdmission({ cores: options.cores ?? availableParallelism() })
      : undefined;
    this.#slots = new RunSlots({
      limit: options.maxConcurrentRuns ?? Number.POSITIVE_INFINITY,
      ...(share.maxRuns !== undefined ? { perPrincipal: share.maxRuns } : {}),
    });
    this.#sessions = new SessionTable({
      idleMs: options.sessions?.idleMs ?? DEFAULT_SESSION_IDLE_MS,
      maxSessions: options.sessions?.maxSessions ?? DEFAULT_MAX_SESSIONS,
      ...(share.maxSessions !== undefined ? { maxPerOwner: share.maxSessions } : {}),
      logger: options.logger,
    });
    this.#values = new ValueStore({
      ...(options.values ?? { maxValueBytes: 64 * 1048576, maxTotalBytes: 512 * 1048576 }),
      ...(share.savedBytes !== undefined ? { maxOwnerBytes: share.savedBytes } : {}),
    });
    this.#outputs = new OutputStore({
      ...(options.keptOutput ?? { maxChars: 4_000_000, maxTotalChars: 32_000_000, ttlMs: 15 * 60 * 1000 }),
      ...(share.keptOutputChars !== undefined ? { maxOwnerChars: share.keptOutputChars } : {}),
    });
    this.#hostOperations = new HostOperations([
      ...valueOperations(this.#values),
      ...outputOperations(this.#outputs),
      ...sessionOperations(this.#sessions),
      ...attachOperations(),
      ...(options.hostOperations ?? []),
    ]);
    this.#router = new SandboxRouter({
      full: options.sandboxes,
      instant: options.instant,
      mode: options.runtime ?? 'auto',
      logger: options.logger,
    });
  }

  /** The live sessions of one owner (a principal). */
  listSessions(owner: string = DEFAULT_OWNER): SessionInfo[] {
    return this.#sessions.list(owner);
  }

  /** Ends one session of an owner; whether it existed. */
  resetSession(name: string, owner: string = DEFAULT_OWNER): boolean {
    return this.#sessions.reset(owner, name);
  }

  /**
   * Runs going and waiting for a slot, in all or of one owner (the console, tests of fairness), and
   * of those going, how many wait for their principal's share of full-Python sandboxes.
   */
  runLoad(owner?: string): { running: number; waiting: number; waitingForSandbox: number } {
    return {
      running: this.#slots.active(owner),
      waiting: this.#slots.waiting(owner),
      waitingForSandbox: this.#admission?.waiting(owner) ?? 0,
    };
  }

  /**
   * Ends everything an owner (a principal) left: its sessions, the values it saved, its kept output.
   * Called when it has gone (over HTTP: no MCP session of it for MCP_BRIDGE_HTTP_PRINCIPAL_IDLE).
   */
  closeOwner(owner: string): void {
    this.#sessions.closeOwner(owner);
    this.#values.dropOwner(owner);
    this.#outputs.dropOwner(owner);
    this.#router.closeOwner(owner);
  }

  /** Ends every session (the bridge is shutting down). */
  close(): void {
    this.#sessions.close();
  }

  /** Every configured server with its Python alias. */
  catalog(): CatalogEntry[] {
    return this.#options.upstreams.catalog();
  }

  /** Describes one configured server (connecting to it if needed); throws `BridgeError`. */
  async describeServer(name: string, signal: AbortSignal): Promise<ServerGrant> {
    const [grant] = await this.#options.upstreams.describe([name], signal);
    if (!grant) throw new Error(`no description for ${name}`);
    return grant;
  }

  /** The saved skills a run of `principal` would receive now (newest versions). */
  async savedSkills(principal: Principal = localPrincipal()): Promise<SkillGrant[]> {
    return (await this.#options.skills?.forRun(principal)) ?? [];
  }

  /** The host operations a program may call, by name (sorted). */
  get hostOperationNames(): readonly string[] {
    return this.#hostOperations.names;
  }

  /** The longest a run may last (MCP_BRIDGE_MAX_TIMEOUT), in milliseconds. */
  get maxTimeoutMs(): number {
    return this.#options.maxTimeoutMs;
  }

  /** The timeout a request gets: its own, or the default, never above the maximum. */
  effectiveTimeoutMs(requested?: number): number {
    return Math.min(requested ?? this.#options.defaultTimeoutMs, this.#options.maxTimeoutMs);
  }

  /**
   * Ends the run `runId` as if its caller had cancelled it, saying `reason` in its error; false when no
   * such run is in flight (it ended, or never was).
   */
  cancel(runId: string, reason: string): boolean {
    const cancel = this.#cancels.get(runId);
    cancel?.(reason);
    return cancel !== undefined;
  }

  /**
   * Runs one program. Resolves with its outcome whatever the program did; rejects only when no
   * program could be run (`BridgeError`: unknown server, no sandbox could be started).
   */
  async run(request: RunRequest, options: RunOptions = {}): Promise<RunOutcome> {
    const runId = `run-${++this.#runs}`;
    const observation = this.#options.observer?.runStarted({
      runId,
      code: request.code,
      servers: request.servers ?? [],
      ...(options.session !== undefined ? { session: options.session } : {}),
      principal: options.principal ?? localPrincipal(),
      ...(options.origin ? { origin: options.origin } : {}),
      startedAt: Date.now(),
    });
    if (!observation) return this.#run(runId, request, options);
    try {
      const outcome = await this.#run(runId, request, options, observation);
      observation.ended(outcome);
      return outcome;
    } catch (error) {
      observation.failed(error);
      throw error;
    }
  }

  async #run(
    runId: string,
    request: RunRequest,
    options: RunOptions,
    observation?: RunObservation,
  ): Promise<RunOutcome> {
    const record = new RunRecord(this.#options.maxOutputChars, this.#outputs.maxChars);
    const timeoutMs = this.effectiveTimeoutMs(request.timeoutMs);
    // One controller ends the run, at its deadline or when the caller's signal aborts. (Combining
    // the two with AbortSignal.any costs 25–50 µs a run on Node 20: a fifth of this whole prologue.)
    const ending = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ending.abort(new Error('run timed out'));
    }, timeoutMs);
    let cancelledBy: string | undefined;
    this.#cancels.set(runId, (reason) => {
      cancelledBy ??= reason;
      ending.abort(new Error(reason));
    });
    const caller = options.signal;
    if (caller?.aborted) ending.abort(caller.reason);
    const cancelled = caller ? addAbortListener(caller, () => ending.abort(caller.reason)) : undefined;
    const signal = ending.signal;
    let ranOn: SandboxKind | undefined;
    /** What the run waits for before a sandbox takes its program; a timeout then says so. */
    let waitingFor: string | undefined;
    const finish = (fields: Pick<RunOutcome, 'status' | 'error' | 'traceback'>): RunOutcome => {
      const full = record.fullStdout();
      const outcome = record.outcome(fields);
      if (ranOn) outcome.sandbox = ranOn;
      if (full) {
        const handle = this.#outputs.keep(ownerOf(options), full.text, full.totalChars);
        outcome.output = { handle, keptChars: full.text.length, totalChars: full.totalChars };
      }
      this.#options.logger.debug('run finished', {
        run: runId,
        status: outcome.status,
        ms: outcome.durationMs,
      });
      return outcome;
    };
    const aborted = () =>
      finish(
        timedOut
          ? {
              status: 'timeout',
              error: timeoutMessage(timeoutMs, this.#options.maxTimeoutMs, ranOn ? undefined : waitingFor),
            }
          : {
              status: 'cancelled',
              error: `The run was cancelled ${cancelledBy ?? 'by the client'}; its sandbox was killed.`,
            },
      );

    let sandbox: Sandbox | undefined;
    let fromPool = false;
    let release: (() => void) | undefined;
    let turn: SessionTurn | undefined;
    let context: CallContext | undefined;
    let leaveCpuShare: (() => void) | undefined;
    let ticket: SandboxTicket | undefined;
    const owner = ownerOf(options);
    // Active from its arrival, before any slot: a principal whose run waits is one to share with.
    const leaveRun = this.#admission?.enterRun(owner);
    /** The run's place in a full-Python sandbox (its principal's share); how it takes a warm one. */
    const admit = async (): Promise<SandboxClaim | undefined> => {
      if (!this.#admission) return undefined;
      const before = waitingFor;
      waitingFor = "its principal's share of the sandboxes (other principals are using the bridge)";
      const queued =
        this.#admission.waiting(owner) > 0 || this.#admission.running(owner) >= this.#admission.share();
      if (queued) {
        this.#options.logger.debug('run waits for its share of sandboxes', {
          run: runId,
          principal: owner,
          running: this.#admission.running(owner),
          share: this.#admission.share(),
        });
      }
      ticket = await this.#admission.admit(owner, signal);
      this.#options.logger.debug('run admitted to a sandbox', {
        run: runId,
        principal: owner,
        waited: queued,
      });
      waitingFor = before;
      return ticket.claim;
    };
    const end = (outcome: RunOutcome): RunOutcome => {
      if (!turn) return outcome;
      // A session keeps its sandbox only after a program that ended on its own, and not out of
      // memory: the kernel kills a container at its limit, and a Pyodide heap at its cap never shrinks.
      const outOfMemory = outcome.status === 'error' && /^MemoryError\b/.test(outcome.error ?? '');
      const kept =
        outcome.status === 'ok' || (outcome.status === 'error' && !outOfMemory) ? sandbox : undefined;
      turn.finish(
        kept?.alive ? kept : undefined,
        outOfMemory
          ? `the previous run ran out of memory (MemoryError; ${this.#sessionMemoryName()})`
          : `the previous run ended: ${outcome.status}: ${outcome.error ?? ''}`.slice(0, 400),
      );
      return { ...outcome, session: { ...turn.report } };
    };
    const typescript = request.language === 'typescript';
    let source = this.#options.sandboxes;
    try {
      if (typescript) {
        if (!this.#options.typescript) {
          return finish({
            status: 'error',
            error:
              'TypeScript is not enabled on this bridge: set MCP_BRIDGE_LANGUAGES=python,typescript (or typescript) and restart it.',
          });
        }
        source = this.#options.typescript.sandboxes;
      }
      if (!typescript && request.session !== undefined && this.#router.mode === 'monty') {
        return finish({
          status: 'error',
          error: montyOnlyRefusal(`A session (session=${JSON.stringify(request.session)})`),
        });
      }
      if (request.session !== undefined) {
        // The session's turn before a run slot: a call waiting for its session holds no slot.
        waitingFor = 'its session (a call before it still runs there)';
        turn = await this.#sessions.turn(ownerOf(options), request.session, signal);
        sandbox = turn.sandbox;
        if (sandbox && this.#typescriptSandboxes.has(sandbox) !== typescript) {
          const [holds, asked] = typescript ? ['Python', 'TypeScript'] : ['TypeScript', 'Python'];
          return finish({
            status: 'error',
            error:
              `Session ${JSON.stringify(request.session)} holds a ${holds} sandbox, which cannot run ${asked}: ` +
              `name another session for ${asked} programs (or end this one with mcp.runtime's reset_session).`,
          });
        }
      }
      waitingFor = "a free run slot (MCP_BRIDGE_MAX_CONCURRENT_RUNS, or its principal's share of them)";
      const queuedAt = observation?.queued ? performance.now() : 0;
      release = await this.#slots.acquire(signal, ownerOf(options));
      if (observation?.queued) observation.queued(performance.now() - queuedAt);
      waitingFor = 'its servers to connect';
      const program = await this.#program(runId, request, signal, ownerOf(options), options.principal);
      context = callContext(runId, request, options, turn);
      const host = this.#hostFor(program, record, options, context, observation);
      let exit: SandboxExit;
      waitingFor = 'a sandbox (every one was busy or still starting)';
      if (typescript) {
        const check = this.#options.typescript?.check;
        // The check starts first and runs beside the program; the verdict gates its first call.
        const verdict = check ? this.#check(check, program, signal) : undefined;
        const held = verdict ? new HeldHost(host) : undefined;
        if (!sandbox) {
          const memory = turn ? this.#ownSessionMemory : undefined;
          sandbox = memory ? await source.acquire(signal, { memory }) : await source.acquire(signal);
          fromPool = memory === undefined;
        }
        this.#typescriptSandboxes.add(sandbox);
        ranOn = sandbox.kind;
        const running = sandbox;
        const stopped = new AbortController();
        const stop = addAbortListener(signal, () => stopped.abort(signal.reason));
        let failed: Extract<Verdict, { ok: false }> | undefined;
        void verdict?.then((answer) => {
          if (answer.ok) return held?.open(answer.note);
          failed = answer;
          held?.refuse();
          stopped.abort(new Error('the program failed its type check'));
        });
        try {
          exit = await running.execute(program, held?.host ?? host, stopped.signal);
          // A program that ended before its verdict still waits for it: its output is held until then.
          const answer = verdict ? await abortable(verdict, signal) : undefined;
          if (answer && !answer.ok) failed = answer;
        } finally {
          stop[Symbol.dispose]();
        }
        if (failed) {
          // Killed before any call; a session's sandbox is not kept (its state is the program's half-run).
          if (running.alive) void running.destroy();
          return end(finish({ status: 'error', error: failed.error, traceback: failed.traceback }));
        }
      } else if (!turn) {
        // Not a session: the router picks the sandbox (engine/routing.ts).
        const routed = await this.#router.run(
          program,
          host,
          signal,
          owner,
          (taken) => {
            sandbox = taken;
            fromPool = true;
            leaveCpuShare = this.#cpuShares?.enter(owner, taken);
            // Known before the program ends: a run that times out or fails in it still names its sandbox.
            ranOn = taken.kind;
          },
          admit,
        );
        exit = routed.exit;
        ranOn = routed.kind;
      } else {
        // A session's kept sandbox runs its program on a core like any other: it is admitted too.
        const claim = await admit();
        if (!sandbox && this.#ownSessionMemory) {
          sandbox = await this.#options.sandboxes.acquire(signal, { memory: this.#ownSessionMemory });
        } else if (!sandbox) {
          sandbox = await this.#options.sandboxes.acquire(signal, undefined, claim);
          fromPool = true;
        }
        ranOn = sandbox.kind;
        leaveCpuShare = this.#cpuShares?.enter(program.owner as string, sandbox);
        exit = await sandbox.execute(program, host, signal);
      }
      return end(exit.kind === 'aborted' ? aborted() : finish(this.#describeExit(exit, turn !== undefined)));
    } catch (error) {
      if (signal.aborted) return end(aborted());
      throw error;
    } finally {
      clearTimeout(timer);
      this.#cancels.delete(runId);
      cancelled?.[Symbol.dispose]();
      // What the run was still saving goes with it, whatever ended it.
      this.#values.releaseRun(runId);
      leaveCpuShare?.();
      ticket?.release();
      release?.();
      leaveRun?.();
      // A turn not ended above (no program ran): the sandbox it had, if any, stays for the next run.
      turn?.finish(sandbox?.alive ? sandbox : undefined, 'no sandbox could be started');
      if (!turn && sandbox) void sandbox.destroy();
      if (context) this.#options.upstreams.runEnded(context);
      if (fromPool) {
        // After the reply has gone out: a sandbox starting now would slow the run that is answering.
        setImmediate(() => source.released());
      }
    }
  }

  /** What the sandbox receives: the code, the granted servers (connecting them), catalog and skills. */
  async #program(
    runId: string,
    request: RunRequest,
    signal: AbortSignal,
    owner: string,
    principal: Principal | undefined,
  ): Promise<SandboxProgram> {
    const described = request.servers?.length
      ? await this.#options.upstreams.describe(request.servers, signal)
      : [];
    const typescript = request.language === 'typescript';
    // Skills are Python functions: a TypeScript run receives none.
    const servers = typescript ? described.map(withSignatures) : described;
    const skills = typescript ? [] : await this.savedSkills(principal);
    return {
      runId,
      code: request.code,
      servers,
      catalog: this.#options.upstreams.catalog(),
      skills,
      owner,
      ...(request.session !== undefined ? { keep: true } : {}),
    };
  }

  /** How the sandbox reaches the host during its run: output, granted tools, host operations. */
  #hostFor(
    program: SandboxProgram,
    record: RunRecord,
    options: RunOptions,
    context: CallContext,
    observation: RunObservation | undefined,
  ): SandboxHost {
    const granted = new Set(program.servers.map((server) => server.name));
    const caller = options.onOutput;
    const observe = observation?.output?.bind(observation);
    const tap: RunOptions['onOutput'] =
      caller && observe
        ? (stream, data) => {
            caller(stream, data);
            observe(stream, data);
          }
        : (caller ?? observe);
    return {
      onOutput: tap
        ? (stream, data) => {
            record.append(stream, data);
            tap(stream, data);
          }
        : (stream, data) => record.append(stream, data),
      callTool: (call, callSignal) => forProgram(this.#callTool(call, granted, callSignal, context)),
      callHost: (op, args, callSignal, replies) =>
        forProgram(this.#hostOperations.call(op, args, { run: context, record, replies }, callSignal)),
    };
  }

  async #callTool(
    call: ToolCallRequest,
    granted: Set<string>,
    signal: AbortSignal,
    context: CallContext,
  ): Promise<unknown> {
    if (!granted.has(call.server)) {
      // The sandbox is untrusted: a frame naming a server this run was not given is refused here.
      throw new HostCallError(
        `server '${call.server}' is not granted to this run; pass it in run_python's \`servers\``,
        'NOT_GRANTED',
      );
    }
    return this.#options.upstreams.callTool(call, signal, context);
  }

  /**
   * The type check of a TypeScript program against its grant. A checker that cannot answer lets the
   * program run, saying so on its stderr: a broken checker should not stop every TypeScript run.
   */
  #check(check: ProgramCheck, program: SandboxProgram, signal: AbortSignal): Promise<Verdict> {
    return check(program.code, grantDeclarations(program.servers), signal).then(verdictOf, (error) => {
      if (signal.aborted) return { ok: true };
      this.#options.logger.warn('the type check failed; the program runs unchecked', { error });
      return {
        ok: true,
        note: `[the type check could not run (${errorMessage(error)}); the program ran unchecked]`,
      };
    });
  }

  /** The setting that bounds a session's sandbox, as a user would set it. */
  #sessionMemoryName(): string {
    if (this.#ownSessionMemory) return `MCP_BRIDGE_SESSION_MEMORY=${this.#ownSessionMemory}`;
    return `MCP_BRIDGE_MEMORY=${this.#options.memoryLimit ?? 'its default'}`;
  }

  #describeExit(
    exit: Exclude<SandboxExit, { kind: 'aborted' }>,
    inSession: boolean,
  ): Pick<RunOutcome, 'status' | 'error' | 'traceback'> {
    switch (exit.kind) {
      case 'done':
        return exit.ok
          ? { status: 'ok' }
          : { status: 'error', error: exit.error, ...(exit.traceback ? { traceback: exit.traceback } : {}) };
      case 'protocol_error':
        return {
          status: 'protocol_error',
          error: `The sandbox broke the protocol and was killed: ${exit.message}`,
        };
      case 'exited': {
        const killed = exit.exitCode === KILLED_EXIT_CODE || exit.signal === 'SIGKILL';
        if (killed) {
          const limit = inSession
            ? ` (${this.#sessionMemoryName()})`
            : this.#options.memoryLimit
              ? ` (MCP_BRIDGE_MEMORY=${this.#options.memoryLimit})`
              : '';
          return {
            status: 'killed',
            // SIGKILL is all the bridge sees: the kernel's OOM killer and a kill from outside look alike.
            error:
              `The sandbox was killed by the system, most likely for exceeding its memory limit${limit}; ` +
              'a kill from outside the bridge (kill -9, an engine `kill`) looks the same.',
          };
        }
        const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.exitCode}`;
        return {
          status: 'killed',
          error: `The sandbox ended unexpectedly (${how})${exit.diagnostics ? `: ${exit.diagnostics}` : ''}.`,
        };
      }
    }
  }
}

/** Which run a call belongs to: one object for all of a run's calls. */
function callContext(
  runId: string,
  request: RunRequest,
  options: RunOptions,
  turn: SessionTurn | undefined,
): CallContext {
  return {
    runId,
    principal: options.principal ?? localPrincipal(),
    ...(options.session !== undefined ? { session: options.session } : {}),
    ...(options.approve ? { approve: options.approve } : {}),
    owner: ownerOf(options),
    ...(request.session !== undefined ? { sessionName: request.session } : {}),
    ...(turn ? { sessionScope: turn.scope } : {}),
  };
}

/**
 * What a `BridgeError` is called when a program sees it. The errors of the upstream pool, its port and
 * the policy gate pass on as they are; the others concern the bridge's own start and never arise in a
 * host call (one that did is a host error).
 */
const HOST_CALL_CODES: Readonly<Record<BridgeErrorCode, HostCallErrorCode>> = {
  UNKNOWN_SERVER: 'UNKNOWN_SERVER',
  UNKNOWN_TOOL: 'UNKNOWN_TOOL',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
  TOOL_ERROR: 'TOOL_ERROR',
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  OUT_OF_FILE_DESCRIPTORS: 'OUT_OF_FILE_DESCRIPTORS',
  POLICY_DENIED: 'POLICY_DENIED',
  POLICY_DECLINED: 'POLICY_DECLINED',
  POLICY_BUDGET: 'POLICY_BUDGET',
  POLICY_RATE_LIMIT: 'POLICY_RATE_LIMIT',
  POLICY_PLACEHOLDER: 'POLICY_PLACEHOLDER',
  CONFIG_INVALID: 'HOST_ERROR',
  RUNTIME_UNAVAILABLE: 'HOST_ERROR',
  IMAGE_MISSING: 'HOST_ERROR',
  SANDBOX_START_FAILED: 'HOST_ERROR',
  SESSION_LIMIT: 'HOST_ERROR',
};

/**
 * The one place a host-side failure becomes what the program sees: a `BridgeError` (from the pool,
 * the policy…) turns into a `HostCallError`, which reaches Python as `mcp.ToolError` with its code.
 */
async function forProgram<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof BridgeError) throw new HostCallError(error.message, HOST_CALL_CODES[error.code]);
    throw error;
  }
}

/**
 * `waitingFor`: what the run still waited for when its time ran out (no sandbox had taken the
 * program), so the message does not claim a sandbox was killed mid-program.
 */
function timeoutMessage(timeoutMs: number, maxTimeoutMs: number, waitingFor?: string): string {
  const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;
  if (waitingFor) {
    return (
      `Timed out after ${seconds(timeoutMs)} waiting for ${waitingFor}; the program did not start. ` +
      `Pass a larger \`timeout\` (at most ${seconds(maxTimeoutMs)}) or try again.`
    );
  }
  return (
    `Timed out after ${seconds(timeoutMs)}; the sandbox was killed. ` +
    `Pass a larger \`timeout\` (at most ${seconds(maxTimeoutMs)}) or do less per run.`
  );
}
