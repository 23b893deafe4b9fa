// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config text are the subject under test.
import { describe, expect, it } from 'vitest';
import { type ParseConfigOptions, parseConfigText } from '../../../src/upstream/config/parse.js';

const SRC = '/cfg/file.json';
const CWD = '/work/project';

function parse(doc: unknown, format: ParseConfigOptions['format'], extra: Partial<ParseConfigOptions> = {}) {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
  return parseConfigText(text, { format, source: SRC, cwd: CWD, ...extra });
}

const stdio = (name: string, command: string, more: object = {}) => ({
  name,
  source: SRC,
  transport: 'stdio',
  command,
  args: [],
  env: {},
  ...more,
});
const remote = (name: string, transport: string, url: string, headers: object = {}) => ({
  name,
  source: SRC,
  transport,
  url,
  headers,
});

describe('parseConfigText: formats', () => {
  it.each([
    {
      title: 'mcpServers: stdio with args, env, cwd',
      format: 'mcpServers' as const,
      doc: { mcpServers: { fs: { command: 'npx', args: ['-y', 'srv'], env: { A: 'b' }, cwd: '/tmp' } } },
      expected: [stdio('fs', 'npx', { args: ['-y', 'srv'], env: { A: 'b' }, cwd: '/tmp' })],
    },
    {
      title: 'mcpServers: remote with explicit types and headers',
      format: 'mcpServers' as const,
      doc: {
        mcpServers: {
          a: { type: 'http', url: 'https://a.example/mcp', headers: { Authorization: 'Bearer x' } },
          b: { type: 'sse', url: 'http://b.example/sse' },
          c: { type: 'streamable-http', url: 'https://c.example/' },
          d: { transport: 'streamableHttp', url: 'https://d.example/' },
          e: { url: 'https://e.example/' },
        },
      },
      expected: [
        remote('a', 'http', 'https://a.example/mcp', { Authorization: 'Bearer x' }),
        remote('b', 'sse', 'http://b.example/sse'),
        remote('c', 'http', 'https://c.example/'),
        remote('d', 'http', 'https://d.example/'),
        remote('e', 'http', 'https://e.example/'),
      ],
    },
    {
      title: 'mcpServers: also accepts the VS Code servers key',
      format: 'mcpServers' as const,
      doc: { servers: { x: { command: 'x' } } },
      expected: [stdio('x', 'x')],
    },
    {
      title: 'mcpServers: coerces numbers and booleans in args and env',
      format: 'mcpServers' as const,
      doc: { mcpServers: { x: { command: 'x', args: ['--port', 8080], env: { DEBUG: true, N: 3 } } } },
      expected: [stdio('x', 'x', { args: ['--port', '8080'], env: { DEBUG: 'true', N: '3' } })],
    },
    {
      title: 'mcpServers: explicit stdio type; null fields count as absent',
      format: 'mcpServers' as const,
      doc: { mcpServers: { x: { type: 'stdio', command: 'x', args: null, env: null } } },
      expected: [stdio('x', 'x')],
    },
    {
      title: 'vscode: servers key with a type field',
      format: 'vscode' as const,
      doc: {
        inputs: [],
        servers: {
          gh: { type: 'http', url: 'https://api.example/mcp' },
          py: { type: 'stdio', command: 'uv' },
        },
      },
      expected: [remote('gh', 'http', 'https://api.example/mcp'), stdio('py', 'uv')],
    },
    {
      title: 'vscode: also accepts mcpServers',
      format: 'vscode' as const,
      doc: { mcpServers: { x: { command: 'x' } } },
      expected: [stdio('x', 'x')],
    },
    {
      title: 'claude-json: project servers for cwd first, then top-level',
      format: 'claude-json' as const,
      doc: {
        numStartups: 3,
        mcpServers: { user: { type: 'stdio', command: 'u', args: [], env: {} } },
        projects: {
          '/elsewhere': { mcpServers: { other: { command: 'o' } } },
          [CWD]: { allowedTools: [], mcpServers: { local: { command: 'l' } } },
        },
      },
      expected: [stdio('local', 'l'), stdio('user', 'u')],
    },
    {
      title: 'claude-json: project key with a trailing slash still matches',
      format: 'claude-json' as const,
      doc: { projects: { [`${CWD}/`]: { mcpServers: { local: { command: 'l' } } } } },
      expected: [stdio('local', 'l')],
    },
    {
      title: 'claude-json: no servers at all is fine',
      format: 'claude-json' as const,
      doc: { numStartups: 1, projects: { [CWD]: { history: [] } } },
      expected: [],
    },
    {
      title: 'gemini: httpUrl is Streamable HTTP, url is SSE, command is stdio',
      format: 'gemini' as const,
      doc: {
        theme: 'Dracula',
        mcpServers: {
          h: { httpUrl: 'https://h.example/mcp', headers: { K: 'v' }, timeout: 5000 },
          s: { url: 'https://s.example/sse' },
          t: { url: 'https://t.example/mcp', type: 'http' },
          c: { command: 'python', args: ['-m', 'srv'], cwd: './srv', trust: false },
        },
      },
      expected: [
        remote('h', 'http', 'https://h.example/mcp', { K: 'v' }),
        remote('s', 'sse', 'https://s.example/sse'),
        remote('t', 'http', 'https://t.example/mcp'),
        stdio('c', 'python', { args: ['-m', 'srv'], cwd: './srv' }),
      ],
    },
    {
      title: 'gemini: settings without mcpServers',
      format: 'gemini' as const,
      doc: { theme: 'Dracula' },
      expected: [],
    },
    {
      title: 'windsurf: serverUrl for remote servers',
      format: 'windsurf' as const,
      doc: {
        mcpServers: {
          r: { serverUrl: 'https://r.example/mcp', headers: { A: 'b' } },
          u: { url: 'https://u.example/mcp' },
          l: { command: 'npx', args: ['x'], disabled: false },
        },
      },
      expected: [
        remote('r', 'http', 'https://r.example/mcp', { A: 'b' }),
        remote('u', 'http', 'https://u.example/mcp'),
        stdio('l', 'npx', { args: ['x'] }),
      ],
    },
  ])('$title', ({ format, doc, expected }) => {
    const result = parse(doc, format);
    expect(result.warnings).toEqual([]);
    expect(result.servers).toEqual(expected);
  });

  it('codex-toml: stdio tables with env and cwd', () => {
    const toml = [
      'model = "o3"',
      '[mcp_servers.docs]',
      'command = "npx"',
      'args = ["-y", "docs-mcp"]',
      'cwd = "/srv"',
      '[mcp_servers.docs.env]',
      'TOKEN = "abc"',
      'PORT = 8080',
    ].join('\n');
    const result = parseConfigText(toml, { format: 'codex-toml', source: SRC, cwd: CWD });
    expect(result.warnings).toEqual([]);
    expect(result.servers).toEqual([
      stdio('docs', 'npx', { args: ['-y', 'docs-mcp'], env: { TOKEN: 'abc', PORT: '8080' }, cwd: '/srv' }),
    ]);
  });

  it('codex-toml: remote tables turn env-named secrets into ${VAR} placeholders', () => {
    const toml = [
      '[mcp_servers.api]',
      'url = "https://api.example/mcp"',
      'bearer_token_env_var = "API_TOKEN"',
      'http_headers = { "X-Client" = "bridge" }',
      'env_http_headers = { "X-Org" = "ORG_ID" }',
      '[mcp_servers.plain]',
      'url = "https://plain.example/mcp"',
    ].join('\n');
    const result = parseConfigText(toml, { format: 'codex-toml', source: SRC, cwd: CWD });
    expect(result.warnings).toEqual([]);
    expect(result.servers).toEqual([
      remote('api', 'http', 'https://api.example/mcp', {
        'X-Client': 'bridge',
        'X-Org': '${ORG_ID}',
        Authorization: 'Bearer ${API_TOKEN}',
      }),
      remote('plain', 'http', 'https://plain.example/mcp'),
    ]);
  });

  it('codex-toml: a file without mcp_servers has no servers', () => {
    const result = parseConfigText('model = "o3"\n', { format: 'codex-toml', source: SRC, cwd: CWD });
    expect(result).toEqual({ servers: [], warnings: [], skipped: [] });
  });
});

describe('parseConfigText: bare maps', () => {
  const bare = { a: { command: 'a' }, b: { url: 'https://b.example/' } };

  it('accepts a bare name→entry map when allowed', () => {
    const result = parse(bare, 'mcpServers', { allowBareMap: true });
    expect(result.warnings).toEqual([]);
    expect(result.servers.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('still prefers the mcpServers key when allowed', () => {
    const result = parse({ mcpServers: { a: { command: 'a' } } }, 'mcpServers', { allowBareMap: true });
    expect(result.servers.map((s) => s.name)).toEqual(['a']);
  });

  it('ignores a bare map when not allowed', () => {
    expect(parse(bare, 'mcpServers')).toEqual({ servers: [], warnings: [], skipped: [] });
  });
});

describe('parseConfigText: malformed files never throw', () => {
  it.each([
    ['bad JSON', '{"mcpServers": {', 'mcpServers', /^Cannot parse \/cfg\/file\.json as JSON: /],
    [
      'top-level array',
      '[1, 2]',
      'mcpServers',
      /\/cfg\/file\.json: expected an object at the top level, got an array/,
    ],
    [
      'top-level string',
      '"hi"',
      'vscode',
      /\/cfg\/file\.json: expected an object at the top level, got a string/,
    ],
    [
      'mcpServers not an object',
      '{"mcpServers": []}',
      'mcpServers',
      /\/cfg\/file\.json: "mcpServers" must be an object/,
    ],
    [
      'servers not an object',
      '{"servers": 3}',
      'vscode',
      /\/cfg\/file\.json: "servers" must be an object.*got a number/,
    ],
    [
      'project mcpServers not an object',
      JSON.stringify({ projects: { [CWD]: { mcpServers: 'x' } } }),
      'claude-json',
      /projects\["\/work\/project"\]\.mcpServers must be an object/,
    ],
    [
      'bad TOML',
      '[mcp_servers.a\ncommand = "x"',
      'codex-toml',
      /^Cannot parse \/cfg\/file\.json as TOML: .*\(line \d+, column \d+\)$/,
    ],
    ['mcp_servers not a table', 'mcp_servers = 3', 'codex-toml', /"mcp_servers" must be an object/],
  ] as const)('%s', (_title, text, format, message) => {
    const result = parseConfigText(text, { format, source: SRC, cwd: CWD });
    expect(result.servers).toEqual([]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]?.source).toBe(SRC);
    expect(result.warnings[0]?.message).toMatch(message);
  });

  it('accepts JSON with comments and trailing commas (VS Code style)', () => {
    const text = `{
      // my servers
      "servers": {
        "a": { "command": "a", /* inline */ "args": ["//not-a-comment",], },
      },
    }`;
    const result = parseConfigText(text, { format: 'vscode', source: SRC, cwd: CWD });
    expect(result.warnings).toEqual([]);
    expect(result.servers).toEqual([stdio('a', 'a', { args: ['//not-a-comment'] })]);
  });

  it('treats an empty file as an empty config, and strips a BOM', () => {
    expect(parseConfigText('  \n', { format: 'mcpServers', source: SRC, cwd: CWD })).toEqual({
      servers: [],
      warnings: [],
      skipped: [],
    });
    const bom = `\uFEFF${JSON.stringify({ mcpServers: { a: { command: 'a' } } })}`;
    expect(parseConfigText(bom, { format: 'mcpServers', source: SRC, cwd: CWD }).servers).toHaveLength(1);
  });
});

describe('parseConfigText: bad entries are skipped one by one', () => {
  it.each([
    ['not an object', 'oops', /expected an object, got a string/],
    ['null', null, /expected an object, got null/],
    ['neither command nor url', { args: ['x'] }, /needs either "command" .* or "url"/],
    ['empty command', { command: '  ' }, /command must be a non-empty string/],
    ['command not a string', { command: ['npx'] }, /command: expected a string/],
    ['args not an array', { command: 'x', args: '-y' }, /args: expected an array of strings/],
    [
      'args with an object',
      { command: 'x', args: ['ok', { a: 1 }] },
      /args\.1: expected a string, number or boolean/,
    ],
    ['env not an object', { command: 'x', env: ['A=b'] }, /env: expected an object of strings/],
    [
      'env value an object',
      { command: 'x', env: { A: { b: 1 } } },
      /env\.A: expected a string, number or boolean/,
    ],
    ['unknown type', { type: 'websocket', url: 'wss://x' }, /unknown type "websocket"/],
    ['http without url', { type: 'http', command: 'x' }, /type "http" needs a "url"/],
    [
      'stdio without command',
      { type: 'stdio', url: 'https://x.example' },
      /command must be a non-empty string/,
    ],
    ['url not a URL', { url: 'not a url' }, /url "not a url" is not a valid URL/],
    ['url not http', { url: 'ftp://x.example/' }, /must use http: or https:, not ftp:/],
    [
      'headers with a null',
      { url: 'https://x.example', headers: { A: null } },
      /headers\.A: expected a string/,
    ],
  ])('%s', (_title, entry, message) => {
    const result = parse({ mcpServers: { bad: entry, good: { command: 'ok' } } }, 'mcpServers');
    expect(result.servers).toEqual([stdio('good', 'ok')]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]?.message).toMatch(/^Skipping server "bad" in \/cfg\/file\.json: /);
    expect(result.warnings[0]?.message).toMatch(message);
  });

  it('rejects an empty server name', () => {
    const result = parse({ mcpServers: { '': { command: 'x' } } }, 'mcpServers');
    expect(result.servers).toEqual([]);
    expect(result.warnings[0]?.message).toMatch(/a server with an empty name/);
  });

  it('leaves URLs built from variables to be checked after expansion', () => {
    const result = parse({ mcpServers: { v: { url: '${MCP_URL}' } } }, 'mcpServers');
    expect(result.warnings).toEqual([]);
    expect(result.servers).toEqual([remote('v', 'http', '${MCP_URL}')]);
  });

  it('reports a bad codex secret variable name', () => {
    const toml = '[mcp_servers.api]\nurl = "https://x.example"\nbearer_token_env_var = "not valid"\n';
    const result = parseConfigText(toml, { format: 'codex-toml', source: SRC, cwd: CWD });
    expect(result.servers).toEqual([]);
    expect(result.warnings[0]?.message).toMatch(
      /server "api".*bearer_token_env_var: expected an environment variable name/,
    );
  });
});

describe('parseConfigText: disabled entries', () => {
  it('skips disabled: true and enabled: false without a warning', () => {
    const result = parse(
      {
        mcpServers: {
          off: { command: 'x', disabled: true },
          no: { command: 'x', enabled: false },
          bad: { disabled: true },
          on: { command: 'x', enabled: true, disabled: false },
        },
      },
      'mcpServers',
    );
    expect(result.warnings).toEqual([]);
    expect(result.servers.map((s) => s.name)).toEqual(['on']);
    expect(result.skipped).toEqual([
      { name: 'off', source: SRC, reason: 'disabled', detail: '"disabled": true' },
      { name: 'no', source: SRC, reason: 'disabled', detail: '"enabled": false' },
      { name: 'bad', source: SRC, reason: 'disabled', detail: '"disabled": true' },
    ]);
  });

  it('skips codex tables with enabled = false', () => {
    const toml = '[mcp_servers.a]\ncommand = "a"\nenabled = false\n[mcp_servers.b]\ncommand = "b"\n';
    const result = parseConfigText(toml, { format: 'codex-toml', source: SRC, cwd: CWD });
    expect(result.servers.map((s) => s.name)).toEqual(['b']);
    expect(result.skipped.map((s) => s.name)).toEqual(['a']);
  });

  it('honours Gemini mcp.excluded and mcp.allowed', () => {
    const servers = { a: { command: 'a' }, b: { command: 'b' }, c: { command: 'c' } };
    const excluded = parse({ mcp: { excluded: ['b'] }, mcpServers: servers }, 'gemini');
    expect(excluded.servers.map((s) => s.name)).toEqual(['a', 'c']);
    expect(excluded.skipped).toEqual([
      { name: 'b', source: SRC, reason: 'disabled', detail: 'listed in mcp.excluded' },
    ]);
    const allowed = parse({ mcp: { allowed: ['a', 'c'], excluded: ['c'] }, mcpServers: servers }, 'gemini');
    expect(allowed.servers.map((s) => s.name)).toEqual(['a']);
    expect(allowed.skipped.map((s) => `${s.name}: ${s.detail}`)).toEqual([
      'b: not listed in mcp.allowed',
      'c: listed in mcp.excluded',
    ]);
  });
});
