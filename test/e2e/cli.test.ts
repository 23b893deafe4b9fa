/** The command line as a user meets it: help, version, run, servers, with real config files. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BRIDGE_MAIN, containerSupport, TEST_IMAGE } from '../helpers/environment.js';
import { createTestHome, serverEntry, startHttpEverything, type TestHome } from '../helpers/upstreams.js';

function cli(args: string[], options: { env?: Record<string, string>; cwd?: string; input?: string } = {}) {
  const result = spawnSync(process.execPath, [BRIDGE_MAIN, ...args], {
    env: { ...process.env, MCP_BRIDGE_IMAGE: TEST_IMAGE, MCP_BRIDGE_LOG_LEVEL: 'error', ...options.env },
    cwd: options.cwd,
    input: options.input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('codemode-bridge --help and --version', () => {
  it('prints help with every command and variable', () => {
    const { status, stdout } = cli(['--help']);
    expect(status).toBe(0);
    for (const text of [
      'run -e CODE',
      'servers [--check]',
      'doctor',
      'MCP_BRIDGE_RUNTIME',
      'MCP_BRIDGE_CALL_TIMEOUT',
    ]) {
      expect(stdout).toContain(text);
    }
  });

  it('prints the package version', () => {
    const { status, stdout } = cli(['--version']);
    expect(status).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("prints help from anywhere among a command's arguments", () => {
    const { status, stdout } = cli(['skills', 'show', 'x', '--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('codemode-bridge skills show NAME');
    expect(stdout).not.toContain('codemode-bridge doctor');
  });

  it.each([
    ['serve', ['serve', '--help'], 'codemode-bridge serve --http PORT [--host H]'],
    ['console', ['console', '-h'], 'codemode-bridge console [--port PORT]'],
    ['run', ['run', '--help'], '-t, --timeout SECONDS'],
    ['servers', ['servers', '--check', '--help'], 'codemode-bridge servers [--check] [--json]'],
    ['stubs', ['stubs', '--help'], 'codemode-bridge stubs [--language python|typescript] [SERVER...]'],
    ['doctor', ['doctor', '--help'], 'codemode-bridge doctor'],
    ['skills', ['help', 'skills'], 'codemode-bridge skills remove NAME [--version N]'],
    ['audit', ['audit', '--help'], 'codemode-bridge audit [--run ID [--pid PID]]'],
  ])("prints %s's own help for %j", (name, args, text) => {
    const { status, stdout } = cli(args);
    expect(status).toBe(0);
    expect(stdout).toContain(text);
    expect(stdout).toContain(`Reference: docs/cli.md#${name}, in the package.`);
    // Not the whole reference: no other command, no variable table.
    expect(stdout).not.toContain('Environment:');
    if (name !== 'run') expect(stdout).not.toContain('codemode-bridge run -e CODE');
  });

  it('refuses an unknown command', () => {
    const { status, stderr } = cli(['frobnicate']);
    expect(status).toBe(2);
    expect(stderr).toContain("unknown command 'frobnicate'");
  });
});

const { skipReason } = containerSupport();

describe.skipIf(skipReason)(`codemode-bridge run${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('runs code from -e and exits 0', () => {
    expect(cli(['run', '-e', 'print(6*7)'])).toMatchObject({ status: 0, stdout: '42\n' });
  });

  it('runs code from stdin and prints JSON with --json', () => {
    const { status, stdout } = cli(['run', '--json', '-'], { input: 'print("from stdin")' });
    expect(status).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'ok', stdout: 'from stdin\n' });
  });

  it('exits 1 with the traceback when the program fails', () => {
    const { status, stdout } = cli(['run', '-e', 'raise ValueError("nope")']);
    expect(status).toBe(1);
    expect(stdout).toContain('ValueError: nope');
  });

  it('refuses a second program rather than ignoring it', () => {
    expect(cli(['run', 'a.py', 'b.py'])).toMatchObject({ status: 2 });
    const { status, stderr } = cli(['run', '-e', 'print(1)', 'extra.py']);
    expect(status).toBe(2);
    expect(stderr).toContain('run takes one program: -e CODE, not also extra.py');
  });

  it('explains a missing argument', () => {
    const { status, stderr } = cli(['run']);
    expect(status).toBe(2);
    expect(stderr).toContain('run needs code');
  });
});

describe('codemode-bridge servers', () => {
  let home: TestHome;
  let http: Awaited<ReturnType<typeof startHttpEverything>> | undefined;

  beforeAll(async () => {
    home = createTestHome();
    http = await startHttpEverything();
    home.write('.claude.json', {
      mcpServers: { memory: { command: process.execPath, args: [serverEntry('server-memory')] } },
      projects: {
        [home.project]: {
          // A literal ${VAR} for the bridge to expand, not a template.
          // biome-ignore lint/suspicious/noTemplateCurlyInString: config text under test
          mcpServers: { 'project-only': { command: process.execPath, args: ['${SERVER_SCRIPT}'] } },
        },
      },
    });
    // Later sources cannot override a name defined earlier.
    home.write('.cursor/mcp.json', {
      mcpServers: { memory: { command: 'not-this-one' }, 'remote.everything': { url: http.url } },
    });
    home.write(
      '.vscode/mcp.json',
      { servers: { broken: { type: 'stdio', command: '/nonexistent/server' } } },
      'project',
    );
    home.write(
      '.codex/config.toml',
      `[mcp_servers.codex-memory]\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(serverEntry('server-memory'))}]\n`,
    );
    home.write('.mcp.json', '{ not json', 'project');
  });
  afterAll(() => {
    http?.stop();
    home?.cleanup();
  });

  const env = () => ({
    HOME: home.home,
    SERVER_SCRIPT: serverEntry('server-everything'),
    MCP_BRIDGE_LOG_LEVEL: 'warn',
  });

  it('lists every discovered server with alias, transport and source, first definition winning', () => {
    const { status, stdout, stderr } = cli(['servers'], { env: env(), cwd: home.project });
    expect(status).toBe(0);
    const names = [...stdout.matchAll(/^(\S+) \(mcp_(\w+)\)\s+(\w+)/gm)].map(
      (m) => `${m[1]}:${m[2]}:${m[3]}`,
    );
    expect(names).toEqual([
      'project-only:project_only:stdio',
      'memory:memory:stdio',
      'remote.everything:remote_everything:http',
      'broken:broken:stdio',
      'codex-memory:codex_memory:stdio',
    ]);
    expect(stdout).toContain(`from ${home.home}/.claude.json`);
    expect(stdout).toContain(serverEntry('server-everything'));
    expect(stdout).not.toContain('not-this-one');
    expect(stderr).toMatch(/WARN .*\.mcp\.json/);
  });

  it('connects with --check and shows tool counts or the connection error', () => {
    const { status, stdout } = cli(['servers', '--check', '--json'], { env: env(), cwd: home.project });
    expect(status).toBe(1);
    const { servers } = JSON.parse(stdout) as {
      servers: Array<{ name: string; tools?: number; error?: string }>;
    };
    const byName = Object.fromEntries(servers.map((server) => [server.name, server]));
    expect(byName.memory?.tools).toBe(9);
    expect(byName['codex-memory']?.tools).toBe(9);
    expect(byName['project-only']?.tools).toBeGreaterThan(5);
    expect(byName['remote.everything']?.tools).toBeGreaterThan(5);
    expect(byName.broken?.error).toMatch(/Could not connect to MCP server 'broken'.*\/nonexistent\/server/);
  });

  it('says where it looked when nothing is configured', () => {
    const empty = createTestHome();
    try {
      const { status, stdout } = cli(['servers'], { env: { HOME: empty.home }, cwd: empty.project });
      expect(status).toBe(0);
      expect(stdout).toContain('No MCP servers found');
    } finally {
      empty.cleanup();
    }
  });
});

describe('codemode-bridge audit', () => {
  it('tells the bridges apart: run ids start again with each one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'codemode-audit-cli-'));
    try {
      const file = join(dir, 'audit.jsonl');
      const record = (pid: number, tool: string) =>
        JSON.stringify({
          time: '2026-12-02T08:00:00.000Z',
          pid,
          run: 'run-1',
          server: 'fs',
          tool,
          outcome: 'ok',
          args: { sha256: '0'.repeat(64), bytes: 2 },
          ms: 1,
        });
      writeFileSync(file, `${record(101, 'read_file')}\n${record(202, 'write_file')}\n`);
      const both = cli(['audit', '--file', file, '--run', 'run-1']);
      expect(both.status).toBe(0);
      expect(both.stdout).toContain('[101] run-1 fs.read_file');
      expect(both.stdout).toContain('[202] run-1 fs.write_file');
      expect(both.stderr).toContain('run-1 names runs of 2 bridge processes (pids 101, 202)');
      const one = cli(['audit', '--file', file, '--run', 'run-1', '--pid', '202']);
      expect(one.stdout.trim().split('\n')).toHaveLength(1);
      expect(one.stdout).toContain('[202] run-1 fs.write_file');
      expect(one.stderr).toBe('');
      expect(cli(['audit', '--file', file, '--pid', 'x'])).toMatchObject({ status: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
