/** Progressive discovery: a small tools/list however many servers exist, and helpers inside the sandbox. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { BRIDGE_MAIN, containerSupport, TEST_IMAGE } from '../helpers/environment.js';
import { createTestHome, standardServers, type TestHome } from '../helpers/upstreams.js';

const { skipReason } = containerSupport();
const TOOLS_LIST_BUDGET_TOKENS = 300;
const FAILING = fileURLToPath(new URL('../fixtures/failing-tools-server.mjs', import.meta.url));
const FIXTURE_NAMES = [
  'github',
  'slack',
  'postgres-analytics',
  'google-drive',
  'linear',
  'jira-cloud',
  'notion-workspace',
  'sentry',
  'stripe-payments',
  'aws-cost-explorer',
  'kubernetes-prod',
  'grafana',
  'confluence',
  'zendesk-support',
  'hubspot-crm',
  'figma',
  'datadog-metrics',
  'snowflake-warehouse',
  'gitlab.internal',
  'calendar',
];

describe.skipIf(skipReason)(`progressive discovery${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    const fixtures = Object.fromEntries(
      FIXTURE_NAMES.map((name) => [name, { command: `/nonexistent/${name}-mcp`, args: ['--stdio'] }]),
    );
    home.write('.claude.json', {
      mcpServers: {
        ...standardServers(home.home, 'unused-secret'),
        failing: { command: process.execPath, args: [FAILING] },
        ...fixtures,
      },
    });
    bridge = await startBridge({ HOME: home.home }, { cwd: home.project });
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it(`keeps tools/list within ${TOOLS_LIST_BUDGET_TOKENS} tokens with 24 servers configured`, async () => {
    const listed = await bridge.client.listTools();
    const tokens = getEncoding('o200k_base').encode(JSON.stringify(listed)).length;
    console.log(`tools/list: ${tokens} tokens (o200k) with 24 configured servers`);
    expect(tokens).toBeLessThanOrEqual(TOOLS_LIST_BUDGET_TOKENS);
    const [tool] = listed.tools;
    expect(tool?.description).toContain('search_tool_docs');
    expect(tool?.description).toMatch(/\d+ servers \(`mcp\.runtime\.discovered_servers\(\)` names them\)/);
    expect(tool?.outputSchema?.properties).toHaveProperty('status');
    expect(JSON.stringify(listed)).not.toContain('$schema');
  });

  it('states the servers in the initialize instructions', () => {
    const instructions = bridge.client.getInstructions() ?? '';
    expect(instructions).toContain(
      'everything (mcp_everything), memory (mcp_memory), filesystem (mcp_filesystem)',
    );
    // Past a few, the rest are counted: the full list is a resource away.
    expect(instructions).toMatch(/ and \d+ more \(codemode:\/\/capabilities lists all\)\./);
    expect(instructions).toContain('codemode://capabilities');
  });

  it('offers a capabilities resource and one resource per server', async () => {
    const { resources } = await bridge.client.listResources();
    const uris = resources.map((resource) => resource.uri);
    expect(uris).toContain('codemode://capabilities');
    expect(uris).toContain('codemode://servers/memory');
    expect(uris).toContain('codemode://servers/gitlab.internal');

    const capabilities = (await bridge.client.readResource({ uri: 'codemode://capabilities' })).contents[0];
    const text = capabilities && 'text' in capabilities ? capabilities.text : '';
    expect(text).toMatch(/- memory \(mcp_memory\): 9 tools/);
    expect(text).toMatch(/- filesystem \(mcp_filesystem\): 14 tools/);
    expect(text).toMatch(
      /- failing \(mcp_failing\): unavailable: MCP server 'failing' did not list its tools: .*on fire/,
    );
    expect(text).toMatch(/- github \(mcp_github\): unavailable: Could not connect/);

    const memory = (await bridge.client.readResource({ uri: 'codemode://servers/memory' })).contents[0];
    expect(memory && 'text' in memory ? memory.text : '').toMatch(
      /^# memory \(mcp_memory\)[\s\S]*9 tools:\n- create_entities — /,
    );
    // A server that is not configured is the MCP error for a missing resource, naming those that are,
    // with the SDK's `MCP error <code>:` prefix once.
    const uri = 'codemode://servers/nowhere';
    await expect(bridge.client.readResource({ uri })).rejects.toMatchObject({
      code: -32002,
      message: expect.stringMatching(
        /^MCP error -32002: Resource codemode:\/\/servers\/nowhere not found: no MCP server is named "nowhere"; there are: .*"memory"/,
      ),
      data: { uri },
    });
  });

  it('lists and describes servers without granting them', async () => {
    const result = await bridge.runPython({
      code: [
        'import mcp.runtime as runtime',
        'print(runtime.discovered_servers()[:4])',
        'print(len(await runtime.list_servers()))',
        'print(runtime.list_loaded_server_metadata())',
        'described = await runtime.describe_server("memory")',
        'print(sorted(described), described["alias"], len(described["tools"]))',
        'print(sorted(described["tools"][0]))',
        'print([t["alias"] for t in await runtime.list_tools("everything")][:3])',
        'print(runtime.capability_summary().splitlines()[1])',
      ].join('\n'),
    });
    expect(result.structured.status).toBe('ok');
    expect(result.structured.stdout.split('\n')).toEqual([
      "('everything', 'memory', 'filesystem', 'failing')",
      '24',
      '()',
      "['alias', 'cwd', 'description', 'name', 'tools'] memory 9",
      "['alias', 'description', 'input_schema', 'name']",
      "['echo', 'get_annotated_message', 'get_env']",
      '  everything (mcp_everything, not granted)',
      '',
    ]);
  });

  it('shows granted servers in list_loaded_server_metadata', async () => {
    const result = await bridge.runPython({
      servers: ['memory'],
      code: 'import mcp.runtime as runtime\nprint([(s["name"], len(s["tools"])) for s in runtime.list_loaded_server_metadata()])',
    });
    expect(result.text).toBe("[('memory', 9)]");
  });

  it('answers describe_server and list_tools at once for granted servers, and asks for await otherwise', async () => {
    const result = await bridge.runPython({
      servers: ['memory'],
      code: [
        'import mcp.runtime as runtime',
        'print(runtime.describe_server("memory")["alias"], len(runtime.list_tools("memory")))',
        'print(len((await runtime.describe_server("memory"))["tools"]), len(await runtime.list_tools("memory")))',
        'pending = runtime.describe_server("everything")',
        'print(repr(pending))',
        'try:',
        '    pending["tools"]',
        'except TypeError as error:',
        '    print(error)',
        'print(len(await runtime.list_tools("everything")) > 5)',
      ].join('\n'),
    });
    expect(result.structured.stderr).toBe('');
    expect(result.structured.stdout).toBe(
      [
        'memory 9',
        '9 9',
        "<runtime.describe_server('everything'): not awaited; use `await runtime.describe_server('everything')`>",
        "runtime.describe_server('everything') asks the host: use `await runtime.describe_server('everything')`",
        'True',
        '',
      ].join('\n'),
    );
  });

  it('gives tool docs at summary and full detail', async () => {
    const result = await bridge.runPython({
      code: [
        'import json, mcp.runtime as runtime',
        'summary = await runtime.query_tool_docs("everything", tool="get-sum")',
        'print(json.dumps(summary))',
        'full = await runtime.query_tool_docs("everything", tool="get_sum", detail="full")',
        'print([p["name"] for p in full["parameters"]], full["parameters"][0]["required"], "inputSchema" in full)',
        'print(len(await runtime.query_tool_docs("memory")))',
        'try:',
        '    await runtime.query_tool_docs("memory", tool="nope")',
        'except KeyError as error:',
        '    print("KeyError", error)',
      ].join('\n'),
    });
    const lines = result.structured.stdout.split('\n');
    // One tool named: one dict, as mcp-server-code-execution-mode returned.
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      server: 'everything',
      serverAlias: 'everything',
      tool: 'get-sum',
      toolAlias: 'get_sum',
      description: 'Returns the sum of two numbers',
      signature: 'await mcp_everything.get_sum(a: float, b: float)',
    });
    expect(lines[1]).toBe("['a', 'b'] True True");
    expect(lines[2]).toBe('9');
    expect(lines[3]).toMatch(/^KeyError server 'memory' has no tool 'nope'; it has: create_entities/);
  });

  it('searches every server for a task, ranked, and reports servers it could not reach', async () => {
    const result = await bridge.runPython({
      code: [
        'import mcp.runtime as runtime',
        'hits = await runtime.search_tool_docs("add two numbers", limit=3)',
        'print(hits[0]["server"], hits[0]["tool"], hits[0]["score"] > 0, len(hits))',
        'full = await runtime.search_tool_docs("read a text file", limit=1, detail="full")',
        'print(full[0]["server"], full[0]["tool"], "parameters" in full[0])',
      ].join('\n'),
    });
    expect(result.structured.status).toBe('ok');
    expect(result.structured.stdout).toBe('everything get-sum True 3\nfilesystem read_text_file True\n');
    expect(result.structured.stderr).toContain("search_tool_docs: server 'failing' skipped");
    expect(result.structured.stderr).toContain("search_tool_docs: server 'github' skipped");
  });

  it('raises a clear error for a server whose tools/list fails, and keeps going', async () => {
    const result = await bridge.runPython({
      code: [
        'import mcp, mcp.runtime as runtime',
        'try:',
        '    await runtime.describe_server("failing")',
        'except mcp.ToolError as error:',
        '    print("ToolError:", error)',
        'print(len((await runtime.describe_server("memory"))["tools"]))',
      ].join('\n'),
    });
    expect(result.structured.stdout).toMatch(
      /^ToolError: MCP server 'failing' did not list its tools: .*on fire\n9\n$/,
    );
  });

  it('prints the same stubs the sandbox builds', () => {
    const stubs = spawnSync(process.execPath, [BRIDGE_MAIN, 'stubs', 'memory', 'everything'], {
      env: { ...process.env, HOME: home.home, MCP_BRIDGE_IMAGE: TEST_IMAGE, MCP_BRIDGE_LOG_LEVEL: 'error' },
      cwd: home.project,
      encoding: 'utf8',
    });
    expect(stubs.status).toBe(0);
    expect(stubs.stdout).toContain(
      "# MCP server 'memory': mcp_memory\nasync def create_entities(entities: list):",
    );
    expect(stubs.stdout).toContain(
      'async def get_sum(a: float, b: float):\n    """\n    Returns the sum of two numbers',
    );
    const unknown = spawnSync(process.execPath, [BRIDGE_MAIN, 'stubs', 'nope'], {
      env: { ...process.env, HOME: home.home, MCP_BRIDGE_LOG_LEVEL: 'error' },
      cwd: home.project,
      encoding: 'utf8',
    });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown MCP server 'nope'. Configured servers:");
  });
});
