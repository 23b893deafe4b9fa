/**
 * Hostile cases (issue 27): what one run can make the bridge hold. Each drives its run while sampling
 * the bridge's RSS, and asserts the peak stayed within a bound of where it started (the harness then
 * checks it settles back to the baseline, as after every case). Before the bounds, these runs grew
 * the bridge by 450–700 MB each.
 */
import { expect } from 'vitest';
import { rssBytes } from '../../helpers/sandbox-watch.js';
import { type CaseContext, type CaseRun, GRAB_CHANNEL, type HostileCase, python, report } from './kit.js';

/**
 * How far the bridge's RSS may rise during one of these runs. What the bounds let a run hold is far
 * less (16 MiB of saved values here, 16 MiB of requests in flight and 16 MiB waiting, 64 MiB of
 * unread replies), but these runs also push hundreds of MB of frames through the bridge, and V8
 * collects that garbage when it chooses: on a loaded two-core machine peaks of +55–120 MB were seen.
 */
const PEAK_GROWTH_BYTES = 192 * 1024 * 1024;
const SAMPLE_MS = 20;

/** Runs `args` while sampling the bridge's RSS; the run, and how far RSS rose above where it started. */
async function runSampled(
  context: CaseContext,
  args: Parameters<CaseContext['run']>[0],
): Promise<CaseRun & { growth: number }> {
  const before = rssBytes(context.bridgePid);
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(context.bridgePid) || 0);
  }, SAMPLE_MS);
  try {
    const run = await context.run(args);
    return { ...run, growth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

function expectFlat(run: CaseRun): void {
  const growth = (run as CaseRun & { growth?: number }).growth ?? Number.NaN;
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
  expect(growth, `the bridge's RSS rose ${mb(growth)} during the run`).toBeLessThan(PEAK_GROWTH_BYTES);
}

/** `call(op, args)` as a raw `call` frame: the sandbox-side checks of `mcp.runtime` do not apply. */
const RAW_CALL = python`
${GRAB_CHANNEL}
import base64, json
async def call(op, args):
    try:
        return await channel.request({"type": "call", "op": op, "args": args})
    except Exception as error:
        return "%s: %s" % (getattr(error, "code", type(error).__name__), error)
`;

/** Starts 100 saves of 6 MiB under different names, sends each one 3 MiB slice, and never finishes. */
const PARTIAL_UPLOADS = python`
${RAW_CALL}
piece = base64.b64encode(b"x" * (3 * 1024 * 1024)).decode()
answers = [await call("save_value", {"name": "partial-%d" % i, "part": 0, "parts": 2, "size": 6 * 1024 * 1024, "data": piece}) for i in range(100)]
refusals = [answer for answer in answers if isinstance(answer, str)]
`;

export const TRUST_BRIDGE: HostileCase[] = [
  {
    name: 'starts 100 saves and never finishes them: refused at MCP_BRIDGE_SAVE_TOTAL_SIZE, RSS flat',
    category: 'resources',
    timeout: 120,
    drive: (context) =>
      runSampled(context, {
        code: `${PARTIAL_UPLOADS}\nprint(json.dumps({"accepted": len(answers) - len(refusals), "refusal": refusals[-1] if refusals else None}))`,
        timeout: 120,
      }),
    expect: {
      status: 'ok',
      check: (run) => {
        // 16 MiB hold two 6 MiB values (each reserved whole by its first slice), not a third.
        expect(report(run)).toEqual({
          accepted: 2,
          refusal: expect.stringMatching(
            /^VALUE_TOO_LARGE: save\("partial-99"\): saved values, with those being saved now, would take more than 16\.0 MiB together \(MCP_BRIDGE_SAVE_TOTAL_SIZE\)/,
          ),
        });
        expectFlat(run);
      },
    },
  },
  {
    name: 'times out holding partial saves: their room is free for the next run',
    category: 'resources',
    drive: async (context) => {
      const holding = await context.run({
        code: `${PARTIAL_UPLOADS}\nimport asyncio\nawait asyncio.sleep(60)`,
        timeout: 10,
      });
      const next = await context.run({
        code: python`
import mcp.runtime as rt
print((await rt.save("after-partial", b"y" * (12 * 1024 * 1024)))["bytes"] > 12 * 1024 * 1024)
print(await rt.delete_saved("after-partial"))
`,
      });
      return { ...next, sandboxes: [...holding.sandboxes, ...next.sandboxes], others: [holding] };
    },
    expect: {
      status: 'ok',
      stdout: 'True\nTrue\n',
      check: (run) => {
        expect(run.others?.[0]?.outcome?.status).toBe('timeout');
      },
    },
  },
  {
    name: 'loads a 12 MiB saved value 32 times at once, bypassing the runtime: RSS flat',
    category: 'resources',
    timeout: 60,
    drive: async (context) => {
      const run = await runSampled(context, {
        code: python`
${RAW_CALL}
import asyncio, mcp.runtime as rt
await rt.save("loaded-at-once", b"z" * (12 * 1024 * 1024))
async def page_size():
    # Each page dropped on arrival: the sandbox holds one, as the host does.
    return len(base64.b64decode((await call("load_value", {"name": "loaded-at-once", "offset": 0}))["data"]))
sizes = await asyncio.gather(*[page_size() for _ in range(32)])
print(json.dumps({"pages": len(sizes), "bytes": sizes[0] if len(set(sizes)) == 1 else sorted(set(sizes))}))
`,
        timeout: 60,
      });
      // Whatever became of the run, the value goes (the other cases count on an empty store).
      const cleanup = await context.run({
        code: 'import mcp.runtime as rt\nprint(await rt.delete_saved("loaded-at-once"))',
      });
      expect(cleanup.outcome?.stdout).toBe('True\n');
      return { ...run, sandboxes: [...run.sandboxes, ...cleanup.sandboxes] };
    },
    expect: {
      // The host makes each page once the program has read the ones before: however slowly it reads
      // (gVisor's stdio relay is slow), it gets them all, one at a time.
      status: 'ok',
      check: (run) => {
        expect(report(run)).toEqual({ pages: 32, bytes: 4 * 1024 * 1024 });
        expectFlat(run);
      },
    },
  },
  {
    name: 'sends 32 calls with 7 MB of arguments at once to a tool that never answers: RSS flat',
    category: 'resources',
    servers: ['hanging'],
    drive: (context) =>
      runSampled(context, {
        servers: ['hanging'],
        code: python`
${GRAB_CHANNEL}
import asyncio
padding = "p" * (7 * 1024 * 1024)
async def one():
    try:
        await channel.request({"type": "rpc", "server": "hanging", "tool": "hang", "args": {"padding": padding}})
    except Exception as error:
        return type(error).__name__
# One call per step of the loop: the calls of one step leave in one write, and 32 of these in one
# write (224 MB) would end the sandbox at its memory limit before the host saw any.
calls = []
for _ in range(32):
    calls.append(asyncio.ensure_future(one()))
    await asyncio.sleep(0.02)
print(await asyncio.gather(*calls))
`,
        timeout: 8,
      }),
    expect: {
      // Two calls of 7 MB are in flight at a time (16 MiB), each failing at the call timeout (5 s).
      status: 'timeout',
      check: (run) => expectFlat(run),
    },
  },
];
