/**
 * Configs and settings written for the reference bridge (mcp-server-code-execution-mode) work
 * unchanged: its config locations, its setting values, and an invalid setting that reaches the MCP
 * client instead of ending in "Connection closed".
 */
import { spawnSync } from 'node:child_process';
import { getDefaultEnvironment } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge } from '../helpers/bridge.js';
import { BRIDGE_MAIN } from '../helpers/environment.js';
import { createTestHome, serverEntry, type TestHome } from '../helpers/upstreams.js';

function cli(args: string[], env: Record<string, string>, cwd: string) {
  const result = spawnSync(process.execPath, [BRIDGE_MAIN, ...args], {
    env: { ...getDefaultEnvironment(), ...env },
    cwd,
    input: '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("the reference bridge's config locations", () => {
  let home: TestHome;
  let envConfig: string;

  beforeAll(() => {
    home = createTestHome();
    // As the reference bridge's README writes them: one file per server in ~/MCPs.
    home.write('MCPs/memory.json', {
      mcpServers: { memory: { command: process.execPath, args: [serverEntry('server-memory')] } },
    });
    home.write('MCPs/everything.json', {
      description: 'the MCP test server',
      mcpServers: { everything: { command: process.execPath, args: [serverEntry('server-everything')] } },
    });
    // A client config that reuses a name: the file written for the bridge wins, and says so.
    home.write('.claude.json', { mcpServers: { memory: { command: 'claude-memory-not-used' } } });
    envConfig = home.write('elsewhere/servers.json', {
      mcpServers: {
        memory: { command: 'env-memory-not-used' },
        'env-only': { command: process.execPath, args: [serverEntry('server-memory')] },
      },
    });
  });
  afterAll(() => home?.cleanup());

  it('lists ~/MCPs/*.json and MCP_SERVERS_CONFIG, with what each name shadows', () => {
    const env = { HOME: home.home, MCP_SERVERS_CONFIG: envConfig, MCP_BRIDGE_LOG_LEVEL: 'INFO' };
    const { status, stdout, stderr } = cli(['servers'], env, home.project);
    expect(status).toBe(0);
    const names = [...stdout.matchAll(/^(\S+) \(mcp_\w+\)/gm)].map((match) => match[1]);
    expect(names).toEqual(['everything', 'memory', 'env-only']);
    expect(stdout).toContain(
      [
        `  from ${home.home}/MCPs/memory.json`,
        `  also defined in ${envConfig}: shadowed, not used`,
        `  also defined in ${home.home}/.claude.json: shadowed, not used`,
      ].join('\n'),
    );
    // Logged once, at info, naming both sides.
    const logged = stderr.split('\n').filter((line) => line.includes('defined more than once'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/ INFO .*server=memory used=\S+\/MCPs\/memory\.json shadowed=/);
    expect(logged[0]).toContain(`${envConfig}, ${home.home}/.claude.json`);

    const json = JSON.parse(cli(['servers', '--json'], env, home.project).stdout) as {
      servers: Array<{ name: string; source: string; shadowed: string[] }>;
    };
    expect(json.servers.map(({ name, source, shadowed }) => ({ name, source, shadowed }))).toEqual([
      { name: 'everything', source: `${home.home}/MCPs/everything.json`, shadowed: [] },
      {
        name: 'memory',
        source: `${home.home}/MCPs/memory.json`,
        shadowed: [envConfig, `${home.home}/.claude.json`],
      },
      { name: 'env-only', source: envConfig, shadowed: [] },
    ]);
  });

  it('doctor lists each file with the names it defines and the ones shadowed there', () => {
    const env = { HOME: home.home, MCP_SERVERS_CONFIG: envConfig, MCP_BRIDGE_RUNTIME: 'embedded' };
    const { stdout } = cli(['doctor'], env, home.project);
    expect(stdout).toContain(
      [
        'MCP config files read:',
        `  ${home.home}/MCPs/everything.json: everything`,
        `  ${home.home}/MCPs/memory.json: memory`,
        `  ${envConfig}: env-only; shadowed by an earlier definition: memory`,
        `  ${home.home}/.claude.json: shadowed by an earlier definition: memory`,
      ].join('\n'),
    );
  });

  it("accepts the reference bridge's setting values (compact output, Python log level names)", () => {
    const env = {
      HOME: home.home,
      MCP_BRIDGE_OUTPUT_MODE: 'compact',
      MCP_BRIDGE_LOG_LEVEL: 'WARNING',
    };
    const { status, stderr } = cli(['servers'], env, home.project);
    expect(status).toBe(0);
    // WARNING means warn: the info line about shadowing is not printed.
    expect(stderr).not.toContain('defined more than once');
  });
});

describe('an invalid setting', () => {
  const invalid = { MCP_BRIDGE_OUTPUT_MODE: 'xml' };
  const expected = /MCP_BRIDGE_OUTPUT_MODE="xml" is invalid: expected one of text, toon \(or compact\)/;

  it('reaches the MCP client: the handshake completes and run_python answers with the error', async () => {
    const bridge = await startBridge(invalid);
    try {
      expect(bridge.client.getInstructions()).toMatch(expected);
      const { tools } = await bridge.client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(['run_python']);
      expect(tools[0]?.description).toMatch(expected);
      const result = await bridge.runPython({ code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(expected);
      expect(result.text).toContain('"env" of this server\'s entry');
      // And as an MCP log message, which clients show in their server logs.
      await expect
        .poll(() => bridge.logs())
        .toContainEqual({
          level: 'error',
          data: { message: expect.stringMatching(expected) },
        });
      expect(bridge.stderr()).toMatch(expected);
    } finally {
      await bridge.close();
    }
  });

  it('also when only the sandbox settings are inconsistent (found while composing the bridge)', async () => {
    const bridge = await startBridge({
      MCP_BRIDGE_CONTAINER_CHANNEL: 'socket',
      MCP_BRIDGE_OCI_RUNTIME: 'runsc',
    });
    try {
      const result = await bridge.runPython({ code: 'print(1)' });
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(
        /MCP_BRIDGE_CONTAINER_CHANNEL=socket cannot be used with MCP_BRIDGE_OCI_RUNTIME=runsc/,
      );
    } finally {
      await bridge.close();
    }
  });

  it('makes serve exit 2 once the client is gone, and run/servers exit 2 with the message on stderr', () => {
    const initialize = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
    };
    const served = spawnSync(process.execPath, [BRIDGE_MAIN], {
      env: { ...getDefaultEnvironment(), ...invalid },
      input: `${JSON.stringify(initialize)}\n`,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(served.status).toBe(2);
    expect(JSON.parse(served.stdout.split('\n')[0] ?? '')).toMatchObject({
      id: 1,
      result: { instructions: expect.stringMatching(expected) },
    });
    expect(served.stderr).toMatch(expected);

    for (const args of [['run', '-e', 'print(1)'], ['servers']]) {
      const { status, stdout, stderr } = cli(args, invalid, process.cwd());
      expect(status).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(expected);
    }
  });
});
