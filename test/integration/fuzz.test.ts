/**
 * Fuzzing what a hostile sandbox controls (issue 9): the frame decoder, the frame handling of a
 * running sandbox, and every host operation, each with 10^5 random and mutated inputs from a seeded
 * generator (a failure names its seed and case, so it replays). Nothing may escape but the errors the
 * protocol defines: `ProtocolViolation` from the decoder, `HostCallError` from a host operation.
 */
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachOperations } from '../../src/engine/host-operations/attach.js';
import { discoveryOperations } from '../../src/engine/host-operations/discovery.js';
import { outputOperations } from '../../src/engine/host-operations/outputs.js';
import type { HostOperationSpec } from '../../src/engine/host-operations/registry.js';
import { sessionOperations } from '../../src/engine/host-operations/sessions.js';
import { valueOperations } from '../../src/engine/host-operations/values.js';
import { OutputStore } from '../../src/engine/output-store.js';
import { SessionTable } from '../../src/engine/sessions.js';
import { upstreamPort } from '../../src/engine/upstream-port.js';
import { ValueStore } from '../../src/engine/value-store.js';
import { ProcessSandbox } from '../../src/sandbox/process-sandbox.js';
import { decodeFrame, FrameDecoder, ProtocolViolation } from '../../src/sandbox/protocol.js';
import { HostCallError, type SandboxExit } from '../../src/sandbox/types.js';
import { BridgeError } from '../../src/shared/errors.js';
import { createLogger } from '../../src/shared/logger.js';
import { buildSearchIndex, type SearchIndex, searchTools } from '../../src/upstream/search.js';
import { UpstreamPool } from '../../src/upstream/upstream-pool.js';
import { hostCaller } from '../helpers/host-operations.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { loadReferenceCatalog } from '../helpers/tool-catalog.js';

const CASES = 100_000;
const SEED = 0x5eed;

const VALID_FRAMES = [
  '{"type":"ready"}',
  '{"type":"out","stream":"stdout","data":"hello\\n"}',
  '{"type":"out","stream":"stderr","data":"é€"}',
  '{"type":"rpc","id":1,"server":"everything","tool":"echo","args":{"message":"hi"}}',
  '{"type":"call","id":2,"op":"search_tool_docs","args":{"query":"read a file","limit":3}}',
  '{"type":"call","id":3,"op":"describe_server","args":{"name":"memory"}}',
  '{"type":"done","ok":true}',
  '{"type":"done","ok":false,"error":"ValueError: x","traceback":"tb"}',
];

const SPICE = [
  '',
  '{',
  '}',
  '[',
  ']',
  '"',
  '\\',
  '\n',
  '\u0000',
  '\uffff',
  '\ud800',
  'null',
  'true',
  '-1',
  '1e309',
  '9007199254740993',
  '"__proto__"',
  '"constructor"',
  '{"__proto__":{"x":1}}',
  '[[[[[[[[[[',
  ':',
  ',',
  '"type"',
  '"rpc"',
  '"call"',
  '"done"',
  '"ok"',
  'NaN',
  'Infinity',
  '\r\n',
  ' ',
  '😀',
];

function mutate(next: () => number, text: string): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  let result = text;
  const edits = 1 + Math.floor(next() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(next() * (result.length + 1));
    switch (Math.floor(next() * 5)) {
      case 0: // insert
        result = result.slice(0, at) + pick(SPICE) + result.slice(at);
        break;
      case 1: // delete a run
        result = result.slice(0, at) + result.slice(at + 1 + Math.floor(next() * 8));
        break;
      case 2: // flip one character
        result = result.slice(0, at) + String.fromCharCode(Math.floor(next() * 0x250)) + result.slice(at + 1);
        break;
      case 3: // splice in another frame
        result = result.slice(0, at) + pick(VALID_FRAMES) + result.slice(at);
        break;
      default: // deep nesting
        result = `${'['.repeat(Math.floor(next() * 100))}${result}`;
    }
  }
  return result;
}

function randomValue(next: () => number, depth = 0): unknown {
  switch (Math.floor(next() * (depth > 3 ? 5 : 8))) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return Math.floor((next() - 0.5) * 2 ** (next() * 60));
    case 3:
      return SPICE[Math.floor(next() * SPICE.length)];
    case 4:
      return 'x'.repeat(Math.floor(next() * 40));
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomValue(next, depth + 1));
    default: {
      const value: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--)
        value[String(SPICE[Math.floor(next() * SPICE.length)])] = randomValue(next, depth + 1);
      return value;
    }
  }
}

/** The argument names the host operations take, so random arguments often name a real one. */
const ARGUMENT_NAMES = [
  'name',
  'query',
  'limit',
  'part',
  'parts',
  'size',
  'data',
  'offset',
  'length',
  'handle',
  'mimeType',
  'version',
];

/** A random argument object: keys from the operations' own and from SPICE, values from `randomValue`. */
function randomArguments(next: () => number): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 5); i > 0; i--) {
    const key =
      next() < 0.7
        ? ARGUMENT_NAMES[Math.floor(next() * ARGUMENT_NAMES.length)]
        : SPICE[Math.floor(next() * SPICE.length)];
    args[String(key)] = randomValue(next);
  }
  return args;
}

/** Every host operation that lives in memory (the skill operations write files: their own test fuzzes them). */
function inMemoryOperations(discovery: HostOperationSpec[]): HostOperationSpec[] {
  return [
    ...discovery,
    ...valueOperations(new ValueStore({ maxValueBytes: 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024 })),
    ...outputOperations(new OutputStore({ maxChars: 1000, maxTotalChars: 10_000, ttlMs: 60_000 })),
    ...sessionOperations(
      new SessionTable({ idleMs: 60_000, maxSessions: 2, logger: createLogger('error', () => {}) }),
    ),
    ...attachOperations(),
  ];
}

describe('fuzzing the frame decoder', () => {
  it(`decodes or refuses ${CASES.toLocaleString('en-US')} mutated lines with ProtocolViolation only`, () => {
    const next = seededRandom(SEED);
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const line = mutate(next, VALID_FRAMES[i % VALID_FRAMES.length] as string);
      try {
        decodeFrame(line);
        accepted++;
      } catch (error) {
        if (!(error instanceof ProtocolViolation))
          throw new Error(`case ${i} (seed ${SEED}): ${String(error)}`);
      }
    }
    // Some mutations stay valid frames; most do not. Both paths were taken.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(CASES);
  });

  it('takes random byte chunks, split anywhere, without any other error', () => {
    const next = seededRandom(SEED + 1);
    for (let i = 0; i < CASES / 10; i++) {
      const decoder = new FrameDecoder(4096);
      const bytes = Buffer.from(
        Array.from({ length: 1 + Math.floor(next() * 8) }, () =>
          mutate(next, VALID_FRAMES[Math.floor(next() * 8)] as string),
        ).join('\n'),
      );
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(next() * 64);
        try {
          decoder.push(bytes.subarray(at, at + size));
        } catch (error) {
          if (!(error instanceof ProtocolViolation))
            throw new Error(`case ${i} (seed ${SEED + 1}): ${String(error)}`);
          break;
        }
        at += size;
      }
    }
  });
});

describe('fuzzing the host operations', () => {
  let index: SearchIndex;
  // No servers: every operation stays on the host (a configured one would be spawned per call).
  const pool = new UpstreamPool({
    servers: [],
    clientVersion: '0.0.0',
    idleTimeoutMs: 60_000,
    callTimeoutMs: 1000,
    connectTimeoutMs: 1000,
    logger: createLogger('error', () => {}),
  });
  const specs = inMemoryOperations(discoveryOperations(upstreamPort(pool)));
  const call = hostCaller(specs);

  beforeAll(async () => {
    index = buildSearchIndex(await loadReferenceCatalog());
  });
  afterAll(async () => {
    await pool.close();
  });

  // The operation fuzz below sends 10^5 argument sets through search with no servers; these go through the real
  // catalog's ranking, which costs ~0.15 ms each.
  const RANKED_QUERIES = 20_000;
  it(`ranks ${RANKED_QUERIES.toLocaleString('en-US')} random queries over the real catalog without throwing`, () => {
    const next = seededRandom(SEED + 2);
    for (let i = 0; i < RANKED_QUERIES; i++) {
      const query = mutate(next, ['read a file', 'create entities', 'get-sum', 'echo', ''][i % 5] as string);
      const hits = searchTools(index, query, 1 + Math.floor(next() * 60));
      expect(hits.length).toBeLessThanOrEqual(60);
    }
  });

  it('answers random arguments to every operation with a result or a HostCallError (or a BridgeError)', async () => {
    const next = seededRandom(SEED + 3);
    const names = specs.map((spec) => spec.name);
    for (let i = 0; i < CASES; i++) {
      const op = names[i % names.length] as string;
      const args = next() < 0.5 ? randomArguments(next) : randomValue(next);
      const safeArgs =
        args !== null && typeof args === 'object' && !Array.isArray(args)
          ? (args as Record<string, unknown>)
          : { value: args };
      try {
        await call(op, safeArgs, { runId: `run-${i % 100}`, owner: 'fuzz' });
      } catch (error) {
        // A BridgeError (an unknown server) is what the engine passes on as a HostCallError with its code.
        if (!(error instanceof HostCallError) && !(error instanceof BridgeError))
          throw new Error(`case ${i} (${op}): ${String(error)}`);
      }
    }
  });
});

describe('fuzzing a running sandbox', () => {
  /**
   * A stand-in for the sandbox process: frames reach `ProcessSandbox` through a channel the test
   * writes, and killing it ends it at once. What is under test is the host's frame handling.
   */
  function fakeSandbox(id: string) {
    const child = Object.assign(new EventEmitter(), {
      stdin: null,
      stdout: null,
      stderr: null,
      kill() {
        input.destroy();
        setImmediate(() => child.emit('close', null, 'SIGKILL'));
        return true;
      },
    });
    const input = new PassThrough();
    const output = new PassThrough();
    output.resume(); // replies are read, as a well-behaved runtime would
    // ...and it exits once the host closes the channel, as the runtime does after `done`.
    output.once('finish', () => child.kill());
    const sandbox = new ProcessSandbox({
      kind: 'embedded',
      id,
      child: child as unknown as ChildProcess,
      channel: { input, output },
      terminate: async () => {
        child.kill();
      },
      logger: createLogger('error', () => {}),
    });
    return { sandbox, input };
  }

  it('ends every run with an outcome, whatever the sandbox sends', async () => {
    const next = seededRandom(SEED + 4);
    const call = hostCaller(
      discoveryOperations(
        upstreamPort(
          new UpstreamPool({
            servers: [],
            clientVersion: '0.0.0',
            idleTimeoutMs: 60_000,
            callTimeoutMs: 1000,
            connectTimeoutMs: 1000,
            logger: createLogger('error', () => {}),
          }),
        ),
      ),
    );
    const kinds = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const { sandbox, input } = fakeSandbox(`fuzz-${i}`);
      input.write('{"type":"ready"}\n');
      await sandbox.waitReady();
      const controller = new AbortController();
      const running = sandbox.execute(
        { runId: `run-${i}`, code: '', servers: [], catalog: [] },
        {
          onOutput: () => {},
          callTool: async () => randomValue(next),
          callHost: (op, args, _signal, replies) => call(op, args, { runId: `run-${i}` }, replies),
        },
        controller.signal,
      );
      const lines = Array.from({ length: 1 + Math.floor(next() * 50) }, () =>
        mutate(next, VALID_FRAMES[1 + Math.floor(next() * 7)] as string).replaceAll('\n', ' '),
      );
      input.write(`${lines.join('\n')}\n`);
      // A run whose frames neither finished nor broke it is cancelled, as a client would.
      setImmediate(() => controller.abort());
      const exit: SandboxExit = await running;
      kinds.set(exit.kind, (kinds.get(exit.kind) ?? 0) + 1);
      await sandbox.destroy();
    }
    expect([...kinds.keys()].every((kind) => ['done', 'protocol_error', 'aborted'].includes(kind))).toBe(
      true,
    );
    expect(kinds.get('protocol_error')).toBeGreaterThan(0);
    expect(kinds.get('done')).toBeGreaterThan(0);
  });
});
