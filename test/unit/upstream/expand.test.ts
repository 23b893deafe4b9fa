// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config text are the subject under test.
import { describe, expect, it } from 'vitest';
import { expandServer, expandString } from '../../../src/upstream/config/expand.js';
import type { UpstreamServerConfig } from '../../../src/upstream/config/types.js';

const VARS = { HOME: '/home/u', TOKEN: 'secret', EMPTY: '', HOST: 'api.example' };

describe('expandString', () => {
  it.each([
    ['${HOME}/bin', '/home/u/bin', [], ['/home/u']],
    ['${env:TOKEN}', 'secret', [], ['secret']],
    ['a-${TOKEN}-${TOKEN}-b', 'a-secret-secret-b', [], ['secret']],
    ['${TOKEN}@${HOST}', 'secret@api.example', [], ['secret', 'api.example']],
    ['${NOPE:-fallback}', 'fallback', [], []],
    ['${TOKEN:-fallback}', 'secret', [], ['secret']],
    ['${EMPTY:-fallback}', 'fallback', [], []],
    ['${NOPE:-}', '', [], []],
    ['${NOPE:-a b/c}', 'a b/c', [], []],
    ['${EMPTY}', '', [], []],
    ['${NOPE}', '', ['NOPE'], []],
    ['${NOPE}${NOPE}${ALSO}', '', ['NOPE', 'ALSO'], []],
    ['$HOME stays', '$HOME stays', [], []],
    ['$$ stays', '$$ stays', [], []],
    ['${input:token} stays', '${input:token} stays', [], []],
    ['${1BAD} stays', '${1BAD} stays', [], []],
    ['${UNCLOSED', '${UNCLOSED', [], []],
    ['$${HOME}', '$/home/u', [], ['/home/u']],
    ['no vars', 'no vars', [], []],
  ])('%j → %j', (text, value, missing, substituted) => {
    expect(expandString(text, VARS)).toEqual({ value, missing, substituted });
  });
});

describe('expandServer', () => {
  const source = '/p/.mcp.json';

  it('expands command, args, env values, cwd — not keys', () => {
    const server: UpstreamServerConfig = {
      name: 's',
      source,
      transport: 'stdio',
      command: '${HOME}/bin/srv',
      args: ['--token', '${TOKEN}', '${NOPE:-d}'],
      env: { API_KEY: '${TOKEN}', '${TOKEN}': 'k' },
      cwd: '${HOME}/work',
    };
    expect(expandServer(server, VARS)).toEqual({
      server: {
        ...server,
        command: '/home/u/bin/srv',
        args: ['--token', 'secret', 'd'],
        env: { API_KEY: 'secret', '${TOKEN}': 'k' },
        cwd: '/home/u/work',
        secrets: ['/home/u', 'secret', 'k'],
      },
      warnings: [],
    });
  });

  it('expands url and header values', () => {
    const server: UpstreamServerConfig = {
      name: 'r',
      source,
      transport: 'http',
      url: 'https://${HOST}/mcp',
      headers: { Authorization: 'Bearer ${TOKEN}' },
    };
    expect(expandServer(server, VARS).server).toEqual({
      ...server,
      url: 'https://api.example/mcp',
      headers: { Authorization: 'Bearer secret' },
      secrets: ['api.example', 'secret', 'Bearer secret'],
    });
  });

  it('records the credentials in a URL, as written and decoded, and literal env and header values', () => {
    const remote: UpstreamServerConfig = {
      name: 'r',
      source,
      transport: 'sse',
      url: 'https://bot:p%40ss%20word@api.example/sse',
      headers: { 'X-Api-Key': 'literal-key' },
    };
    expect(expandServer(remote, VARS).server?.secrets).toEqual([
      'literal-key',
      'bot',
      'p%40ss%20word',
      'p@ss word',
    ]);
    const local: UpstreamServerConfig = {
      name: 'l',
      source,
      transport: 'stdio',
      command: 'srv',
      args: [],
      env: { TOKEN: 'written-in-the-file', EMPTY: '' },
    };
    expect(expandServer(local, VARS).server?.secrets).toEqual(['written-in-the-file']);
  });

  it('scrubs the secrets out of the warning about an invalid expanded URL', () => {
    const server: UpstreamServerConfig = {
      name: 'r',
      source,
      transport: 'http',
      url: 'ftp://${TOKEN}@${HOST}/x',
      headers: {},
    };
    const [warning] = expandServer(server, VARS).warnings;
    expect(warning?.message).toBe(
      'Skipping server "r" in /p/.mcp.json: after variable expansion, url "ftp://[redacted]@[redacted]/x" must use http: or https:, not ftp:.',
    );
  });

  it('warns once per unset variable, naming the server, file and variable', () => {
    const server: UpstreamServerConfig = {
      name: 'gh',
      source,
      transport: 'stdio',
      command: 'gh-mcp',
      args: ['${GH_TOKEN}'],
      env: { TOKEN: '${GH_TOKEN}', OTHER: '${GH_ORG}' },
    };
    const result = expandServer(server, VARS);
    expect(result.server).toMatchObject({ args: [''], env: { TOKEN: '', OTHER: '' } });
    expect(result.warnings.map((w) => w.source)).toEqual([source, source]);
    expect(result.warnings[0]?.message).toMatch(
      /^Server "gh" in \/p\/\.mcp\.json: environment variable GH_TOKEN is not set; it was replaced by an empty string/,
    );
    expect(result.warnings[1]?.message).toMatch(/GH_ORG is not set/);
  });

  it('drops a server whose URL is not valid once expanded', () => {
    const server: UpstreamServerConfig = {
      name: 'r',
      source,
      transport: 'sse',
      url: '${MCP_URL}',
      headers: {},
    };
    const result = expandServer(server, VARS);
    expect(result.server).toBeUndefined();
    expect(result.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/MCP_URL is not set/),
      expect.stringMatching(
        /^Skipping server "r" in \/p\/\.mcp\.json: after variable expansion, url "" is not a valid URL\.$/,
      ),
    ]);
  });

  it('drops a server whose command expands to nothing, and omits an empty cwd', () => {
    const base = { name: 'c', source, transport: 'stdio' as const, args: [], env: {} };
    expect(expandServer({ ...base, command: '${EMPTY}' }, VARS).server).toBeUndefined();
    const kept = expandServer({ ...base, command: 'x', cwd: '${EMPTY}' }, VARS).server;
    expect(kept).toEqual({ ...base, command: 'x', secrets: [] });
  });
});
