/**
 * The README's client registrations work from any directory, as written: each names the bridge by an
 * absolute path with no working directory of its own, and Claude Code's command registers in the
 * user scope (its default, local scope, belongs to the directory the command ran in, so the server
 * would be missing from every other project).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
const SECTION = README.slice(
  README.indexOf('### Register it with your MCP client'),
  README.indexOf('## First programs'),
);

function blocks(language: string): string[] {
  return [...SECTION.matchAll(new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\``, 'gm'))].map(
    (match) => match[1] ?? '',
  );
}

/** Every `claude mcp add …` in the section, in code blocks and in inline code. */
function claudeCommands(): string[] {
  return [...SECTION.matchAll(/claude mcp add[^`\n]*/g)].map((match) => match[0]);
}

describe('README client registrations', () => {
  it('registers Claude Code in the user scope, every time', () => {
    const commands = claudeCommands();
    expect(commands.length).toBeGreaterThanOrEqual(3);
    for (const command of commands) expect(command).toMatch(/^claude mcp add -s user /);
  });

  it('gives the stdio command an absolute path', () => {
    const [command] = blocks('sh').flatMap((block) =>
      block.split('\n').filter((line) => line.startsWith('claude ')),
    );
    expect(command).toBe('claude mcp add -s user codemode -- node "$PWD/dist/cli/main.js"');
  });

  it('names the bridge by an absolute path, with no working directory, in every JSON and TOML entry', () => {
    const entries = blocks('json').map((block) => {
      const config = JSON.parse(block) as {
        mcpServers?: Record<string, Record<string, unknown>>;
        servers?: Record<string, Record<string, unknown>>;
      };
      return (config.mcpServers ?? config.servers)?.codemode;
    });
    const toml = blocks('toml');
    expect(entries).toHaveLength(2);
    expect(toml).toHaveLength(1);
    for (const entry of entries) {
      expect(entry).toMatchObject({ command: 'node', args: ['/ABS/PATH/codemode-bridge/dist/cli/main.js'] });
      expect(entry).not.toHaveProperty('cwd');
    }
    expect(toml[0]).toContain('args = ["/ABS/PATH/codemode-bridge/dist/cli/main.js"]');
    expect(toml[0]).not.toContain('cwd');
  });
});
