// biome-ignore-all lint/suspicious/noTemplateCurlyInString: a `${VAR}` that must stay unexpanded is the subject.
/** A config entry's `description` (mcp-server-code-execution-mode reads it): parsed, kept unexpanded. */
import { describe, expect, it } from 'vitest';
import { expandServer } from '../../../src/upstream/config/expand.js';
import { parseConfigText } from '../../../src/upstream/config/parse.js';

const options = { format: 'mcpServers' as const, source: '/cfg.json', cwd: '/work' };

describe('server descriptions in config files', () => {
  it("takes an entry's description, else the file's, and ignores one that is not a string", () => {
    const { servers, warnings } = parseConfigText(
      JSON.stringify({
        description: 'From the file',
        mcpServers: {
          own: { command: 'a', description: '  Issue tracker  ' },
          inherits: { command: 'b' },
          odd: { command: 'c', description: 42 },
          remote: { url: 'https://example.test/mcp', description: 'Remote one' },
        },
      }),
      options,
    );
    expect(warnings).toEqual([]);
    expect(Object.fromEntries(servers.map((server) => [server.name, server.description]))).toEqual({
      own: 'Issue tracker',
      inherits: 'From the file',
      odd: 'From the file',
      remote: 'Remote one',
    });
  });

  it('has none when neither the entry nor the file gives one', () => {
    const { servers } = parseConfigText(JSON.stringify({ mcpServers: { s: { command: 'a' } } }), options);
    expect(servers[0]).not.toHaveProperty('description');
  });

  it('keeps the description through variable expansion, unexpanded (no value reaches a sandbox through it)', () => {
    const { servers } = parseConfigText(
      JSON.stringify({ mcpServers: { s: { command: '${BIN}', description: 'uses ${TOKEN}' } } }),
      options,
    );
    const [parsed] = servers;
    if (!parsed) throw new Error('no server parsed');
    const { server } = expandServer(parsed, { BIN: '/bin/s', TOKEN: 'secret' });
    expect(server).toMatchObject({ command: '/bin/s', description: 'uses ${TOKEN}' });
  });
});
