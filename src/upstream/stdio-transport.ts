/**
 * The client side of MCP's stdio transport, for upstream servers the bridge starts. It replaces the
 * SDK's `StdioClientTransport` for three reasons: a message over the read cap fails only the request
 * it answers (the SDK closes the whole session, failing every other run's calls on it); framing is
 * linear in the message size (`LineSplitter`; the SDK's buffer re-concatenates on every chunk); and
 * the server runs in its own process group, which `close()` ends as a whole, grandchildren included.
 */
import type { ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import spawn from 'cross-spawn';
import { writeBatched } from '../shared/batched-write.js';
import { parseJsonRpcMessage } from '../shared/json-rpc.js';
import { isProcessGroupAlive, signalProcessGroup } from '../shared/kill-group.js';
import { jsonRpcIdOf, LineSplitter, type OversizeLine } from '../shared/line-splitter.js';

/**
 * Largest message read from an upstream server: 32 MiB. Above the SDK's 10 MB, so big legitimate
 * results (a large file, a long query result, an image as base64) still pass; bounded because one
 * message is held as a string, parsed into objects several times its size and encoded again for the
 * sandbox, and a few concurrent runs doing that must fit the bridge's heap.
 */
const MAX_UPSTREAM_MESSAGE_BYTES = 32 * 1024 * 1024;

/**
 * JSON-RPC error code of the response the transport makes up for a request whose real response was
 * over the cap. In the range JSON-RPC leaves to implementations, clear of the SDK's own codes.
 */
export const MESSAGE_TOO_LARGE_CODE = -32097;

/**
 * Requests written to a server that it has not read yet: past this a new request fails at once
 * rather than waiting in the bridge's memory for a server that stopped reading its input.
 */
const MAX_UNREAD_REQUEST_BYTES = 64 * 1024 * 1024;

/** How long each step of `close()` waits for the server to go: after stdin ends, after SIGTERM, after SIGKILL. */
const CLOSE_GRACE_MS = 2000;
/** How often `close()` checks whether the process group is gone (it emits no event of its own). */
const GROUP_POLL_MS = 50;
/** Longest stderr line forwarded whole; a longer one is cut to its head. */
const MAX_STDERR_LINE_BYTES = 16 * 1024;

/** How a server process ended: its exit code, or the signal that ended it. */
export interface UpstreamExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What the JSON-RPC error of an oversize response carries in `data`. */
export interface MessageTooLargeData {
  bytes: number;
  limitBytes: number;
}

/** A message over the cap: answered as an error when its request id could be told, else dropped. */
export interface OversizeMessage extends MessageTooLargeData {
  /** The request it answered, when that could be told from its first or last bytes. */
  id: string | number | undefined;
  answered: boolean;
}

/** Options for {@link StdioUpstreamTransport}. */
export interface StdioUpstreamTransportOptions {
  /** Executable to run, without a shell. */
  command: string;
  /** Its arguments. Default `[]`. */
  args?: string[];
  /** Added to the SDK's allow-listed environment (`getDefaultEnvironment()`). Default `{}`. */
  env?: Record<string, string>;
  /** Working directory. Default: the bridge's. */
  cwd?: string;
  /** Largest message read from the server. Default {@link MAX_UPSTREAM_MESSAGE_BYTES}. */
  maxMessageBytes?: number;
  /** Grace between the steps of `close()`. Default 2000 ms. */
  closeGraceMs?: number;
  /** Each non-blank line the server writes to stderr (without the newline). Default: dropped. */
  onStderrLine?: (line: string) => void;
  /** Told of every message over the cap (to log it). Default: nothing. */
  onOversize?: (message: OversizeMessage) => void;
}

export class StdioUpstreamTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T) => void;

  readonly #options: StdioUpstreamTransportOptions;
  readonly #maxMessageBytes: number;
  readonly #graceMs: number;
  #child: ChildProcess | undefined;
  #exited = false;
  /** Resolves when the server has exited (or never started). */
  readonly #exit: Promise<void>;
  #markExited: () => void = () => {};
  #closeReported = false;
  #closing: Promise<void> | undefined;
  #ownExit: UpstreamExit | undefined;
  /** Aborted by `kill()`: cuts short the wait for the server to leave on its own. */
  readonly #hurry = new AbortController();

  constructor(options: StdioUpstreamTransportOptions) {
    this.#options = options;
    this.#maxMessageBytes = options.maxMessageBytes ?? MAX_UPSTREAM_MESSAGE_BYTES;
    this.#graceMs = options.closeGraceMs ?? CLOSE_GRACE_MS;
    this.#exit = new Promise((resolve) => {
      this.#markExited = () => {
        this.#exited = true;
        resolve();
      };
    });
  }

  /** The server's pid once started. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** How the server ended when it left on its own (not closed or killed by us); undefined otherwise. */
  get ownExit(): UpstreamExit | undefined {
    return this.#ownExit;
  }

  start(): Promise<void> {
    if (this.#child) throw new Error('StdioUpstreamTransport already started');
    if (this.#closing) throw new Error('StdioUpstreamTransport is closed');
    const { command, args = [], env = {}, cwd } = this.#options;
    // cross-spawn, as the SDK's transport uses: on Windows it resolves `npx` to `npx.cmd` and quotes
    // arguments for cmd.exe; elsewhere it is plain `child_process.spawn`.
    const child = spawn(command, args, {
      env: { ...getDefaultEnvironment(), ...env },
      ...(cwd ? { cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
      windowsHide: true,
      // Its own process group, so close() reaches what it starts (an `npx` launcher's node). Not on
      // Windows, where `detached` means a console of its own and there are no groups to signal.
      detached: process.platform !== 'win32',
    });
    this.#child = child;
    const messages = new LineSplitter(this.#maxMessageBytes);
    const stderrLines = new LineSplitter(MAX_STDERR_LINE_BYTES);

    child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of messages.push(chunk)) {
        if (typeof line === 'string') this.#receive(line);
        else this.#refuse(line);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of stderrLines.push(chunk)) {
        const text = typeof line === 'string' ? line : `${line.head} … (a line of ${line.bytes} bytes, cut)`;
        if (text.trim() !== '') this.#options.onStderrLine?.(text.replace(/\r$/, ''));
      }
    });
    // A pipe that breaks because the server died must not become an unhandled 'error' event.
    for (const stream of [child.stdin, child.stdout, child.stderr]) {
      stream?.on('error', (error) => this.onerror?.(error));
    }
    child.once('exit', (code, signal) => {
      if (!this.#closing) this.#ownExit = { code, signal };
      this.#markExited();
      // The server went on its own: whatever it started may live on in its group.
      this.#closing ??= this.#terminate(child);
    });
    child.once('close', () => this.#reportClose());

    return new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.on('error', (error) => {
        if (child.pid === undefined) {
          this.#markExited();
          reject(this.#explainSpawnFailure(error));
        } else {
          this.onerror?.(error);
        }
      });
    });
  }

  /**
   * A spawn that fails for a missing working directory says ENOENT of the command, which is there:
   * name the directory instead.
   */
  #explainSpawnFailure(error: Error): Error {
    const { cwd } = this.#options;
    if (cwd === undefined) return error;
    let problem: string | undefined;
    try {
      if (!statSync(cwd).isDirectory()) problem = 'is not a directory';
    } catch (statError) {
      const code = (statError as NodeJS.ErrnoException).code;
      problem = code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be used (${code})`;
    }
    if (!problem) return error;
    return new Error(`its working directory ${JSON.stringify(cwd)} (its "cwd") ${problem}`, { cause: error });
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.#child?.stdin;
    if (!stdin || this.#closing || !stdin.writable) return Promise.reject(new Error('Not connected'));
    if (stdin.writableLength > MAX_UNREAD_REQUEST_BYTES) {
      const unread = Math.round(stdin.writableLength / 1048576);
      return Promise.reject(
        new Error(`the server has not read ${unread} MiB of earlier requests; it is not reading its input`),
      );
    }
    // The callback runs once the data is handed to the pipe, or with the error when the pipe broke;
    // waiting for it is the backpressure.
    return new Promise((resolve, reject) => {
      writeBatched(stdin, `${JSON.stringify(message)}\n`, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Ends the server: its stdin is closed, and if it has not left after the grace its process group
   * gets SIGTERM, and after another grace SIGKILL. Idempotent; resolves when the group is gone (or
   * after the last grace, whatever happened) and `onclose` has been called.
   */
  close(): Promise<void> {
    const child = this.#child;
    if (!child) {
      this.#closing ??= Promise.resolve();
      this.#reportClose();
      return this.#closing;
    }
    this.#closing ??= this.#terminate(child);
    return this.#closing;
  }

  /**
   * Like `close()`, without waiting for the server to leave on its own first: for a server given up
   * on (still starting at shutdown, failed to initialize), which may not be reading its stdin yet.
   * Hurries a close that is under way.
   */
  kill(): Promise<void> {
    this.#hurry.abort();
    return this.close();
  }

  #receive(line: string): void {
    if (line.trim() === '') return;
    let message: JSONRPCMessage;
    try {
      message = parseJsonRpcMessage(line);
    } catch (error) {
      this.onerror?.(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.onmessage?.(message);
  }

  /** Answers the request an oversize response was for with an error; the session goes on. */
  #refuse(line: OversizeLine): void {
    const id = isResponse(line) ? jsonRpcIdOf(line) : undefined;
    const data: MessageTooLargeData = { bytes: line.bytes, limitBytes: this.#maxMessageBytes };
    if (id !== undefined) {
      this.onmessage?.({
        jsonrpc: '2.0',
        id,
        error: {
          code: MESSAGE_TOO_LARGE_CODE,
          message: `response of ${line.bytes} bytes is over the limit of ${this.#maxMessageBytes} bytes`,
          data,
        },
      });
    }
    this.#options.onOversize?.({ ...data, id, answered: id !== undefined });
  }

  async #terminate(child: ChildProcess): Promise<void> {
    const gone = () => this.#exited && !isProcessGroupAlive(child.pid);
    try {
      if (!this.#exited) {
        try {
          child.stdin?.end();
        } catch {
          // Already closed: the signals below still apply.
        }
        // The grace is for the server itself; what it leaves in its group after exiting is orphaned.
        await this.#waitUntil(() => this.#exited, this.#hurry.signal);
      }
      if (gone()) return;
      this.#signal(child, 'SIGTERM');
      if (await this.#waitUntil(gone)) return;
      this.#signal(child, 'SIGKILL');
      await this.#waitUntil(gone);
    } finally {
      // The child's 'close' (which reports it) comes after its 'exit', once its output has been read
      // to the end, so what it wrote before exiting reaches `onmessage` first. Once the group is gone
      // nothing holds the pipes and it comes at once; one that never comes (a process that left the
      // group keeps them open), or a server that never started, gets the close reported anyway.
      if (child.pid !== undefined) await this.#waitUntil(() => this.#closeReported);
      this.#reportClose();
    }
  }

  #signal(child: ChildProcess, signal: NodeJS.Signals): void {
    if (signalProcessGroup(child.pid, signal) || this.#exited) return;
    child.kill(signal);
  }

  /**
   * Checks `done` when the server exits and every few ms until it holds (true) or the grace passes or
   * `cut` aborts (false). The timers are not unref'd: a caller awaiting close() (a CLI command, the
   * bridge shutting down) would otherwise see the process exit under it as soon as the server's own
   * handle is gone, leaving the rest of its group running. The wait is bounded by the grace.
   */
  async #waitUntil(done: () => boolean, cut?: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + this.#graceMs;
    while (!done()) {
      if (performance.now() >= deadline || cut?.aborted) return false;
      await (this.#exited ? sleep(GROUP_POLL_MS) : Promise.race([sleep(GROUP_POLL_MS), this.#exit]));
    }
    return true;
  }

  #reportClose(): void {
    if (this.#closeReported) return;
    this.#closeReported = true;
    this.onclose?.();
  }
}

// Response objects start with `result`/`error` (TypeScript SDK: `{"result":…,"jsonrpc":"2.0","id":7}`)
// or with `jsonrpc` and `id` before them (Python SDK). A server's own request could carry the same id
// as one of ours, so anything else is not answered.
const RESPONSE_HEAD =
  /^\s*\{\s*(?:"(?:result|error)"|"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*(?:-?\d+|"(?:[^"\\]|\\.)*")\s*,\s*"(?:result|error)")\s*:/;

function isResponse(line: OversizeLine): boolean {
  return RESPONSE_HEAD.test(line.head);
}
