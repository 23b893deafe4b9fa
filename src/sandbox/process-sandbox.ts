/**
 * A sandbox whose protocol channel is a child process's stdin/stdout. Container and embedded backends
 * differ only in how the process is started and how it is killed (`terminate`), so the frame handling,
 * RPC routing and exit bookkeeping live here once.
 */
import type { ChildProcess } from 'node:child_process';
import { addAbortListener } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../shared/logger.js';
import {
  encodeFrame,
  FrameDecoder,
  type HostFrame,
  ProtocolViolation,
  type SandboxFrame,
} from './protocol.js';
import {
  HostCallError,
  type Sandbox,
  type SandboxExit,
  type SandboxHost,
  type SandboxProgram,
} from './types.js';

/** In-flight host calls one program may have; beyond it calls fail fast instead of queueing. */
const MAX_CONCURRENT_HOST_CALLS = 32;
const DIAGNOSTICS_CHARS = 4096;
/** After `done` the runtime exits by itself; only a sandbox that lingers past this is killed. */
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

export class ProcessSandbox implements Sandbox {
  readonly id: string;
  readonly #child: ChildProcess;
  #output: Writable | undefined;
  #channelClosed: Promise<void> | undefined;
  readonly #terminate: () => Promise<void>;
  readonly #logger: Logger;
  readonly #decoder = new FrameDecoder();
  readonly #exited: Promise<void>;
  #phase: Phase = 'starting';
  #diagnostics = '';
  #exitCode: number | null = null;
  #exitSignal: NodeJS.Signals | null = null;
  #hasExited = false;
  #completed = false;
  #destroying: Promise<void> | undefined;
  #onFrame: ((frame: SandboxFrame) => void) | undefined;
  #onViolation: ((violation: ProtocolViolation) => void) | undefined;

  constructor(options: ProcessSandboxOptions) {
    this.id = options.id;
    this.#child = options.child;
    this.#terminate = options.terminate;
    this.#logger = options.logger;
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
    this.#output = channel.output;
    if (channel.input !== this.#child.stdout) {
      this.#channelClosed = new Promise((resolve) => channel.input.once('close', () => resolve()));
    }
    channel.output.on('error', () => {});
    channel.input.on('error', () => {});
    channel.input.on('data', (chunk: Buffer) => this.#receive(chunk));
  }

  get alive(): boolean {
    return !this.#hasExited && this.#destroying === undefined;
  }

  /** What the sandbox process wrote to its own stderr (runtime errors, container engine messages). */
  get diagnostics(): string {
    return this.#diagnostics.trim();
  }

  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Resolves when the runtime reports `ready`; rejects with the process's diagnostics if it dies first. */
  async waitReady(signal?: AbortSignal): Promise<void> {
    if (this.#phase !== 'starting') return;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.#onFrame = (frame) => {
          if (frame.type !== 'ready') {
            reject(new ProtocolViolation(`sandbox sent '${frame.type}' before 'ready'`));
            return;
          }
          this.#phase = 'ready';
          resolve();
        };
        this.#onViolation = reject;
        void this.#exited.then(() =>
          reject(
            new Error(
              `sandbox process exited (${this.#exitSignal ?? `code ${this.#exitCode}`}) before it was ready` +
                (this.diagnostics ? `: ${this.diagnostics}` : ''),
            ),
          ),
        );
        onAbort = () => reject(signal?.reason);
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
    } catch (error) {
      await this.destroy();
      throw error;
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      this.#onFrame = undefined;
      this.#onViolation = undefined;
    }
  }

  async execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit> {
    if (this.#phase !== 'ready' || !this.alive) {
      throw new Error(`sandbox ${this.id} cannot run a program (phase ${this.#phase})`);
    }
    this.#phase = 'running';
    const controller = new AbortController();
    const callSignal = AbortSignal.any([signal, controller.signal]);
    let inFlight = 0;

    const reply = (frame: HostFrame) => {
      if (this.#phase === 'running' && this.#output?.writable) this.#output.write(encodeFrame(frame));
    };
    const serve = async (id: number, call: (signal: AbortSignal) => Promise<unknown>) => {
      if (inFlight >= MAX_CONCURRENT_HOST_CALLS) {
        reply({
          type: 'rpc_result',
          id,
          ok: false,
          code: 'TOO_MANY_CALLS',
          error: `more than ${MAX_CONCURRENT_HOST_CALLS} tool calls in flight at once; await some before starting more`,
        });
        return;
      }
      inFlight++;
      // Each call gets its own signal, linked to the run's and unlinked when the call ends: listeners
      // that callees add (the SDK adds one per request and never removes it) die with the call.
      const perCall = new AbortController();
      const unlink = addAbortListener(callSignal, () => perCall.abort(callSignal.reason));
      try {
        reply({ type: 'rpc_result', id, ok: true, value: (await call(perCall.signal)) ?? null });
      } catch (error) {
        const code = error instanceof HostCallError ? error.code : 'HOST_ERROR';
        const message = error instanceof Error ? error.message : String(error);
        reply({ type: 'rpc_result', id, ok: false, code, error: message });
      } finally {
        unlink[Symbol.dispose]();
        inFlight--;
      }
    };

    try {
      return await new Promise<SandboxExit>((resolve) => {
        const finish = (exit: SandboxExit) => {
          this.#phase = 'finished';
          resolve(exit);
        };
        this.#onFrame = (frame) => {
          switch (frame.type) {
            case 'out':
              host.onOutput(frame.stream, frame.data);
              return;
            case 'rpc':
              void serve(frame.id, (signal) =>
                host.callTool({ server: frame.server, tool: frame.tool, args: frame.args }, signal),
              );
              return;
            case 'call':
              void serve(frame.id, (signal) => host.callHost(frame.op, frame.args, signal));
              return;
            case 'done':
              this.#completed = true;
              finish(
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
              this.#onViolation?.(new ProtocolViolation("sandbox sent 'ready' twice"));
              return;
          }
        };
        this.#onViolation = (violation) => {
          finish({ kind: 'protocol_error', message: violation.message });
          void this.destroy();
        };
        void this.#exited.then(() =>
          finish({
            kind: 'exited',
            exitCode: this.#exitCode,
            signal: this.#exitSignal,
            diagnostics: this.diagnostics,
          }),
        );
        const onAbort = () => {
          finish({ kind: 'aborted' });
          void this.destroy();
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
        controller.signal.addEventListener('abort', () => signal.removeEventListener('abort', onAbort));
        this.#output?.write(
          encodeFrame({
            type: 'run',
            id: program.runId,
            code: program.code,
            servers: program.servers,
            catalog: program.catalog,
          }),
        );
      });
    } finally {
      this.#onFrame = undefined;
      this.#onViolation = undefined;
      // Cancels host calls still in flight and drops the abort listener.
      controller.abort();
    }
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroyOnce();
    return this.#destroying;
  }

  async #destroyOnce(): Promise<void> {
    this.#phase = 'finished';
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

  /** Resolves when the sandbox process has exited, whatever the reason. */
  async exited(): Promise<void> {
    await this.#exited;
  }

  #receive(chunk: Buffer): void {
    if (this.#phase === 'finished') return;
    let frames: SandboxFrame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      const violation = error instanceof ProtocolViolation ? error : new ProtocolViolation(String(error));
      this.#logger.warn('sandbox protocol violation', { sandbox: this.id, reason: violation.message });
      if (this.#onViolation) this.#onViolation(violation);
      else void this.destroy();
      return;
    }
    for (const frame of frames) {
      // A handler may have finished the run mid-batch (a `done` followed by forged frames).
      if ((this.#phase as Phase) === 'finished') return;
      if (this.#onFrame) this.#onFrame(frame);
      else {
        this.#logger.warn('sandbox sent a frame while idle', { sandbox: this.id, type: frame.type });
        void this.destroy();
        return;
      }
    }
  }
}
