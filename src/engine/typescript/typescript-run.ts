/**
 * What a TypeScript run adds to the engine's path (docs/typescript.md): the grant as the sandbox and
 * the checker see it (each tool's signature, each server's declaration, cached per description), and
 * the hold that lets a program run while it is type-checked: its host calls wait for the verdict and
 * its output is held until then, so a program that fails the check is stopped before any tool call
 * and shows nothing it printed.
 */
import { createHash } from 'node:crypto';
import type { OutputStream, SandboxHost, ServerGrant } from '../../sandbox/types.js';
import { HostCallError } from '../../sandbox/types.js';
import { abortable } from '../../shared/abort.js';
import { serverDeclaration, toolSignatures } from './declarations.js';
import { type CheckResult, type DeclarationFile, formatDiagnostics } from './program-checker.js';

/** Checks a program against its grant's declarations (check-service.ts, off the bridge's thread). */
export type ProgramCheck = (
  code: string,
  grant: readonly DeclarationFile[],
  signal: AbortSignal,
) => Promise<CheckResult>;

/** How a run's check ended: pass (with a note when the checker could not answer), or its errors. */
export type Verdict = { ok: true; note?: string } | { ok: false; error: string; traceback: string };

// Keyed by the pool's description of a server, which lives until the server's tools change: a run
// of the same grant rebuilds nothing.
const declarations = new WeakMap<ServerGrant, DeclarationFile>();
const signed = new WeakMap<ServerGrant, ServerGrant>();

/** The declaration of each granted server, keyed by a digest of its text (the checker keeps 64). */
export function grantDeclarations(servers: readonly ServerGrant[]): DeclarationFile[] {
  return servers.map((server) => {
    let file = declarations.get(server);
    if (!file) {
      const { text } = serverDeclaration(server);
      file = { key: createHash('sha256').update(text).digest('base64url'), text };
      declarations.set(server, file);
    }
    return file;
  });
}

/** The server with each tool's TypeScript signature, which `mcp.runtime.docs` shows. */
export function withSignatures(server: ServerGrant): ServerGrant {
  let typed = signed.get(server);
  if (!typed) {
    const signatures = toolSignatures(server);
    typed = {
      ...server,
      tools: server.tools.map((tool) => {
        const signature = signatures.get(tool.name);
        return signature === undefined ? tool : { ...tool, signature };
      }),
    };
    signed.set(server, typed);
  }
  return typed;
}

/** The verdict of a check: its errors as the run's error (the first) and traceback (all of them). */
export function verdictOf(result: CheckResult): Verdict {
  const [first] = result.diagnostics;
  if (!first) return { ok: true };
  const count = result.diagnostics.length + result.omitted;
  const more = count > 1 ? ` (and ${count - 1} more)` : '';
  return {
    ok: false,
    error:
      `Type error at program.ts:${first.line}:${first.column}: TS${first.code}: ${first.message.split('\n')[0]}${more}. ` +
      'The program was stopped before any tool call; fix the types (or narrow an `unknown` result) and run it again.',
    traceback: formatDiagnostics(result),
  };
}

/** Output a program may write before its verdict, per run; past it the rest is counted, not kept. */
const MAX_HELD_CHARS = 4 * 1024 * 1024;

/**
 * A `SandboxHost` that holds a program's host calls and output until `open` (the check passed) or
 * `refuse` (it failed: the calls fail, the output is dropped; the engine kills the sandbox).
 */
export class HeldHost {
  readonly host: SandboxHost;
  readonly #inner: SandboxHost;
  #open = false;
  #held: Array<[OutputStream, string]> = [];
  #heldChars = 0;
  #dropped = 0;
  readonly #gate: Promise<void>;
  #release: () => void = () => {};
  #refuse: (error: Error) => void = () => {};

  constructor(inner: SandboxHost) {
    this.#inner = inner;
    this.#gate = new Promise<void>((resolve, reject) => {
      this.#release = resolve;
      this.#refuse = reject;
    });
    // A refused gate rejects whoever waits; nobody waiting is no unhandled rejection.
    this.#gate.catch(() => {});
    const wait = (signal: AbortSignal) => abortable(this.#gate, signal);
    this.host = {
      onOutput: (stream, data) => {
        if (this.#open) return inner.onOutput(stream, data);
        if (this.#heldChars + data.length > MAX_HELD_CHARS) {
          this.#dropped += data.length;
          return;
        }
        this.#heldChars += data.length;
        this.#held.push([stream, data]);
      },
      callTool: async (request, signal) => {
        if (!this.#open) await wait(signal);
        return inner.callTool(request, signal);
      },
      callHost: async (op, args, signal, replies) => {
        if (!this.#open) await wait(signal);
        return inner.callHost(op, args, signal, replies);
      },
    };
  }

  /** The check passed: the held output goes out in order, then the calls waiting start. */
  open(note?: string): void {
    if (this.#open) return;
    for (const [stream, data] of this.#held) this.#inner.onOutput(stream, data);
    this.#held = [];
    if (this.#dropped > 0) {
      this.#inner.onOutput(
        'stderr',
        `[${this.#dropped} characters of output written before the type check ended were dropped]\n`,
      );
    }
    if (note) this.#inner.onOutput('stderr', `${note}\n`);
    this.#open = true;
    this.#release();
  }

  /** The check failed: calls waiting fail, and nothing the program wrote is kept. */
  refuse(): void {
    this.#held = [];
    this.#refuse(new HostCallError('the program failed its type check', 'HOST_ERROR'));
  }
}
