/**
 * MCP over this process's stdin/stdout, like the SDK's `StdioServerTransport` with three differences
 * that matter to a long-lived server: a message over the size cap is answered with an error for its
 * request (the SDK's transport closes itself, leaving the process running with nobody to talk to); so
 * is a request whose envelope is malformed (the SDK drops it, and its client waits for a reply that
 * never comes); and the transport closes — so the bridge exits — whenever its client is gone: stdin
 * ends or fails, or stdout can no longer be written. Framing is linear in message size (`LineSplitter`).
 */
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcShapeError, parseJsonRpcMessage } from '../shared/json-rpc.js';
import { jsonRpcIdOf, LineSplitter, type OversizeLine } from '../shared/line-splitter.js';

/** The largest message a client may send. `run_python` caps its code well below this. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** JSON-RPC "Invalid Request". */
const INVALID_REQUEST = -32600;

export class BridgeStdioTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onerror?: (error: Error) => void;
  onclose?: () => void;

  readonly #stdin: Readable;
  readonly #stdout: Writable;
  readonly #lines: LineSplitter;
  #started = false;
  #closed = false;
  #protocolVersion: string | undefined;

  constructor(
    stdin: Readable = process.stdin,
    stdout: Writable = process.stdout,
    maxMessageBytes = MAX_MESSAGE_BYTES,
  ) {
    this.#stdin = stdin;
    this.#stdout = stdout;
    this.#lines = new LineSplitter(maxMessageBytes);
  }

  async start(): Promise<void> {
    if (this.#started) throw new Error('BridgeStdioTransport already started');
    this.#started = true;
    this.#stdin.on('data', this.#onData);
    this.#stdin.on('end', this.#onGone);
    this.#stdin.on('close', this.#onGone);
    this.#stdin.on('error', this.#onStreamError);
    this.#stdout.on('error', this.#onStreamError);
  }

  /** The protocol version the handshake settled on, once the server has answered `initialize`. */
  get protocolVersion(): string | undefined {
    return this.#protocolVersion;
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the client is gone'));
    if (this.#protocolVersion === undefined && 'result' in message) this.#noteVersion(message.result);
    return new Promise((resolve) => {
      if (this.#stdout.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.#stdout.once('drain', resolve);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stdin.off('data', this.#onData);
    this.#stdin.off('end', this.#onGone);
    this.#stdin.off('close', this.#onGone);
    this.#stdin.pause();
    this.onclose?.();
  }

  readonly #onData = (chunk: Buffer): void => {
    for (const line of this.#lines.push(chunk)) {
      if (typeof line === 'string') this.#deliver(line);
      else this.#refuse(line);
    }
  };

  readonly #onGone = (): void => {
    void this.close();
  };

  readonly #onStreamError = (error: Error): void => {
    this.onerror?.(error);
    // EPIPE on stdout or a failing stdin: the client is gone either way.
    void this.close();
  };

  #deliver(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.trim() === '') return;
    let message: JSONRPCMessage;
    try {
      message = parseJsonRpcMessage(text);
    } catch (error) {
      this.onerror?.(new Error(`the client sent a message that is not JSON-RPC: ${errorText(error)}`));
      if (error instanceof JsonRpcShapeError && error.requestId !== undefined) {
        this.#answerError(error.requestId, `Invalid request: ${error.message}.`);
      }
      return;
    }
    this.onmessage?.(message);
  }

  /** Answers a message over the cap with an error for its request, when its id can be told. */
  #refuse(line: OversizeLine): void {
    const size = `${(line.bytes / (1024 * 1024)).toFixed(1)} MiB`;
    const limit = `${(MAX_MESSAGE_BYTES / (1024 * 1024)).toFixed(0)} MiB`;
    const id = jsonRpcIdOf(line);
    this.onerror?.(new Error(`the client sent a ${size} message; the limit is ${limit}`));
    if (id === undefined) return;
    this.#answerError(
      id,
      `The request is ${size}; codemode-bridge accepts at most ${limit} per message. ` +
        'Send less code: let the program read its data from a file or a tool instead of inlining it.',
    );
  }

  /** An `initialize` result names the version (over HTTP, clients repeat it in a header; here, nobody does). */
  #noteVersion(result: Record<string, unknown>): void {
    const { protocolVersion, serverInfo } = result;
    if (typeof protocolVersion === 'string' && serverInfo !== undefined)
      this.#protocolVersion = protocolVersion;
  }

  #answerError(id: string | number, message: string): void {
    void this.send({ jsonrpc: '2.0', id, error: { code: INVALID_REQUEST, message } }).catch(() => {});
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}
