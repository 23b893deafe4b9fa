// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config files are the subject under test.
/**
 * Upstream servers that misbehave must not hurt the bridge (issue 9): their secrets stay out of what
 * the sandbox and the client read, an oversize result fails only its call, and a server still
 * starting at shutdown is killed with everything it started.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../../src/shared/kill-group.js';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport, eventually } from '../helpers/environment.js';
import { createTestHome, type TestHome } from '../helpers/upstreams.js';

const { skipReason } = containerSupport();
const skipNote = skipReason ? ` (skipped: ${skipReason})` : '';
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const SECRET = 'sk-live-e2e-9f3b1c7d5a';

/** A bridge whose only config file is `servers`, given through MCP_BRIDGE_CONFIG. */
async function bridgeWith(
  home: TestHome,
  servers: Record<string, unknown>,
  env: Record<string, string> = {},
): Promise<RunningBridge> {
  const config = home.write('bridge-config.json', { mcpServers: servers });
  return startBridge({ HOME: home.home, MCP_BRIDGE_CONFIG: config, ...env }, { cwd: home.project });
}

describe.skipIf(skipReason)(`secrets of upstream servers${skipNote}`, () => {
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    bridge = await bridgeWith(
      home,
      {
        ghost: { command: '/nonexistent/codemode-ghost-server', args: ['--token', '${SOME_SECRET}'] },
        leaky: {
          command: process.execPath,
          args: [fixture('leaky-server.mjs')],
          env: { LEAKY_TOKEN: '${SOME_SECRET}' },
        },
      },
      { SOME_SECRET: SECRET, MCP_BRIDGE_LOG_LEVEL: 'info' },
    );
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it('keeps an expanded secret out of connection errors in describe_server and search_tool_docs', async () => {
    const result = await bridge.runPython({
      code: [
        'import mcp.runtime as rt',
        'try:',
        '    await rt.describe_server("ghost")',
        'except Exception as error:',
        '    print(type(error).__name__, error)',
        'await rt.search_tool_docs("token")',
      ].join('\n'),
    });
    expect(result.structured.status).toBe('ok');
    expect(result.structured.stdout).toMatch(
      /^ToolError Could not connect to MCP server 'ghost' \(command: \/nonexistent\/codemode-ghost-server --token \[redacted\]\)/,
    );
    expect(result.structured.stderr).toMatch(
      /search_tool_docs: server 'ghost' skipped: .*--token \[redacted\]/,
    );
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it("keeps it out of a run's error when granting the server fails", async () => {
    const result = await bridge.runPython({ servers: ['ghost'], code: 'print(1)' });
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/Could not connect to MCP server 'ghost' .*\[redacted\]/);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it('keeps what a server says about its secret out of ToolError texts, and passes results on as they are', async () => {
    const result = await bridge.runPython({
      servers: ['leaky'],
      code: [
        'import mcp',
        'for tool in ("token_error", "token_throw", "crash"):',
        '    try:',
        '        await mcp_servers["leaky"][tool]()',
        '    except mcp.ToolError as error:',
        '        print(tool, error.code, "|", error)',
        'print(await mcp_leaky.token_result())',
      ].join('\n'),
    });
    expect(result.structured.status).toBe('ok');
    const lines = result.structured.stdout.split('\n');
    expect(lines[0]).toBe('token_error TOOL_ERROR | bad token [redacted] (rejected)');
    // The upstream sends its McpError prefixed and our client prefixes it again; the program reads it once.
    expect(lines[1]).toMatch(
      /^token_throw TOOL_ERROR \| leaky\.token_throw failed: MCP error -32603: cannot authenticate with \[redacted\]$/,
    );
    // The crash message quotes the server's last stderr, which it scrubbed on arrival.
    expect(lines[2]).toMatch(
      /^crash UPSTREAM_UNAVAILABLE \| MCP server 'leaky' closed the connection during crash .*fatal: auth failed for token=\[redacted\]/,
    );
    // A successful result is the data the program asked for; it is not scrubbed (see docs/security.md).
    expect(lines[3]).toBe(`the token is ${SECRET}`);
    expect(result.structured.stdout.split(SECRET)).toHaveLength(2);
  });

  it('keeps it out of the log messages sent to the client and the bridge log', () => {
    expect(JSON.stringify(bridge.logs())).not.toContain(SECRET);
    expect(bridge.stderr()).toContain('leaky starting with token [redacted]');
    expect(bridge.stderr()).not.toContain(SECRET);
  });
});

describe.skipIf(skipReason)(`an upstream that fails to start${skipNote}`, () => {
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    bridge = await bridgeWith(
      home,
      {
        dies: {
          command: process.execPath,
          args: ['-e', 'console.error("fatal: API_TOKEN is not set"); process.exit(3)'],
        },
        homeless: {
          command: process.execPath,
          args: [fixture('shapes-server.mjs')],
          cwd: join(home.home, 'no-such-dir'),
        },
      },
      // No sandbox is needed: granting the server fails before one is taken.
      { MCP_BRIDGE_POOL_SIZE: '0' },
    );
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it('is reported with its exit code and stderr, to the run and as an MCP log message', async () => {
    const expected =
      /^Could not connect to MCP server 'dies' \(command: .*\): the server exited with code 3 before completing the MCP handshake; its last stderr: fatal: API_TOKEN is not set$/;
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = await bridge.runPython({ servers: ['dies'], code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(expected);
    }
    // Once, not once per attempt: a program retrying in a loop must not flood the client.
    await expect
      .poll(() => bridge.logs().filter((log) => JSON.stringify(log.data).includes("server 'dies'")))
      .toEqual([{ level: 'warning', data: { message: expect.stringMatching(expected), server: 'dies' } }]);
  });

  it('with a missing working directory, says so, naming the server and the directory', async () => {
    const result = await bridge.runPython({ servers: ['homeless'], code: 'print(1)' });
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(
      new RegExp(
        `^Could not connect to MCP server 'homeless' \\(command: .*\\): its working directory "${join(home.home, 'no-such-dir')}" \\(its "cwd"\\) does not exist$`,
      ),
    );
    expect(result.text).not.toMatch(/ENOENT/);
  });
});

describe.skipIf(skipReason)(`an upstream result over the size limit${skipNote}`, () => {
  let home: TestHome;
  let bridge: RunningBridge;

  beforeAll(async () => {
    home = createTestHome();
    bridge = await bridgeWith(home, {
      big: { command: process.execPath, args: [fixture('big-result-server.mjs')] },
    });
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it('fails only that call; another run on the same session goes on', async () => {
    const asking = bridge.runPython({
      servers: ['big'],
      code: [
        'import mcp',
        'try:',
        '    await mcp_big.big()',
        'except mcp.ToolError as error:',
        '    print(error.code, "|", error)',
      ].join('\n'),
    });
    const bystander = bridge.runPython({
      servers: ['big'],
      code: [
        'before = await mcp_big.pid()',
        'print(await mcp_big.wait_for_big())',
        'after = await mcp_big.pid()',
        'print(before, after)',
      ].join('\n'),
    });
    const [asked, stood] = await Promise.all([asking, bystander]);

    expect(asked.structured.status).toBe('ok');
    expect(asked.structured.stdout).toMatch(
      /^TOOL_ERROR \| big\.big failed: its result was \d+ bytes, over the bridge's limit of 33554432 bytes for one upstream message\. Ask the tool for less/,
    );
    expect(Number(/was (\d+) bytes/.exec(asked.structured.stdout)?.[1])).toBeGreaterThan(40 * 1024 * 1024);

    expect(stood.structured.status).toBe('ok');
    const [released, pids] = stood.structured.stdout.trim().split('\n');
    expect(released).toBe('big was written');
    const [before, after] = (pids ?? '').split(' ');
    expect(before).toMatch(/^\d+$/);
    expect(after).toBe(before);

    const later = await bridge.runPython({ servers: ['big'], code: 'print(await mcp_big.pid())' });
    expect(later.text).toBe(before);
  });
});

describe.skipIf(skipReason)(`an upstream still starting at shutdown${skipNote}`, () => {
  let home: TestHome;
  let bridge: RunningBridge | undefined;

  beforeAll(() => {
    home = createTestHome();
  });
  afterAll(async () => {
    await bridge?.close();
    home?.cleanup();
  });

  it('is killed with what it started when the client goes away', async () => {
    const pidFile = join(home.home, 'slow-start.pids');
    bridge = await bridgeWith(home, {
      slow: { command: process.execPath, args: [fixture('slow-start-server.mjs'), pidFile] },
    });
    const run = bridge.runPython({ servers: ['slow'], code: 'print(1)' }).catch((error: Error) => error);
    expect(await eventually(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '))).toBe(
      true,
    );
    const pids = readFileSync(pidFile, 'utf8').split(' ').map(Number);
    expect(pids.every(isProcessAlive)).toBe(true);

    await bridge.close();
    await run;
    expect(await eventually(() => !pids.some(isProcessAlive))).toBe(true);
    expect(await eventually(() => !isProcessAlive(bridge?.pid ?? 0))).toBe(true);
  });
});
