/**
 * Fuzzing the Monty tier's boundary (issue 28) on real, confined worker processes: generated programs
 * (mutations of the differential corpus and of its lines), values from the host (random JSON, huge and
 * deep) that a program receives and sends back, and values from the program (generated Python
 * literals) that reach the host as tool arguments. Every case must end as an outcome of its own run —
 * ok, a Python error, a refusal — and a worker that crashes (none has, so far) may fail only its run:
 * the next case is served. MONTY_FUZZ_CASES sets how many cases (default 1,500; the 10^5 run
 * is `MONTY_FUZZ_CASES=100000 npx vitest run test/integration/monty-fuzz.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { probeMontyBinary } from '../../src/sandbox/monty/monty-binary.js';
import { MontyTier } from '../../src/sandbox/monty/monty-tier.js';
import { HostCallError, type SandboxHost } from '../../src/sandbox/types.js';
import type { Logger } from '../../src/shared/logger.js';
import { corpus } from '../fixtures/monty-corpus.js';
import { seededRandom } from '../helpers/seeded-random.js';

const CASES = Number(process.env.MONTY_FUZZ_CASES ?? 1500);
const PARALLEL = 4;
const quiet: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  addSink: () => () => {},
} as unknown as Logger;

const STRINGS = [
  '',
  'a',
  'é',
  '😀',
  '\u0000',
  '\ud800',
  '"\'\\',
  '\n\r\t',
  'x'.repeat(1000),
  '{"a": [1]}',
  '%s%d',
];

function jsonValue(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 0 ? 10 : 6));
  switch (pick) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return [0, -1, 2 ** 53, -(2 ** 53), 1e21, 1.5, -0, 1e-300, 2 ** 31][Math.floor(next() * 9)];
    case 3:
      return Math.floor(next() * 1e9) - 5e8;
    case 4:
      return STRINGS[Math.floor(next() * STRINGS.length)];
    case 5:
      return next() * 1e6;
    case 6:
    case 7:
      return Array.from({ length: Math.floor(next() * 5) }, () => jsonValue(next, depth - 1));
    default:
      return Object.fromEntries(
        Array.from({ length: Math.floor(next() * 5) }, (_, i) => [
          STRINGS[Math.floor(next() * STRINGS.length)] + String(i),
          jsonValue(next, depth - 1),
        ]),
      );
  }
}

function pythonLiteral(next: () => number, depth: number): string {
  const pick = Math.floor(next() * (depth > 0 ? 12 : 7));
  switch (pick) {
    case 0:
      return 'None';
    case 1:
      return next() < 0.5 ? 'True' : 'False';
    case 2:
      return String(Math.floor(next() * 1e6) - 5e5);
    case 3:
      return ['2 ** 200', '-(10 ** 40)', '1.5e308 * 10', 'float("nan")', '0.1'][
        Math.floor(next() * 5)
      ] as string;
    case 4:
      return JSON.stringify(STRINGS[Math.floor(next() * STRINGS.length)]).replaceAll('\\ud800', '\\u00e9');
    case 5:
      return 'b"\\x00\\xff"';
    case 6:
      return '"x" * 100000';
    case 7:
      return `[${Array.from({ length: Math.floor(next() * 4) }, () => pythonLiteral(next, depth - 1)).join(', ')}]`;
    case 8:
      return `(${Array.from({ length: Math.floor(next() * 3) }, () => pythonLiteral(next, depth - 1)).join(', ')},)`;
    case 9:
      return `{${Array.from({ length: Math.floor(next() * 3) }, (_, i) => `${i}: ${pythonLiteral(next, depth - 1)}`).join(', ')}}`;
    case 10:
      return `{"k${Math.floor(next() * 9)}": ${pythonLiteral(next, depth - 1)}}`;
    default:
      return `{${pythonLiteral(next, 0)}}`;
  }
}

/** A program of the corpus with characters cut, doubled or swapped, or its lines shuffled. */
function mutatedProgram(next: () => number): string {
  const base = (corpus[Math.floor(next() * corpus.length)] as (typeof corpus)[number]).code.replaceAll(
    'ROOT',
    '"/"',
  );
  const chars = [...base];
  const edits = 1 + Math.floor(next() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(next() * chars.length);
    const kind = Math.floor(next() * 4);
    if (kind === 0) chars.splice(at, 1);
    else if (kind === 1) chars.splice(at, 0, chars[at] ?? ' ');
    else if (kind === 2) chars.splice(at, 0, '()[]{}:,."\'\\\n#*@=+-%'[Math.floor(next() * 21)] as string);
    else {
      const lines = chars.join('').split('\n');
      lines.sort(() => next() - 0.5);
      return lines.join('\n');
    }
  }
  return chars.join('');
}

const servers = [
  {
    name: 'fuzz',
    alias: 'fuzz',
    tools: [
      {
        name: 'give',
        alias: 'give',
        inputSchema: { type: 'object', properties: { seed: { type: 'integer' } }, required: ['seed'] },
      },
      { name: 'take', alias: 'take', inputSchema: { type: 'object', properties: { value: {} } } },
    ],
  },
];
const catalog = [{ name: 'fuzz', alias: 'fuzz' }];

// The pinned worker binary exists for Linux x64 only.
describe.skipIf(process.platform !== 'linux' || process.arch !== 'x64')(
  'the Monty boundary under fuzzing',
  () => {
    it(`ends each of ${CASES} generated cases inside its own run`, async () => {
      const binary = await probeMontyBinary();
      if ('problem' in binary) throw new Error(binary.problem);
      const tier = new MontyTier({
        memoryBytes: 128 * 1024 * 1024,
        maxTimeoutMs: 5000,
        minIdle: PARALLEL,
        logger: quiet,
      });
      const exits = new Map<string, number>();

      let mismatched = 0;
      const host: SandboxHost = {
        onOutput: () => {},
        callTool: async (request) => {
          if (request.tool === 'give') {
            const seed = Number(request.args.seed);
            // Every seventh a 9 MB string; the rest random JSON up to 40 levels deep.
            return seed % 7 === 0 ? 'big'.repeat(3_000_000) : jsonValue(seededRandom(seed), 1 + (seed % 40));
          }
          if (Math.random() < 0.05) throw new HostCallError('refused at random', 'TOOL_ERROR');
          return request.args.value ?? null;
        },
        callHost: async () => ({ hits: [], unavailable: [] }),
      };
      const caseProgram = (index: number): string => {
        const next = seededRandom(index * 7919 + 1);
        switch (index % 4) {
          case 0:
            return mutatedProgram(next);
          case 1:
            return `v = await mcp_fuzz.give(seed=${index})\nback = await mcp_fuzz.take(value=v)\nprint(back == v, type(v).__name__)`;
          case 2:
            return `await mcp_fuzz.take(value=${pythonLiteral(next, 6)})`;
          default: {
            const depth = 20 + Math.floor(next() * 80);
            return `v = 1\nfor _ in range(${depth}):\n    v = ${next() < 0.5 ? '[v]' : '{"k": v}'}\nprint(len(str(await mcp_fuzz.take(value=v))))`;
          }
        }
      };
      const runOne = async (index: number) => {
        const code = caseProgram(index);
        const signal = AbortSignal.timeout(10_000);
        const { exit } = await tier.run({ runId: `fuzz-${index}`, code, servers, catalog }, host, signal, {
          fallback: false,
          owner: 'fuzz',
        });
        const key = exit.kind === 'done' ? (exit.ok ? 'ok' : 'error') : exit.kind;
        exits.set(key, (exits.get(key) ?? 0) + 1);
        return { index, code, exit };
      };
      try {
        for (let start = 0; start < CASES; start += PARALLEL) {
          const batch = Array.from({ length: Math.min(PARALLEL, CASES - start) }, (_, i) =>
            runOne(start + i),
          );
          for (const { exit, code, index } of await Promise.all(batch)) {
            // A crash of the interpreter (exited) is contained to its run; anything else escaping would throw above.
            expect(['done', 'exited', 'aborted', 'protocol_error'], `case ${index}: ${code}`).toContain(
              exit.kind,
            );
            if (exit.kind !== 'done') mismatched++;
          }
        }
        const after = await tier.run(
          { runId: 'after', code: 'print(1)', servers: [], catalog: [] },
          host,
          AbortSignal.timeout(10_000),
          {
            fallback: false,
            owner: 'fuzz',
          },
        );
        expect(after.exit).toEqual({ kind: 'done', ok: true });
        console.log(
          `monty fuzz: ${CASES} cases, outcomes ${JSON.stringify(Object.fromEntries(exits))}, ` +
            `workers started ${(await tier.stats()).started}, runs that did not end with done: ${mismatched}`,
        );
      } finally {
        await tier.close();
      }
    }, 3_600_000);
  },
);
