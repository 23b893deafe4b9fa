/** Upstream MCP servers proxied into the sandbox, with real servers from npm over stdio and HTTP. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport, eventually, isAlive } from '../helpers/environment.js';
import {
  childProcessesMatching,
  createTestHome,
  standardServers,
  startHttpEverything,
  type TestHome,
} from '../helpers/upstreams.js';

const { skipReason } = containerSupport();
const SECRET = 's3cr3t-upstream-token-4711';
const HEADER_SECRET = 'Bearer h34der-s3cret';
const ALL = ['everything', 'memory', 'filesystem'];
const HANGING = fileURLToPath(new URL('../fixtures/hanging-server.mjs', import.meta.url));

describe.skipIf(skipReason)(
  `upstream servers inside run_python${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let home: TestHome;
    let http: Awaited<ReturnType<typeof startHttpEverything>>;
    let bridge: RunningBridge;

    beforeAll(async () => {
      home = createTestHome();
      http = await startHttpEverything();
      home.write('.claude.json', {
        mcpServers: {
          ...standardServers(home.home, SECRET),
          'remote-everything': { type: 'http', url: http.url, headers: { Authorization: HEADER_SECRET } },
        },
      });
      // A malformed file must be reported and skipped, never stop the bridge.
      home.write('.cursor/mcp.json', '{ "mcpServers": { "broken": ');
      bridge = await startBridge(
        { HOME: home.home, MCP_BRIDGE_LOG_LEVEL: 'info', MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT: '300' },
        { cwd: home.project },
      );
    });
    afterAll(async () => {
      await bridge?.close();
      http?.stop();
      home?.cleanup();
    });

    it('names the configured servers to the client and warns about the malformed file', async () => {
      // Past three servers the tool description counts them (it stays small at any number); the
      // initialize instructions name the first few within a budget and count the rest.
      const { tools } = await bridge.client.listTools();
      expect(tools[0]?.description).toContain('4 servers');
      expect(bridge.client.getInstructions()).toMatch(
        /MCP servers available to run_python: everything \(mcp_everything\), memory \(mcp_memory\)/,
      );
      expect(bridge.stderr()).toMatch(/WARN .*\.cursor\/mcp\.json/);
      // ...and tells the client, whose UI shows MCP log messages.
      expect(bridge.logs()).toContainEqual({
        level: 'warning',
        data: expect.objectContaining({ message: expect.stringContaining('.cursor/mcp.json') }),
      });
    });

    it('offers the three access patterns, all calling the same tool', async () => {
      const result = await bridge.runPython({
        servers: ['everything'],
        code: [
          'print(await mcp_everything.echo(message="one"))',
          'print(await mcp_servers["everything"]["echo"](message="two"))',
          'from mcp.servers.everything import echo, get_sum',
          'print(await echo("three"))',
          'from mcp.servers.everything import *',
          'print(await get_structured_content(location="New York"))',
          'print(mcp_everything.get_sum is mcp_servers["everything"]["get-sum"] is get_sum)',
        ].join('\n'),
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout.split('\n')).toEqual([
        'Echo: one',
        'Echo: two',
        'Echo: three',
        expect.stringMatching(/^\{'temperature': -?\d+, 'conditions': '\w+', 'humidity': \d+\}$/),
        'True',
        '',
      ]);
    });

    it('gives tools real signatures and docstrings, and checks arguments before calling', async () => {
      const result = await bridge.runPython({
        servers: ['everything'],
        code: [
          'import inspect',
          'print(inspect.signature(mcp_everything.get_sum))',
          'print(inspect.signature(mcp_everything.trigger_long_running_operation))',
          'print(mcp_everything.get_sum.__doc__.splitlines()[0])',
          'try:',
          '    await mcp_everything.get_sum(a=1, c=2)',
          'except TypeError as error:',
          '    print("TypeError:", error)',
        ].join('\n'),
      });
      const lines = result.structured.stdout.split('\n');
      expect(lines[0]).toBe('(a: float, b: float)');
      expect(lines[1]).toBe('(*, duration: float = 10, steps: float = 5)');
      expect(lines[2]).toMatch(/sum/i);
      expect(lines[3]).toMatch(
        /^TypeError: everything\.get_sum\(\): (missing a required argument: 'b'|got an unexpected keyword argument 'c')$/,
      );
    });

    it('unwraps results: JSON text parsed, plain text kept, structured content, images described', async () => {
      const result = await bridge.runPython({
        servers: ['everything', 'memory'],
        code: [
          'graph = await mcp_memory.create_entities(entities=[{"name": "Ada", "entityType": "person", "observations": ["wrote the first program"]}])',
          'print(type(graph).__name__)',
          'read = await mcp_memory.read_graph()',
          'print([e["name"] for e in read["entities"]])',
          'print(repr(await mcp_everything.get_sum(a=1, b=2)))',
          'image = await mcp_everything.get_tiny_image()',
          'print([block if isinstance(block, str) else {k: block[k] for k in ("type", "mimeType")} for block in image])',
        ].join('\n'),
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).toBe(
        [
          'dict',
          "['Ada']",
          "'The sum of 1 and 2 is 3.'",
          "[\"Here's the image you requested:\", {'type': 'image', 'mimeType': 'image/png'}, 'The image above is the MCP logo.']",
          '',
        ].join('\n'),
      );
    });

    it('raises mcp.ToolError with the server message when a tool fails', async () => {
      const result = await bridge.runPython({
        servers: ['filesystem'],
        code: [
          'import mcp',
          'print(await mcp_filesystem.list_allowed_directories())',
          'try:',
          '    await mcp_filesystem.read_text_file(path="/etc/passwd")',
          'except mcp.ToolError as error:',
          '    print("ToolError", error.server, error.tool, error.code, "|", error)',
        ].join('\n'),
      });
      expect(result.structured.status).toBe('ok');
      expect(result.structured.stdout).toMatch(/Allowed directories:/);
      expect(result.structured.stdout).toMatch(
        /ToolError filesystem read_text_file TOOL_ERROR \| .*(denied|outside allowed)/i,
      );
    });

    it('lets an uncaught ToolError fail the run with the message', async () => {
      const result = await bridge.runPython({
        servers: ['filesystem'],
        code: 'await mcp_filesystem.read_text_file(path="/etc/passwd")',
      });
      expect(result.structured.status).toBe('error');
      expect(result.structured.error).toMatch(/^mcp\.ToolError: .*(denied|outside allowed)/i);
    });

    it('only exposes granted servers', async () => {
      const result = await bridge.runPython({
        servers: ['memory'],
        code: [
          'print(sorted(k for k in globals() if k.startswith("mcp_")))',
          'try:',
          '    mcp_servers["everything"]',
          'except KeyError as error:',
          '    print(error)',
        ].join('\n'),
      });
      expect(result.structured.stdout).toBe(
        "['mcp_memory', 'mcp_servers']\n\"server 'everything' is not granted to this run; granted: memory. Pass it in run_python's `servers`.\"\n",
      );
    });

    it('runs concurrent calls with asyncio.gather', async () => {
      const result = await bridge.runPython({
        servers: ['everything'],
        code: 'import asyncio\nresults = await asyncio.gather(*(mcp_everything.echo(message=str(i)) for i in range(25)))\nprint(results == [f"Echo: {i}" for i in range(25)])',
      });
      expect(result.text).toBe('True');
    });

    it('proxies a Streamable HTTP server', async () => {
      const result = await bridge.runPython({
        servers: ['remote-everything'],
        code: 'print(await mcp_remote_everything.echo(message="over http"))',
      });
      expect(result.text).toBe('Echo: over http');
    });

    it('keeps upstream secrets (env, headers) on the host', async () => {
      const result = await bridge.runPython({
        servers: ALL.concat('remote-everything'),
        // The needles travel base64-encoded so the program's own source cannot match them.
        code: [
          'import base64, gc, os',
          'def scan():',
          `    needles = [base64.b64decode(n).decode() for n in ${JSON.stringify([SECRET, HEADER_SECRET].map((s) => Buffer.from(s).toString('base64')))}]`,
          '    texts = [repr(dict(os.environ)), open("/proc/self/environ", "rb").read().decode("latin-1")]',
          '    scanned = 0',
          '    for o in gc.get_objects():',
          '        if isinstance(o, (dict, list, tuple)) and o is not needles and o is not texts:',
          '            scanned += 1',
          '            texts.append(repr(o))',
          '    return any(n in t for n in needles for t in texts), scanned',
          'found, scanned = scan()',
          'print(found)',
          'print(scanned > 100)',
        ].join('\n'),
      });
      expect(result.structured.stdout).toBe('False\nTrue\n');
    });

    it('reconnects to an upstream that was killed between runs', async () => {
      await bridge.runPython({ servers: ['everything'], code: 'await mcp_everything.echo(message="warm")' });
      const [pid] = childProcessesMatching(bridge.pid, 'server-everything');
      expect(pid).toBeDefined();
      process.kill(pid as number, 'SIGKILL');
      expect(await eventually(() => !isAlive(pid as number))).toBe(true);
      const result = await bridge.runPython({
        servers: ['everything'],
        code: 'print(await mcp_everything.echo(message="back"))',
      });
      expect(result.text).toBe('Echo: back');
    });

    it('fails only the call that used an upstream that died mid-call, then recovers', async () => {
      await bridge.runPython({ servers: ['everything'], code: 'await mcp_everything.echo(message="warm")' });
      const [pid] = childProcessesMatching(bridge.pid, 'server-everything');
      // The server has read the call once its read count moves: kill it then, not after a guessed delay.
      const reads = () => Number(/syscr:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
      const readsBefore = reads();
      const pending = bridge.runPython({
        servers: ['everything', 'memory'],
        code: [
          'import asyncio, mcp',
          'async def slow():',
          '    try:',
          '        await mcp_everything.trigger_long_running_operation(duration=20, steps=2)',
          '    except mcp.ToolError as error:',
          '        return f"ToolError: {error}"',
          'slow_result, graph = await asyncio.gather(slow(), mcp_memory.read_graph())',
          'print(slow_result)',
          'print("memory still fine:", "entities" in graph)',
        ].join('\n'),
      });
      expect(await eventually(() => reads() > readsBefore, 20_000)).toBe(true);
      process.kill(pid as number, 'SIGKILL');
      const result = await pending;
      expect(result.structured.stdout).toMatch(
        /^ToolError: MCP server 'everything' closed the connection during trigger-long-running-operation/,
      );
      expect(result.structured.stdout).toContain('memory still fine: True');
      const after = await bridge.runPython({
        servers: ['everything'],
        code: 'print(await mcp_everything.echo(message="again"))',
      });
      expect(after.text).toBe('Echo: again');
    });

    it('refuses unknown server names with the configured list', async () => {
      const result = await bridge.runPython({ servers: ['everything', 'nope'], code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(result.text).toBe(
        "Unknown MCP server 'nope'. Configured servers: everything, memory, filesystem, remote-everything.",
      );
    });
  },
);

describe.skipIf(skipReason)(
  `upstream failures and transports${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let home: TestHome;
    let sse: Awaited<ReturnType<typeof startHttpEverything>>;
    let bridge: RunningBridge;

    beforeAll(async () => {
      home = createTestHome();
      sse = await startHttpEverything('sse');
      home.write('.claude.json', {
        mcpServers: {
          hanging: { command: process.execPath, args: [HANGING] },
          memory: standardServers(home.home, SECRET).memory,
          'sse-everything': { type: 'sse', url: sse.url },
        },
      });
      bridge = await startBridge({ HOME: home.home, MCP_BRIDGE_CALL_TIMEOUT: '1' }, { cwd: home.project });
    });
    afterAll(async () => {
      await bridge?.close();
      sse?.stop();
      home?.cleanup();
    });

    it('fails only the call to a hanging upstream, after MCP_BRIDGE_CALL_TIMEOUT', async () => {
      const result = await bridge.runPython({
        servers: ['hanging', 'memory'],
        code: [
          'import asyncio, mcp',
          'async def hang():',
          '    try:',
          '        await mcp_hanging.hang()',
          '    except mcp.ToolError as error:',
          '        return f"{error.code}: {error}"',
          'hung, graph, ok = await asyncio.gather(hang(), mcp_memory.read_graph(), mcp_hanging.ok())',
          'print(hung)',
          'print("entities" in graph, ok)',
        ].join('\n'),
      });
      expect(result.structured.stdout).toBe(
        "UPSTREAM_TIMEOUT: MCP server 'hanging' did not answer hang within 1 s\nTrue fine\n",
      );
      const again = await bridge.runPython({ servers: ['hanging'], code: 'print(await mcp_hanging.ok())' });
      expect(again.text).toBe('fine');
    });

    it('proxies an SSE server', async () => {
      const result = await bridge.runPython({
        servers: ['sse-everything'],
        code: 'print(await mcp_sse_everything.echo(message="over sse"))',
      });
      expect(result.text).toBe('Echo: over sse');
    });
  },
);

describe.skipIf(skipReason)(
  `upstream session lifetime${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    it('connects lazily, keeps the session between runs and closes it when idle', async () => {
      const home = createTestHome();
      home.write('.mcp.json', { mcpServers: standardServers(home.home, SECRET) }, 'project');
      const bridge = await startBridge(
        { HOME: home.home, MCP_BRIDGE_RUNTIME_IDLE_TIMEOUT: '2', MCP_BRIDGE_POOL_SIZE: '0' },
        { cwd: home.project },
      );
      try {
        expect(childProcessesMatching(bridge.pid, 'server-memory')).toEqual([]);
        await bridge.runPython({ servers: ['memory'], code: 'await mcp_memory.read_graph()' });
        const [first] = childProcessesMatching(bridge.pid, 'server-memory');
        expect(first).toBeDefined();
        await bridge.runPython({ servers: ['memory'], code: 'await mcp_memory.read_graph()' });
        expect(childProcessesMatching(bridge.pid, 'server-memory')).toEqual([first]);
        expect(
          await eventually(() => childProcessesMatching(bridge.pid, 'server-memory').length === 0, 10_000),
        ).toBe(true);
        const again = await bridge.runPython({
          servers: ['memory'],
          code: 'print("entities" in await mcp_memory.read_graph())',
        });
        expect(again.text).toBe('True');
      } finally {
        await bridge.close();
        home.cleanup();
      }
    });
  },
);
