/**
 * A real `Engine` over scripted sandboxes: each sandbox plays a program (output, tool calls, host
 * operations, an end) through the same `SandboxHost` a real one uses, and the upstream port answers
 * from one in-memory server, `everything` with its tool `echo`. The engine and MCP-surface unit
 * tests use it to cover grants, caps, deadlines, cancellation and outcomes in milliseconds.
 */
import { Engine, type EngineOptions } from '../../src/engine/engine.js';
import type { UpstreamPort } from '../../src/engine/types.js';
import type {
  Sandbox,
  SandboxExit,
  SandboxHost,
  SandboxProgram,
  ServerGrant,
} from '../../src/sandbox/types.js';
import { unknownServerError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';

export type Script = (
  host: SandboxHost,
  program: SandboxProgram,
  signal: AbortSignal,
) => Promise<SandboxExit>;

export class ScriptedSandbox implements Sandbox {
  readonly kind = 'podman' as const;
  readonly id = 'scripted';
  alive = true;
  destroyed = false;
  program: SandboxProgram | undefined;
  constructor(readonly script: Script) {}
  execute(program: SandboxProgram, host: SandboxHost, signal: AbortSignal): Promise<SandboxExit> {
    this.program = program;
    return this.script(host, program, signal);
  }
  async destroy(): Promise<void> {
    this.alive = false;
    this.destroyed = true;
  }
}

export const EVERYTHING: ServerGrant = {
  name: 'everything',
  alias: 'everything',
  tools: [{ name: 'echo', alias: 'echo', inputSchema: { type: 'object' } }],
};

/** The port onto `everything`; each tool call is recorded in `calls` as `server.tool`. */
export function scriptedUpstreams(calls: string[] = []): UpstreamPort {
  const known = ['everything'];
  return {
    catalog: () => known.map((name) => ({ name, alias: name })),
    async describe(names) {
      const unknown = names.filter((name) => !known.includes(name));
      if (unknown.length > 0) throw unknownServerError(unknown, known);
      return [EVERYTHING];
    },
    async callTool(request) {
      calls.push(`${request.server}.${request.tool}`);
      return { echoed: request.args };
    },
    async search() {
      return { hits: [], described: [EVERYTHING], unavailable: [] };
    },
    runEnded() {},
  };
}

/** Resolves when `signal` aborts: how a scripted program "runs until killed". */
export const untilAborted = (signal: AbortSignal) =>
  new Promise<SandboxExit>((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'aborted' })));

/** An engine whose every sandbox plays `script`: 5 s default timeout, 10 s at most, 1,000-character caps. */
export function scriptedEngine(script: Script, options: Partial<EngineOptions> = {}) {
  const sandboxes: ScriptedSandbox[] = [];
  let released = 0;
  const instance = new Engine({
    sandboxes: {
      acquire: async () => {
        const sandbox = new ScriptedSandbox(script);
        sandboxes.push(sandbox);
        return sandbox;
      },
      released: () => {
        released++;
      },
    },
    upstreams: scriptedUpstreams(),
    defaultTimeoutMs: 5000,
    maxTimeoutMs: 10_000,
    maxOutputChars: 1000,
    memoryLimit: '512m',
    logger: createLogger('error', () => {}),
    ...options,
  });
  return { engine: instance, sandboxes, released: () => released };
}
