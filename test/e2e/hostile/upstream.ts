/** Hostile cases: Upstream servers that misbehave, and programs that abuse them. */
import { expect } from 'vitest';
import type { HostileCase } from './kit.js';

export const UPSTREAM: HostileCase[] = [
  {
    name: 'a hanging tool fails at MCP_BRIDGE_CALL_TIMEOUT, and the program carries on',
    category: 'upstream',
    servers: ['hanging'],
    code: 'import mcp\ntry:\n    await mcp_hanging.hang()\nexcept mcp.ToolError as error:\n    print(error.code, "|", error)\nprint(await mcp_hanging.ok())',
    expect: {
      status: 'ok',
      stdout: "UPSTREAM_TIMEOUT | MCP server 'hanging' did not answer hang within 5 s\nfine\n",
    },
  },
  {
    name: 'a hanging tool the program does not guard ends it with the ToolError',
    category: 'upstream',
    servers: ['hanging'],
    code: 'await mcp_hanging.hang()',
    expect: { status: 'error', error: /ToolError: MCP server 'hanging' did not answer hang within 5 s/ },
  },
  {
    name: '40 calls to a hanging tool at once (beyond 32 in flight) until the run times out',
    category: 'upstream',
    servers: ['hanging'],
    timeout: 3,
    code: 'import asyncio\nawait asyncio.gather(*[mcp_hanging.hang() for _ in range(40)], return_exceptions=True)\nwhile True:\n    await asyncio.sleep(1)',
    expect: { status: 'timeout' },
  },
  {
    name: 'an upstream that crashes mid-call fails that call; the next call reconnects',
    category: 'upstream',
    servers: ['soak'],
    code: 'import mcp\nbefore = await mcp_soak.pid()\ntry:\n    await mcp_soak.crash()\nexcept mcp.ToolError as error:\n    print(error.code)\nafter = await mcp_soak.pid()\nprint(before != after)',
    expect: { status: 'ok', stdout: 'UPSTREAM_UNAVAILABLE\nTrue\n' },
  },
  {
    name: 'an upstream that spills its secret in errors and crashes: the program never sees it',
    category: 'upstream',
    servers: ['leaky'],
    code: 'import mcp\nfor tool in ("token_error", "token_throw", "crash"):\n    try:\n        await mcp_servers["leaky"][tool]()\n    except mcp.ToolError as error:\n        print(tool, error.code, "|", error)',
    expect: {
      status: 'ok',
      check: (run) => {
        const stdout = run.outcome?.stdout ?? '';
        expect(stdout).toMatch(/^token_error TOOL_ERROR \| bad token \[redacted\] \(rejected\)$/m);
        expect(stdout).toMatch(/^token_throw TOOL_ERROR \| .*cannot authenticate with \[redacted\]$/m);
        expect(stdout).toMatch(/^crash UPSTREAM_UNAVAILABLE \| .*token=\[redacted\]/m);
      },
    },
  },
  {
    name: 'a result nested 1,000 levels deep fails that call; 100 levels pass',
    category: 'upstream',
    servers: ['shapes'],
    code: 'import mcp\ntry:\n    await mcp_shapes.nested(depth=1000)\nexcept mcp.ToolError as error:\n    print("refused:", error)\nvalue = await mcp_shapes.nested(depth=100)\ndepth = 0\nwhile isinstance(value, list):\n    value, depth = value[0], depth + 1\nprint(depth)',
    expect: {
      status: 'ok',
      stdout: /^refused: the result is nested deeper than 256 levels; ask the tool for less.*\n100\n$/,
    },
  },
  {
    name: 'a result over the size cap (40 MB) fails that call only',
    category: 'upstream',
    servers: ['big'],
    timeout: 60,
    code: 'import mcp\ntry:\n    await mcp_big.big()\nexcept mcp.ToolError as error:\n    print(error.code, "|", error)\nprint(await mcp_big.pid() > 0)',
    expect: {
      status: 'ok',
      stdout:
        /^TOOL_ERROR \| big\.big failed: its result was \d+ bytes, over the bridge's limit of 33554432 bytes for one upstream message\. .*\nTrue\n$/,
    },
  },
  {
    name: 'an 8 MB result under the cap arrives whole',
    category: 'upstream',
    servers: ['shapes'],
    timeout: 60,
    code: 'print(len(await mcp_shapes.blob(megabytes=8)))',
    expect: { status: 'ok', stdout: `${8 * 1024 * 1024}\n` },
  },
  {
    name: 'a server whose tools/list fails: the run is refused with the reason',
    category: 'upstream',
    servers: ['failing'],
    code: 'print("not reached")',
    expect: { status: 'refused', error: /failing.*tool catalogue is on fire/s },
  },
  {
    name: 'a server that cannot start: the run is refused without the secret in its command line',
    category: 'upstream',
    servers: ['ghost'],
    code: 'print("not reached")',
    expect: { status: 'refused', error: /Could not connect to MCP server 'ghost' .*\[redacted\]/ },
  },
  {
    name: 'a server that writes garbage to stdout between its messages still answers',
    category: 'upstream',
    servers: ['noisy'],
    // A text that is JSON comes back parsed: "7" as 7.
    code: 'for i in range(20):\n    assert await mcp_noisy.echo(text="t%d" % i) == "t%d" % i\nprint("answered")',
    expect: { status: 'ok', stdout: 'answered\n' },
  },
  {
    name: 'a server that floods stderr with 20 MB',
    category: 'upstream',
    servers: ['noisy'],
    timeout: 60,
    code: 'print(await mcp_noisy.stderr_flood(megabytes=20))',
    expect: { status: 'ok', stdout: 'wrote 20480 lines\n' },
  },
  {
    name: 'a server that sends 5,000 notifications during a call',
    category: 'upstream',
    servers: ['noisy'],
    timeout: 60,
    code: 'print(await mcp_noisy.notify_flood(count=5000))',
    expect: { status: 'ok', stdout: 'sent 5000\n' },
  },
  {
    name: 'a server that sends the bridge a request it never offered (sampling) gets an error back',
    category: 'upstream',
    servers: ['noisy'],
    code: 'answer = await mcp_noisy.ask_client()\nprint(sorted(answer), answer["error"]["code"])',
    expect: { status: 'ok', stdout: "['error', 'id', 'jsonrpc'] -32601\n" },
  },
  {
    name: 'a server that answers with something that is no tool result',
    category: 'upstream',
    servers: ['noisy'],
    code: 'import mcp\ntry:\n    print(await mcp_noisy.bad_result())\nexcept mcp.ToolError as error:\n    print(error.code)',
    expect: { status: 'ok', stdout: 'TOOL_ERROR\n' },
  },
  {
    name: 'a run that times out inside an upstream call cancels that call upstream',
    category: 'upstream',
    drive: async (context) => {
      const stats = 'import json\nprint(json.dumps(await mcp_soak.stats()))';
      const before = await context.run({ servers: ['soak'], code: stats });
      // The deadline covers taking a sandbox too: 5 s, so the call is surely made before it passes.
      const hung = await context.run({ servers: ['soak'], code: 'await mcp_soak.hang()', timeout: 5 });
      const after = await context.run({ servers: ['soak'], code: stats });
      return {
        ...hung,
        sandboxes: [...before.sandboxes, ...hung.sandboxes, ...after.sandboxes],
        others: [before, after],
      };
    },
    expect: {
      status: 'timeout',
      check: (run) => {
        const [before, after] = (run.others ?? []).map((other) =>
          JSON.parse(other.outcome?.stdout ?? 'null'),
        );
        expect(after.pendingHangs).toBe(0);
        expect(after.hangsCancelled).toBe(before.hangsCancelled + 1);
      },
    },
  },
  {
    name: 'a server that never finishes its handshake: the run times out waiting for it',
    category: 'upstream',
    drive: async (context) => {
      // The server dies, and its next start hangs in the handshake (a server stuck at start-up).
      context.setStall(true);
      const exited = await context.run({
        servers: ['stall'],
        code: 'import mcp\ntry:\n    await mcp_stall.exit()\nexcept mcp.ToolError as error:\n    print(error.code)',
      });
      const stalled = await context.run({ servers: ['stall'], code: 'print("not reached")', timeout: 2 });
      return { ...stalled, sandboxes: exited.sandboxes, others: [exited] };
    },
    expect: {
      status: 'timeout',
      error: /^Timed out after 2 s waiting for its servers to connect; the program did not start/,
      stdout: '',
      check: (run) =>
        expect(run.others?.[0]?.outcome).toMatchObject({ status: 'ok', stdout: 'UPSTREAM_UNAVAILABLE\n' }),
    },
  },
  {
    name: 'search_tool_docs while a server hangs in its handshake lists that server as unavailable',
    category: 'upstream',
    timeout: 10,
    drive: async (context) => {
      try {
        return await context.run({
          code: 'import mcp.runtime as rt\nanswer = await rt.search_tool_docs("fine", limit=3)\nprint("answered")',
          timeout: 10,
        });
      } finally {
        // Later servers start normally again (the hung start ends at the bridge's connect timeout).
        context.setStall(false);
      }
    },
    expect: {
      status: 'ok',
      stdout: 'answered\n',
      check: (run) => expect(run.outcome?.stderr).toMatch(/server 'stall' skipped: still starting after 5 s/),
    },
  },
];
