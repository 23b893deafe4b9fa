/**
 * Programs the tier runs on itself once its workers are up, so that the first runs a client sends
 * meet compiled code. V8 compiles the bridge's side of a run (the subset check, framing, the
 * conversation with the worker, decoding its events) lazily and optimizes it only once it is hot: a
 * fresh bridge spent 1.5–2 ms of its main thread on each of its first 30 `print(1)` runs and 0.6 ms
 * once past a thousand (measured), which is the pace an agent's first runs go at.
 *
 * The warm-up runs on its own worker, with a host of its own that answers its one tool at once: it
 * reaches no upstream, no audit log, no run history and no client. It gives way to real runs: it
 * pauses while any run holds a worker, and stops when the tier closes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SandboxHost, SandboxProgram, ServerGrant } from '../types.js';
import { MontySandbox } from './monty-sandbox.js';
import type { MontyWorkerPool } from './worker-pool.js';

/** Runs of the warm-up, over the programs below in turn. */
const WARM_UP_RUNS = 300;
/** How long the warm-up waits for a real run to finish before trying again, ms. */
const YIELD_MS = 20;
/** The longest the warm-up waits for the pool's ready workers before it starts anyway, ms. */
const START_WAIT_MS = 2000;
const OWNER = 'codemode-bridge warm-up';

const SERVER: ServerGrant = {
  name: 'warm-up',
  alias: 'warm_up',
  tools: [
    {
      name: 'echo',
      alias: 'echo',
      description: 'Returns its message.',
      inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
    },
  ],
};

/** What a run does most: print, compute, call a tool, gather calls, fail with a traceback. */
const PROGRAMS = [
  'print(1)',
  'x = 1 + 2\nprint(x * 2)',
  'rows = [{"n": i, "sq": i * i} for i in range(20)]\nprint(sum(r["sq"] for r in rows))\nrows[-1]',
  'reply = await mcp_warm_up.echo(message="hi")\nprint(reply)',
  'import asyncio\nreplies = await asyncio.gather(*[mcp_warm_up.echo(message=str(i)) for i in range(4)])\nprint(len(replies))',
  'def f(d):\n    return d["missing"]\nf({})',
];

const host: SandboxHost = {
  onOutput() {},
  async callTool(request) {
    return request.args.message ?? null;
  },
  async callHost(op) {
    throw new Error(`the warm-up makes no host calls (${op})`);
  },
};

/**
 * Runs the warm-up programs on `pool`, one at a time, while `active` says the tier is open. Never
 * throws: a warm-up that fails is only a slower first run.
 */
export async function warmUp(pool: MontyWorkerPool, active: () => boolean): Promise<void> {
  const signal = new AbortController().signal;
  try {
    // The ready workers first: the client's first run must not wait behind the warm-up's.
    for (let waited = 0; pool.stats.fresh < pool.minIdle && waited < START_WAIT_MS; waited += YIELD_MS) {
      await sleep(YIELD_MS);
    }
    for (let run = 0; run < WARM_UP_RUNS && active(); run++) {
      while (pool.stats.busy > 0 && active()) await sleep(YIELD_MS);
      if (!active()) break;
      const program: SandboxProgram = {
        runId: `warm-up-${run}`,
        code: PROGRAMS[run % PROGRAMS.length] as string,
        servers: [SERVER],
        catalog: [{ name: SERVER.name, alias: SERVER.alias }],
      };
      await new MontySandbox(pool).run(program, host, signal, { fallback: false, owner: OWNER });
    }
  } catch {
    // The tier closed under the warm-up, or a worker could not start: real runs will say why.
  } finally {
    pool.closeOwner(OWNER);
  }
}
