// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config text are the subject under test.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type DiscoverServersOptions,
  discoverServers,
  shadowedServers,
} from '../../../src/upstream/config/discover.js';

let root: string;
let home: string;
let cwd: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'cmb-discover-'));
  home = path.join(root, 'home');
  cwd = path.join(root, 'proj');
  await mkdir(home);
  await mkdir(cwd);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function write(file: string, content: unknown): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

function discover(extra: Partial<DiscoverServersOptions> = {}) {
  return discoverServers({ home, cwd, env: {}, platform: 'linux', ...extra });
}

describe('discoverServers', () => {
  it('finds nothing, and warns about nothing, when no config exists', async () => {
    const result = await discover();
    expect(result.servers).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.filesRead).toEqual([]);
    expect(result.skipped).toEqual([]);
    expect(result.missing).toContain(path.join(home, '.claude.json'));
    expect(result.missing).toContain(path.join(home, '.config', 'mcp', 'servers'));
    expect(result.missing).toContain(path.join(cwd, '.mcp.json'));
  });

  it('lets the first definition of a name win, across every kind of source', async () => {
    const claude = await write(path.join(home, '.claude.json'), {
      mcpServers: { shared: { command: 'from-claude-json' }, user: { command: 'u' } },
      projects: { [cwd]: { mcpServers: { user: { command: 'project-scoped' } } } },
    });
    const mcp = await write(path.join(cwd, '.mcp.json'), {
      mcpServers: { shared: { command: 'from-mcp-json' }, project: { command: 'p' } },
    });
    await write(path.join(home, '.cursor', 'mcp.json'), {
      mcpServers: { cursor: { url: 'https://c.example/' } },
    });
    await write(path.join(cwd, '.vscode', 'mcp.json'), { servers: { project: { command: 'from-vscode' } } });
    await write(path.join(home, '.codeium', 'windsurf', 'mcp_config.json'), {
      mcpServers: { wind: { serverUrl: 'https://w.example/mcp' } },
    });
    await write(path.join(home, '.gemini', 'settings.json'), {
      mcpServers: { gem: { httpUrl: 'https://g.example/mcp' } },
    });
    await write(path.join(home, '.codex', 'config.toml'), '[mcp_servers.codex]\ncommand = "cx"\n');

    const result = await discover();
    expect(result.warnings).toEqual([]);
    expect(result.servers.map((s) => [s.name, s.transport === 'stdio' ? s.command : s.url])).toEqual([
      ['user', 'project-scoped'],
      ['shared', 'from-claude-json'],
      ['project', 'p'],
      ['cursor', 'https://c.example/'],
      ['wind', 'https://w.example/mcp'],
      ['gem', 'https://g.example/mcp'],
      ['codex', 'cx'],
    ]);
    expect(result.servers.find((s) => s.name === 'shared')?.source).toBe(claude);
    expect(result.skipped).toEqual([
      { name: 'user', source: claude, reason: 'duplicate', detail: `already defined in ${claude}` },
      { name: 'shared', source: mcp, reason: 'duplicate', detail: `already defined in ${claude}` },
      {
        name: 'project',
        source: path.join(cwd, '.vscode', 'mcp.json'),
        reason: 'duplicate',
        detail: `already defined in ${mcp}`,
      },
    ]);
    // What `servers` and the start-up log report: each name once, with what it hides.
    expect(shadowedServers(result)).toEqual([
      { name: 'user', source: claude, shadowed: [claude] },
      { name: 'shared', source: claude, shadowed: [mcp] },
      { name: 'project', source: mcp, shadowed: [path.join(cwd, '.vscode', 'mcp.json')] },
    ]);
    expect(result.filesRead).toEqual([
      claude,
      mcp,
      path.join(home, '.cursor', 'mcp.json'),
      path.join(cwd, '.vscode', 'mcp.json'),
      path.join(home, '.codeium', 'windsurf', 'mcp_config.json'),
      path.join(home, '.gemini', 'settings.json'),
      path.join(home, '.codex', 'config.toml'),
    ]);
  });

  it('reads *.json in server directories in name order, accepting both file shapes', async () => {
    const dir = path.join(home, '.config', 'mcp', 'servers');
    await write(path.join(dir, 'b.json'), {
      mcpServers: { dup: { command: 'from-b' }, b: { command: 'b' } },
    });
    await write(path.join(dir, 'a.json'), { dup: { command: 'from-a' }, a: { command: 'a' } });
    await write(path.join(dir, 'notes.txt'), 'not json');
    await mkdir(path.join(dir, 'sub.json'));
    await write(path.join(cwd, 'mcp-servers', 'local.json'), { mcpServers: { local: { command: 'l' } } });

    const result = await discover();
    expect(result.warnings).toEqual([]);
    expect(result.servers.map((s) => `${s.name}:${s.transport === 'stdio' ? s.command : ''}`)).toEqual([
      'dup:from-a',
      'a:a',
      'b:b',
      'local:l',
    ]);
    expect(result.filesRead).toEqual([
      path.join(dir, 'a.json'),
      path.join(dir, 'b.json'),
      path.join(cwd, 'mcp-servers', 'local.json'),
    ]);
  });

  it('expands ${VAR} and ${VAR:-default} from env, warning about unset variables', async () => {
    const file = await write(path.join(cwd, '.mcp.json'), {
      mcpServers: {
        api: {
          type: 'http',
          url: '${API_URL:-https://default.example/mcp}',
          headers: { Authorization: 'Bearer ${API_TOKEN}' },
        },
        local: { command: 'srv', args: ['--root', '${HOME}/data'], env: { KEY: '${MISSING_KEY}' } },
      },
    });
    const result = await discover({ env: { API_TOKEN: 't0k', HOME: '/h' } });
    expect(result.servers).toEqual([
      {
        name: 'api',
        source: file,
        transport: 'http',
        url: 'https://default.example/mcp',
        headers: { Authorization: 'Bearer t0k' },
        secrets: ['t0k', 'Bearer t0k'],
      },
      {
        name: 'local',
        source: file,
        transport: 'stdio',
        command: 'srv',
        args: ['--root', '/h/data'],
        env: { KEY: '' },
        secrets: ['/h'],
      },
    ]);
    expect(result.warnings).toEqual([
      {
        source: file,
        message: expect.stringMatching(
          /^Server "local" in .*\.mcp\.json: environment variable MISSING_KEY is not set/,
        ),
      },
    ]);
  });

  it('fills in ${workspaceFolder} in VS Code configs', async () => {
    await write(path.join(cwd, '.vscode', 'mcp.json'), {
      servers: { py: { type: 'stdio', command: 'python', args: ['${workspaceFolder}/server.py'] } },
    });
    const result = await discover();
    expect(result.warnings).toEqual([]);
    expect(result.servers[0]).toMatchObject({ args: [`${cwd}/server.py`] });
  });

  it('does not expand (or warn about) entries shadowed by an earlier one', async () => {
    await write(path.join(home, '.claude.json'), { mcpServers: { x: { command: 'x' } } });
    await write(path.join(cwd, '.mcp.json'), { mcpServers: { x: { command: '${NOT_SET}' } } });
    const result = await discover();
    expect(result.warnings).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toEqual(['duplicate']);
  });

  it('warns about malformed JSON and TOML, naming the file, and keeps the other sources', async () => {
    const badJson = await write(path.join(cwd, '.mcp.json'), '{"mcpServers": {"a": ');
    const badToml = await write(path.join(home, '.codex', 'config.toml'), '[mcp_servers.a\ncommand = 1');
    await write(path.join(home, '.cursor', 'mcp.json'), {
      mcpServers: { good: { command: 'g' }, broken: { command: 42 } },
    });
    const result = await discover();
    expect(result.servers.map((s) => s.name)).toEqual(['good']);
    expect(result.warnings.map((w) => [w.source, w.message.split(':')[0]])).toEqual([
      [badJson, `Cannot parse ${badJson} as JSON`],
      [
        path.join(home, '.cursor', 'mcp.json'),
        `Skipping server "broken" in ${path.join(home, '.cursor', 'mcp.json')}`,
      ],
      [badToml, `Cannot parse ${badToml} as TOML`],
    ]);
  });

  it('warns when a config path exists but cannot be read', async () => {
    await mkdir(path.join(cwd, '.mcp.json'));
    const result = await discover();
    expect(result.warnings).toEqual([
      {
        source: path.join(cwd, '.mcp.json'),
        message: expect.stringMatching(/^Cannot read .*\.mcp\.json: .*EISDIR/),
      },
    ]);
  });

  it('skips disabled entries without letting them hide a later definition', async () => {
    const claude = await write(path.join(home, '.claude.json'), {
      mcpServers: { x: { command: 'old', disabled: true } },
    });
    await write(path.join(cwd, '.mcp.json'), { mcpServers: { x: { command: 'new' } } });
    const result = await discover();
    expect(result.servers.map((s) => (s.transport === 'stdio' ? s.command : ''))).toEqual(['new']);
    expect(result.skipped).toEqual([
      { name: 'x', source: claude, reason: 'disabled', detail: '"disabled": true' },
    ]);
    expect(result.warnings).toEqual([]);
  });

  it("drops the bridge's own entry", async () => {
    const selfPath = path.join(root, 'bridge', 'dist', 'cli', 'main.js');
    await write(path.join(home, '.claude.json'), {
      mcpServers: {
        'code-mode': { command: 'npx', args: ['-y', 'codemode-bridge@latest'] },
        codemode: { command: 'anything' },
        mine: { command: 'node', args: [selfPath] },
        real: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'] },
      },
    });
    const result = await discover({ selfPath });
    expect(result.servers.map((s) => s.name)).toEqual(['real']);
    expect(result.skipped.map((s) => `${s.name}:${s.reason}`)).toEqual([
      'code-mode:self',
      'codemode:self',
      'mine:self',
    ]);
    expect(result.warnings).toEqual([]);
  });

  it('reads MCP_BRIDGE_CONFIG files first and warns when one is missing', async () => {
    await write(path.join(cwd, '.mcp.json'), {
      mcpServers: { x: { command: 'from-mcp-json' }, y: { command: 'y' } },
    });
    const toml = await write(
      path.join(root, 'extra', 'servers.toml'),
      '[mcp_servers.t]\nurl = "https://t.example"\n',
    );
    const json = await write(path.join(root, 'extra', 'servers.json'), {
      servers: { x: { command: 'explicit' }, j: { command: 'j' } },
    });
    const gone = path.join(root, 'extra', 'gone.json');
    const result = await discover({ env: { MCP_BRIDGE_CONFIG: [toml, gone, json].join(':') } });
    expect(result.servers.map((s) => `${s.name}:${s.transport === 'stdio' ? s.command : s.url}`)).toEqual([
      't:https://t.example',
      'x:explicit',
      'j:j',
      'y:y',
    ]);
    expect(result.skipped).toEqual([
      {
        name: 'x',
        source: path.join(cwd, '.mcp.json'),
        reason: 'duplicate',
        detail: `already defined in ${json}`,
      },
    ]);
    expect(result.warnings).toEqual([
      {
        source: gone,
        message: expect.stringMatching(/^Cannot read .*gone\.json, named in MCP_BRIDGE_CONFIG: .*ENOENT/),
      },
    ]);
    expect(result.missing).not.toContain(gone);
  });

  it("reads the reference bridge's ~/MCPs/*.json and MCP_SERVERS_CONFIG as it wrote them", async () => {
    // Files exactly as mcp-server-code-execution-mode's README shows them, description keys included.
    const fs = await write(path.join(home, 'MCPs', 'filesystem.json'), {
      description: 'files',
      mcpServers: {
        filesystem: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/tmp'] },
      },
    });
    await write(path.join(home, 'MCPs', 'a-memory.json'), {
      mcpServers: { memory: { command: 'mem', description: 'a knowledge graph', env: { N: 1 } } },
    });
    await write(path.join(home, 'MCPs', 'README.md'), '# not a config');
    const claude = await write(path.join(home, '.claude.json'), {
      mcpServers: { filesystem: { command: 'claude-fs' }, other: { command: 'o' } },
    });
    const envJson = await write(path.join(root, 'env', 'servers.json'), {
      mcpServers: { memory: { command: 'shadowed' }, fromEnv: { command: 'e' } },
    });
    const result = await discover({ env: { MCP_SERVERS_CONFIG: envJson } });
    expect(result.warnings).toEqual([]);
    expect(result.servers.map((s) => `${s.name}:${s.transport === 'stdio' ? s.command : ''}`)).toEqual([
      'memory:mem',
      'filesystem:npx',
      'fromEnv:e',
      'other:o',
    ]);
    expect(result.servers[0]).toMatchObject({ env: { N: '1' } });
    expect(result.skipped.map((s) => `${s.name} ${s.source} ${s.detail}`)).toEqual([
      `memory ${envJson} already defined in ${path.join(home, 'MCPs', 'a-memory.json')}`,
      `filesystem ${claude} already defined in ${fs}`,
    ]);
  });

  it('reads a .toml MCP_SERVERS_CONFIG with [mcpServers.<name>] tables, and names the variable when it is missing', async () => {
    const toml = await write(
      path.join(root, 'servers.toml'),
      '[mcpServers.t]\ncommand = "t"\nargs = ["--x"]\n',
    );
    const found = await discover({ env: { MCP_SERVERS_CONFIG: toml } });
    expect(found.warnings).toEqual([]);
    expect(found.servers).toMatchObject([{ name: 't', command: 't', args: ['--x'] }]);

    const gone = path.join(root, 'nope.json');
    const missing = await discover({ env: { MCP_SERVERS_CONFIG: gone } });
    expect(missing.warnings).toEqual([
      {
        source: gone,
        message: expect.stringMatching(/^Cannot read .*nope\.json, named in MCP_SERVERS_CONFIG: .*ENOENT/),
      },
    ]);
  });
});
