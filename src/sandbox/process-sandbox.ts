/**
 * A sandbox whose protocol channel is a child process's stdin/stdout (or a socket it connects).
 * Container and embedded backends differ only in how the process is started and how it is killed
 * (`terminate`), so the frame handling and exit bookkeeping live here once; each program's host calls
 * go through a `HostCallQueue` (host-call-queue.ts), which bounds every queue a run can fill.
 */
import type { ChildProcess } from 'node:child_process';
import { addAbortListener } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortable } from '../shared/abort.js';
import { writeBatched } from '../shared/batched-write.js';
import type { Logger } from '../shared/logger.js';
import type { CpuControl } from './cpu-weight.js';
import { summarizeDiagnostics } from './diagnostics.js';
import { HostCallQueue } from './host-call-queue.js';
import {
  type DecodedFrame,
  encodeFrame,
  FrameDecoder,
  type HostFrame,
  ProtocolViolation,
  type SandboxFrame,
} from './protocol.js';
import type { Sandbox, SandboxExit, SandboxHost, SandboxKind, SandboxProgram } from './types.js';

const DIAGNOSTICS_CHARS = 4096;
/** After `done` the runtime exits once the host closes the channel; only one that lingers is killed. */
const EXIT_AFTER_DONE_GRACE_MS = 2000;
/** How long a separate frame channel may lag behind the process's exit. */
const CHANNEL_DRAIN_MS = 1000;

/** Where frames travel: the child's stdio by default, or a socket the backend connects later. */
export interface FrameChannel {
  input: Readable;
  output: Writable;
}

export interface ProcessSandboxOptions {
  id: string;
  kind: SandboxKind;
  child: ChildProcess;
  /**
   * The frame channel. Default: the child's stdout/stdin. `'later'` means the backend calls
   * `attachChannel` once the sandbox has connected (until then no frame can arrive).
   */
  channel?: FrameChannel | 'later';
  /** Kills whatever owns the work (the container, the process group) and resolves when it is gone. */
  terminate: () => Promise<void>;
  logger: Logger;
}

type Phase = 'starting' | 'ready' | 'running' | 'finished';

interface Readiness {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** The state of the one program a sandbox runs. */
interface ActiveRun {
  host: SandboxHost;
  /** A session's program: after `done` the sandbox is ready for the next one. */
  keep: boolean;
  settle: (exit: SandboxExit) => void;
  /** Its host calls; also what host operations are told of its replies (`ReplyChannel`). */
  calls: HostCallQueue;
}

export class ProcessSandbox implements Sandbox {
  readonly id: string;
  readonly kind: SandboxKind;
  readonly #child: ChildProcess;
  #input: Readable | undefined;
  #output: Writable | undefined;
  #channelClosed: Promise<void> | undefined;
  readonly #terminate: () => Promise<void>;
  readonly #logger: Logger;
  readonly #decoder = new FrameDecoder();
  readonly #exited: Promise<void>;
  #phase: Phase = 'starting';
  /** Settled once: by `ready`, or by a violation or the process's exit before it. */
  readonly #ready: Promise<void>;
  #readiness!: Readiness;
  #run: ActiveRun | undefined;
  #diagnostics = '';
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;
  /** Why the process could not be started (its 'error' event), when it could not. */
  #spawnError: Error | undefined;
  #hasExited = false;
  #completed = false;
  #destroying: Promise<void> | undefined;
  /** Finds how its CPU weight is set (undefined: it cannot be); asked once, on first need. */
  #findCpu: () => Promise<CpuControl | undefined> = () => Promise.resolve(undefined);
  #cpu: Promise<CpuControl | undefined> | undefined;
  /** Weights are written one after another, so the last one asked for is the one in force. */
  #cpuWrites: Promise<unknown> = Promise.resolve();

  constructor(options: ProcessSandboxOptions) {
    this.id = options.id;
    this.kind = options.kind;
    this.#child = options.child;
    this.#terminate = options.terminate;
    this.#logger = options.logger;
    this.#ready = new Promise((resolve, reject) => {
      this.#readiness = { resolve, reject };
    });
    // Nobody may be waiting (a sandbox that dies in the pool): its failure is reported on use, if ever.
    this.#ready.catch(() => {});
    this.#exited = new Promise((resolve) => {
      this.#child.once('close', async (code, signal) => {
        // Frames on a separate channel (a socket) may still be in flight when the process is gone:
        // read them to the end first, so a `done` sent just before exiting is never lost.
        if (this.#channelClosed) {
          await Promise.race([this.#channelClosed, sleep(CHANNEL_DRAIN_MS, undefined, { ref: false })]);
        }
        this.#hasExited = true;
        this.#exitCode = code;
        this.#exitSignal = signal;
        resolve();
      });
    });
    void this.#exited.then(() => this.#onExit());
    // Spawning failed (EMFILE, ENOENT…): 'close' follows with a negative code; say why instead.
    this.#child.once('error', (error) => {
      this.#spawnError ??= error;
    });
    // A write after the sandbox died must not become an unhandled 'error' event.
    this.#child.stdin?.on('error', () => {});
    if (options.channel !== 'later') {
      const stdio =
        this.#child.stdout && this.#child.stdin
          ? { input: this.#child.stdout, output: this.#child.stdin }
          : undefined;
      const channel = options.channel ?? stdio;
      if (channel) this.attachChannel(channel);
    }
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (text: string) => {
      this.#diagnostics = (this.#diagnostics + text).slice(-DIAGNOSTICS_CHARS);
      for (const line of text.split('\n')) {
        if (line.trim()) this.#logger.debug('sandbox stderr', { sandbox: this.id, line });
      }
    });
  }

  /** Starts reading frames from `channel`; called once. */
  attachChannel(channel: FrameChannel): void {
    if (this.#output) throw new Error(`sandbox ${this.id} already has a channel`);
    this.#input = channel.input;
    this.#output = channel.output;
    if (channel.input !== this.#child.stdout) {
      this.#channelClosed = new Promise((resolve) => channel.input.once('close', () => resolve()));
    }
    channel.output.on('error', () => {});
    channel.output.on('drain', () => this.#run?.calls.pump());
    channel.input.on('error', () => {});
    channel.input.on('data', (chunk: Buffer) => this.#receive(chunk));
  }

  /**
   * How its backend finds the control of this sandbox's CPU weight. Called only when a weight is
   * first set (most sandboxes never are: cpu-shares.ts writes only changes from the default), so a
   * sandbox whose weight stays the default costs no cgroup lookup.
   */
  useCpuControl(find: () => Promise<CpuControl | undefined>): void {
    this.#findCpu = find;
  }

  /** How this sandbox's CPU weight is set, if it can be (for doctor and logs). */
  cpuControl(): Promise<CpuControl | undefined> {
    this.#cpu ??= this.#findCpu().catch(() => undefined);
    return this.#cpu;
  }

  setCpuWeight(weight: number): void {
    this.#cpuWrites = this.#cpuWrites.then(async () => {
      if (!this.alive) return;
      const control = await this.cpuControl();
      if (!control || !this.alive) return;
      const value = await control.set(weight);
      this.#logger.debug('sandbox cpu weight', {
        sandbox: this.id,
        weight,
        mechanism: control.mechanism,
        target: control.target,
        ...(value === undefined ? { failed: true } : { value }),
      });
    });
  }

  get alive(): boolean {
    return !this.#hasExited && this.#destroying === undefined;
  }

  /**
   * The last line the sandbox process wrote to its own stderr (runtime errors, container engine
   * messages), cleaned for an error message; the whole text is in the debug log.
   */
  get diagnostics(): string {
    return summarizeDiagnostics(this.#diagnostics);
  }

  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Resolves when the runtime reports `ready`; rejects with the process's diagnostics if it dies first. */
  async waitReady(signal?: AbortSignal): Promise<void> {
    try {
      await abortable(this.#ready, signal);
    } catch (error) {
      await this.destroy();
      throw error;
    }
  }

  async execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit> {
    if (this.#phase !== 'ready' || !this.alive) {
      throw new Error(`sandbox ${this.id} cannot run a program (phase ${this.#phase})`);
    }
    this.#phase = 'running';
    const exit = new Promise<SandboxExit>((resolve) => {
      this.#run = {
        host,
        keep: program.keep === true,
        settle: resolve,
        calls: new HostCallQueue({
          unreadBytes: () => this.#output?.writableLength ?? 0,
          write: (line) => this.#write(line),
          pauseReading: (paused) => {
            if (paused && !this.#input?.isPaused()) this.#input?.pause();
            else if (!paused && this.#input?.isPaused()) this.#input.resume();
          },
          violation: (violation) => this.#violation(violation),
        }),
      };
    });
    const onAbort = addAbortListener(signal, () => {
      this.#settle({ kind: 'aborted' });
      void this.destroy();
    });
    try {
      if (signal.aborted) this.#settle({ kind: 'aborted' });
      else this.#write({ type: 'run', ...programFrame(program) });
      return await exit;
    } finally {
      onAbort[Symbol.dispose]();
    }
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroyOnce();
    return this.#destroying;
  }

  /** Resolves when the sandbox process has exited, whatever the reason. */
  async exited(): Promise<void> {
    await this.#exited;
  }

  async #destroyOnce(): Promise<void> {
    this.#readiness.reject(this.#notReadyError()); // a no-op once ready
    this.#phase = 'finished';
    // Closing the channel is what tells a finished runtime to exit (it waits for it after `done`).
    this.#child.stdin?.end();
    if (this.#output !== this.#child.stdin) this.#output?.end();
    if (this.#completed && !this.#hasExited) {
      // Cheaper than spawning `rm -f`: a finished runtime exits and the engine removes it (`--rm`).
      await Promise.race([this.#exited, sleep(EXIT_AFTER_DONE_GRACE_MS, undefined, { ref: false })]);
      if (this.#hasExited) return;
    }
    try {
      await this.#terminate();
    } catch (error) {
      this.#logger.warn('sandbox termination failed', { sandbox: this.id, error });
    }
    if (!this.#hasExited) {
      this.#child.kill('SIGKILL');
      await this.#exited;
    }
  }

  /** Ends the running program (once) with `exit`: calls in flight are aborted, waiting ones dropped. */
  #settle(exit: SandboxExit): void {
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    this.#phase = run.keep && exit.kind === 'done' && this.alive ? 'ready' : 'finished';
    run.calls.close();
    run.settle(exit);
  }

  #notReadyError(): Error {
    if (this.#spawnError) {
      return new Error(`sandbox process could not be started: ${this.#spawnError.message}`, {
        cause: this.#spawnError,
      });
    }
    const how = this.#hasExited
      ? `exited (${this.#exitSignal ?? `code ${this.#exitCode}`})`
      : 'was destroyed';
    return new Error(
      `sandbox process ${how} before it was ready${this.diagnostics ? `: ${this.diagnostics}` : ''}`,
    );
  }

  #onExit(): void {
    this.#readiness.reject(this.#notReadyError());
    this.#settle({
      kind: 'exited',
      exitCode: this.#exitCode,
      signal: this.#exitSignal,
      diagnostics: this.diagnostics,
    });
  }

  #receive(chunk: Buffer): void {
    // One frame at a time, in stream order, however the bytes were chunked: what precedes a bad line
    // (the program's output, its `done`) counts, and nothing after a `done` is even decoded.
    const frames = this.#decoder.frames(chunk);
    for (;;) {
      if (this.#phase === 'finished') return;
      let next: IteratorResult<DecodedFrame>;
      try {
        next = frames.next();
      } catch (error) {
        this.#violation(error instanceof ProtocolViolation ? error : new ProtocolViolation(String(error)));
        return;
      }
      if (next.done) return;
      this.#dispatch(next.value.frame, next.value.chars);
    }
  }

  #dispatch(frame: SandboxFrame, chars: number): void {
    if (this.#phase === 'starting') {
      if (frame.type === 'ready') {
        this.#phase = 'ready';
        this.#readiness.resolve();
      } else this.#violation(new ProtocolViolation(`sandbox sent '${frame.type}' before 'ready'`));
      return;
    }
    const run = this.#run;
    if (!run) {
      // A session's sandbox between programs: a thread the user left running may still print.
      if (frame.type === 'out') return;
      this.#logger.warn('sandbox sent a frame while idle', { sandbox: this.id, type: frame.type });
      void this.destroy();
      return;
    }
    switch (frame.type) {
      case 'out':
        run.host.onOutput(frame.stream, frame.data);
        return;
      case 'rpc': {
        const request = {
          server: frame.server,
          tool: frame.tool,
          args: frame.args,
          ...(frame.raw ? { raw: true } : {}),
        };
        run.calls.enqueue({ id: frame.id, chars, call: (signal) => run.host.callTool(request, signal) });
        return;
      }
      case 'call':
        run.calls.enqueue({
          id: frame.id,
          chars,
          call: (signal) => run.host.callHost(frame.op, frame.args, signal, run.calls),
        });
        return;
      case 'done':
        this.#completed = true;
        if (frame.final && run.keep) {
          // The process ends after this program: the session cannot keep it.
          run.keep = false;
          void this.destroy();
        }
        this.#settle(
          frame.ok
            ? { kind: 'done', ok: true }
            : {
                kind: 'done',
                ok: false,
                error: frame.error ?? 'the program failed',
                ...(frame.traceback ? { traceback: frame.traceback } : {}),
              },
        );
        return;
      case 'ready':
        this.#violation(new ProtocolViolation("sandbox sent 'ready' twice"));
        return;
    }
  }

  #violation(violation: ProtocolViolation): void {
    this.#logger.warn('sandbox protocol violation', { sandbox: this.id, reason: violation.message });
    this.#readiness.reject(violation); // a no-op once ready
    this.#settle({ kind: 'protocol_error', message: violation.message });
    void this.destroy();
  }

  #write(frame: HostFrame | string): void {
    if (!this.#output?.writable) return;
    writeBatched(this.#output, typeof frame === 'string' ? frame : encodeFrame(frame));
  }
}

function programFrame(program: SandboxProgram) {
  return {
    id: program.runId,
    code: program.code,
    servers: program.servers,
    catalog: program.catalog,
    skills: program.skills ?? [],
    ...(program.keep ? { keep: true } : {}),
  };
}
