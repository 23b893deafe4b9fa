/**
 * Sandboxes for TypeScript programs (docs/typescript.md): one permissionless Deno process per run
 * running runtime/typescript/sandbox.js, speaking the frames (docs/architecture.md, "The frame
 * protocol") on its stdin/stdout; frame handling, bounds and host calls are `ProcessSandbox`'s.
 * Deno's permissions are the boundary (the program shares its isolate with the runtime); the process
 * is the unit of failure, so one program's crash or memory exhaustion ends that run only. Each
 * sandbox leads its own process group and is killed by it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BridgeError, shuttingDownError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { startGroupSandbox } from '../process/group-sandbox.js';
import { reapOrphans } from '../process/reap-orphans.js';
import type { ProcessSandbox } from '../process-sandbox.js';
import type { SandboxBackend, SandboxStartOptions } from '../types.js';
import { resolveTypeScriptPaths, type TypeScriptPaths } from './paths.js';
import {
  buildSandboxCommand,
  type TypeScriptMemoryLimits,
  typescriptMemoryLimits,
} from './sandbox-command.js';

export interface TypeScriptBackendOptions {
  /** `MCP_BRIDGE_STATE_DIR`: Deno's cache lives under `<stateDir>/typescript/deno`. */
  stateDir: string;
  /** `MCP_BRIDGE_MEMORY`, e.g. `512m`: each sandbox's JS heap, with an RLIMIT_DATA backstop. */
  memory: string;
  logger: Logger;
  /** Where Deno and the runtime are. Default: resolved from this package. */
  paths?: TypeScriptPaths;
  /** Owner pid written on each sandbox's command line, for reaping. Default: this process's pid. */
  ownerPid?: number;
}

export class TypeScriptBackend implements SandboxBackend {
  // The same isolation as Pyodide's worker: a permissionless Deno process on this machine.
  readonly kind = 'embedded' as const;
  readonly description: string;
  readonly paths: TypeScriptPaths;
  readonly #options: TypeScriptBackendOptions;
  readonly #limits: TypeScriptMemoryLimits;
  readonly #denoDir: string;
  readonly #ownerPid: number;
  readonly #live = new Set<ProcessSandbox>();
  #counter = 0;
  #closing: Promise<void> | undefined;

  constructor(options: TypeScriptBackendOptions) {
    this.#options = options;
    this.paths = options.paths ?? resolveTypeScriptPaths();
    this.#limits = typescriptMemoryLimits(options.memory);
    this.#denoDir = join(options.stateDir, 'typescript', 'deno');
    this.#ownerPid = options.ownerPid ?? process.pid;
    this.description = `typescript (deno ${this.paths.denoVersion})`;
  }

  async start(signal?: AbortSignal, options: SandboxStartOptions = {}): Promise<ProcessSandbox> {
    if (this.#closing) throw shuttingDownError();
    const { logger } = this.#options;
    const limits = options.memory ? typescriptMemoryLimits(options.memory) : this.#limits;
    const command = buildSandboxCommand({
      deno: this.paths.deno,
      script: this.paths.script,
      limits,
      denoDir: this.#denoDir,
      ownerPid: this.#ownerPid,
    });
    const id = `typescript-${this.#ownerPid}-${++this.#counter}`;
    const startedAt = performance.now();
    // cwd '/': Deno.cwd() needs no permission and would otherwise reveal the bridge's directory.
    const child = spawn(command.file, command.args, {
      cwd: '/',
      env: command.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const sandbox = startGroupSandbox({
      id,
      // The backend's own kind (a Deno process, as the embedded sandbox is).
      kind: this.kind,
      child,
      logger,
      live: this.#live,
      what: 'the TypeScript sandbox',
    });
    try {
      await sandbox.waitReady(signal);
    } catch (error) {
      if (signal?.aborted || (error instanceof Error && error.name === 'AbortError')) throw error;
      if (this.#closing) throw shuttingDownError(error);
      throw new BridgeError(
        'SANDBOX_START_FAILED',
        `Could not start a TypeScript (Deno) sandbox: ${sandbox.diagnostics || (error instanceof Error ? error.message : String(error))}. ` +
          'Run `codemode-bridge doctor`.',
        { cause: error, details: { deno: this.paths.deno } },
      );
    }
    logger.debug('sandbox ready', { sandbox: id, ms: Math.round(performance.now() - startedAt) });
    return sandbox;
  }

  /** Kills sandboxes a bridge that is gone left running (one stuck in a loop never reads its channel). */
  async reapStale(): Promise<number> {
    const reaped = await reapOrphans(this.paths.script);
    if (reaped > 0)
      this.#options.logger.info('killed TypeScript sandboxes left by a bridge that is gone', { reaped });
    return reaped;
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all([...this.#live].map((sandbox) => sandbox.destroy())).then(() => undefined);
    return this.#closing;
  }
}
