/**
 * The in-sandbox API of mcp-server-code-execution-mode, through the real bridge and real upstream
 * servers, on both backends: the `*_sync` helpers, `discovered_servers(detailed=True)`, `call_tool`
 * (unwrapped and raw), `MCPError`, a proxy's `.list_tools()`, `LOADED_MCP_SERVERS`,
 * `mcp.servers.__all__`, `mcp.servers.<alias>.TOOLS`/`TOOL_MAP`, `cwd`/`description` in server
 * metadata, `query_tool_docs(server, tool=X)` as one dict, and how `__name__` and a final expression
 * behave here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport } from '../helpers/environment.js';
import { createTestHome, standardServers, type TestHome } from '../helpers/upstreams.js';

const container = containerSupport();
const BACKENDS = [
  {
    name: 'container',
    runtime: container.engine ?? 'podman',
    skip: container.skipReason,
  },
  { name: 'embedded', runtime: 'embedded', skip: undefined },
];
const DESCRIPTION = 'The reference server, configured for the tests';
const stateDir = mkdtempSync(join(tmpdir(), 'codemode-runtime-api-'));

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

for (const backend of BACKENDS) {
  describe.skipIf(backend.skip)(
    `the reference bridge's runtime API (${backend.name})${backend.skip ? ` (skipped: ${backend.skip})` : ''}`,
    () => {
      let home: TestHome;
      let bridge: RunningBridge;

      /** Runs `lines` and returns stdout, failing with the whole result when the run did not succeed. */
      async function run(lines: string[], servers: string[] = []): Promise<string> {
        const result = await bridge.runPython({ code: lines.join('\n'), servers, timeout: 60 });
        expect(result.structured, result.text).toMatchObject({ status: 'ok', stderr: '' });
        return result.structured.stdout;
      }

      beforeAll(async () => {
        home = createTestHome();
        const servers = standardServers(home.home, 'runtime-api-secret-4711');
        home.write('.claude.json', {
          mcpServers: {
            ...servers,
            everything: { ...(servers.everything as object), description: DESCRIPTION, cwd: home.project },
          },
        });
        bridge = await startBridge(
          { HOME: home.home, MCP_BRIDGE_RUNTIME: backend.runtime, MCP_BRIDGE_STATE_DIR: stateDir },
          { cwd: home.project },
        );
        // An embedded bridge's first run starts cold while its snapshot is built (slow on a busy machine).
        expect((await bridge.runPython({ code: 'print("warm")', timeout: 120 })).text).toBe('warm');
      }, 300_000);
      afterAll(async () => {
        await bridge?.close();
        home?.cleanup();
      });

      it('list_servers_sync(): the granted servers, as a tuple', async () => {
        expect(
          await run(['import mcp.runtime as rt', 'print(rt.list_servers_sync())'], ['memory', 'everything']),
        ).toBe("('memory', 'everything')\n");
        expect(await run(['import mcp.runtime as rt', 'print(rt.list_servers_sync())'])).toBe('()\n');
      });

      it("list_tools_sync(server): a granted server's tool metadata, without asking the host", async () => {
        const stdout = await run(
          [
            'import mcp.runtime as rt',
            'tools = rt.list_tools_sync("everything")',
            'print(type(tools).__name__, sorted(tools[0]), tools[0]["alias"])',
            'print(len(tools) == len(rt.list_tools_sync("everything")), tools[0]["input_schema"]["type"])',
            'try:',
            '    rt.list_tools_sync("memory")',
            'except rt.MCPError as error:',
            '    print("MCPError:", error)',
            'try:',
            '    rt.list_tools_sync()',
            'except rt.MCPError as error:',
            '    print("MCPError:", error)',
          ],
          ['everything'],
        );
        const lines = stdout.split('\n');
        expect(lines[0]).toBe("tuple ['alias', 'description', 'input_schema', 'name'] echo");
        expect(lines[1]).toBe('True object');
        expect(lines[2]).toMatch(
          /^MCPError: list_tools_sync\('memory'\): that server is not granted to this run/,
        );
        expect(lines[3]).toBe(
          'MCPError: list_tools_sync(server) requires a server name; granted to this run: everything',
        );
      });

      it('mcp.servers.<alias>.TOOLS and TOOL_MAP: the tools as the original listed them, and by alias', async () => {
        const stdout = await run(
          [
            'import mcp.runtime as rt',
            'from mcp.servers.everything import TOOLS, TOOL_MAP',
            'print(type(TOOLS).__name__, TOOLS == list(rt.list_tools_sync("everything")))',
            'print(TOOL_MAP["get_sum"]["name"], sorted(TOOL_MAP) == sorted(tool["alias"] for tool in TOOLS))',
            'print(mcp_everything.TOOLS is TOOLS, "TOOLS" in mcp_everything.__all__)',
          ],
          ['everything'],
        );
        expect(stdout).toBe('list True\nget-sum True\nTrue False\n');
      });

      it('query_tool_docs_sync(server, tool): a list, of one when a tool is named (as the original)', async () => {
        const stdout = await run(
          [
            'import mcp.runtime as rt',
            'docs = rt.query_tool_docs_sync("everything", tool="get-sum")',
            'print(type(docs).__name__, len(docs), docs[0]["signature"])',
            'print(len(rt.query_tool_docs_sync("everything")) == len(rt.list_tools_sync("everything")))',
            'print("inputSchema" in rt.query_tool_docs_sync("everything", "GET_SUM", detail="full")[0])',
          ],
          ['everything'],
        );
        expect(stdout).toBe('list 1 await mcp_everything.get_sum(a: float, b: float)\nTrue\nTrue\n');
      });

      it("search_tool_docs_sync(query): ranks the granted servers' tools from what the run holds", async () => {
        const stdout = await run(
          [
            'import mcp.runtime as rt',
            'hits = rt.search_tool_docs_sync("sum of two numbers", limit=2)',
            'print(hits[0]["server"], hits[0]["tool"], hits[0]["score"] > 0, len(hits) <= 2)',
            'print(rt.search_tool_docs_sync("read_graph"))',
            'print(rt.search_tool_docs_sync(""))',
          ],
          ['everything'],
        );
        // read_graph belongs to memory, which this run was not granted: the sync search cannot see it.
        expect(stdout).toBe('everything get-sum True True\n[]\n[]\n');
      });

      it("discovered_servers(detailed=True): names with the config entries' descriptions", async () => {
        const stdout = await run([
          'import mcp.runtime as rt',
          'print(rt.discovered_servers())',
          'for server in rt.discovered_servers(detailed=True):',
          '    print(server)',
        ]);
        expect(stdout.split('\n')).toEqual([
          "('everything', 'memory', 'filesystem')",
          `{'name': 'everything', 'alias': 'everything', 'description': '${DESCRIPTION}'}`,
          "{'name': 'memory', 'alias': 'memory', 'description': ''}",
          "{'name': 'filesystem', 'alias': 'filesystem', 'description': ''}",
          '',
        ]);
      });

      it('call_tool(server, tool, args): the unwrapped result, by name or alias', async () => {
        const stdout = await run(
          [
            'import mcp.runtime as rt',
            'print(await rt.call_tool("everything", "get-sum", {"a": 2, "b": 3}))',
            'print(await rt.call_tool("everything", "get_sum", {"a": 1, "b": 1}))',
            'graph = await rt.call_tool("memory", "read_graph")',
            'print(type(graph).__name__, sorted(graph))',
          ],
          ['everything', 'memory'],
        );
        expect(stdout).toBe(
          "The sum of 2 and 3 is 5.\nThe sum of 1 and 1 is 2.\ndict ['entities', 'relations']\n",
        );
      });

      it("raw=True (and a proxy's .raw): the MCP result dict, as the original returned; isError still raises", async () => {
        const stdout = await run(
          [
            'import mcp.runtime as rt',
            'raw = await rt.call_tool("everything", "get-sum", {"a": 2, "b": 3}, raw=True)',
            'print(sorted(raw), raw["content"][0]["text"], raw["isError"])',
            'print((await mcp_everything.get_sum.raw(a=1, b=2))["content"][0]["text"])',
            'graph = await mcp_memory.read_graph.raw()',
            'print(type(graph["content"][0]["text"]).__name__)',
            'try:',
            '    await rt.call_tool("filesystem", "read_text_file", {"path": "/etc/passwd"}, raw=True)',
            'except rt.MCPError as error:',
            '    print("MCPError", error.server, error.tool)',
          ],
          ['everything', 'memory', 'filesystem'],
        );
        const lines = stdout.split('\n');
        expect(lines[0]).toBe("['content', 'isError'] The sum of 2 and 3 is 5. False");
        expect(lines[1]).toBe('The sum of 1 and 2 is 3.');
        expect(lines[2]).toBe('str');
        expect(lines[3]).toBe('MCPError filesystem read_text_file');
      });

      it('MCPError: the same class as mcp.ToolError, a RuntimeError, raised by failed calls and lookups', async () => {
        const stdout = await run(
          [
            'import mcp, mcp.runtime as rt',
            'print(rt.MCPError is mcp.ToolError is mcp.MCPError, issubclass(rt.MCPError, RuntimeError))',
            'for attempt in (',
            '    lambda: mcp_filesystem.read_text_file(path="/etc/passwd"),',
            '    lambda: rt.describe_server("nope"),',
            '    lambda: rt.query_tool_docs("everything", tool="nope"),',
            '    lambda: rt.call_tool("memory", "read_graph"),',
            '):',
            '    try:',
            '        result = attempt()',
            '        if hasattr(result, "__await__"):',
            '            await result',
            '    except rt.MCPError as error:',
            '        print(type(error).__name__, isinstance(error, KeyError))',
          ],
          ['filesystem'],
        );
        expect(stdout).toBe(
          'True True\nToolError False\nNotFoundError True\nNotFoundError True\nToolError False\n',
        );
      });

      it('.list_tools() on a server proxy: the tools as MCP lists them, with aliases; await optional', async () => {
        const stdout = await run(
          [
            'listed = await mcp_everything.list_tools()',
            'print(len(listed) == len(mcp_everything.list_tools()), sorted(listed[0]))',
            'print([t["alias"] for t in listed if t["name"] == "get-sum"])',
          ],
          ['everything'],
        );
        expect(stdout).toBe("True ['alias', 'description', 'inputSchema', 'name']\n['get_sum']\n");
      });

      it('LOADED_MCP_SERVERS: the names of the granted servers', async () => {
        expect(await run(['print(LOADED_MCP_SERVERS)'], ['filesystem', 'memory'])).toBe(
          "('filesystem', 'memory')\n",
        );
      });

      it('mcp.servers.__all__: the aliases of the granted servers', async () => {
        const stdout = await run(
          ['import mcp.servers', 'print(mcp.servers.__all__)', 'from mcp.servers import *', 'print(memory)'],
          ['memory', 'everything'],
        );
        expect(stdout).toBe("['everything', 'memory']\n<MCP server 'memory': 9 tools>\n");
      });

      it('cwd and description in server metadata, granted or not', async () => {
        const stdout = await run(
          [
            'import mcp.runtime as rt',
            'loaded = rt.list_loaded_server_metadata()[0]',
            'print(loaded["cwd"] == rt.describe_server("everything")["cwd"], loaded["description"])',
            'print(loaded["cwd"])',
            'memory = await rt.describe_server("memory")',
            'print(memory["cwd"], sorted(memory))',
          ],
          ['everything'],
        );
        expect(stdout.split('\n')).toEqual([
          `True ${DESCRIPTION}`,
          home.project,
          "None ['alias', 'cwd', 'description', 'name', 'tools']",
          '',
        ]);
      });

      it('query_tool_docs(server, tool=X): one dict when a tool is named, a list otherwise', async () => {
        const stdout = await run([
          'import mcp.runtime as rt',
          'doc = await rt.query_tool_docs("everything", tool="get-sum")',
          'print(type(doc).__name__, doc["toolAlias"], doc["signature"])',
          'print(type(await rt.query_tool_docs("memory")).__name__)',
          'print(sorted(await rt.query_tool_docs("everything", tool="get_sum", detail="full")))',
        ]);
        expect(stdout.split('\n')).toEqual([
          'dict get_sum await mcp_everything.get_sum(a: float, b: float)',
          'list',
          "['description', 'inputSchema', 'parameters', 'server', 'serverAlias', 'signature', 'tool', 'toolAlias']",
          '',
        ]);
      });

      it('__name__ is "__main__" and a final expression is printed (the original: "__sandbox__", nothing)', async () => {
        const stdout = await run([
          'print(__name__)',
          'if __name__ == "__main__":',
          '    print("main block runs")',
          'x = 6',
          'x * 7',
        ]);
        expect(stdout).toBe('__main__\nmain block runs\n42\n');
        // A final expression that is None, or an assignment, prints nothing.
        expect(await run(['x = print("only this")', 'None'])).toBe('only this\n');
      });
    },
  );
}
