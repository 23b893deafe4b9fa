import { describe, expect, it } from 'vitest';
import { configSources } from '../../../src/upstream/config/sources.js';

const rows = (sources: ReturnType<typeof configSources>): string[] =>
  sources.map(
    (s) =>
      `${s.path} ${s.format}${s.glob ? ' glob' : ''}${s.allowBareMap ? ' bare' : ''}${s.explicit ? ` explicit:${s.explicit}` : ''}`,
  );

describe('configSources', () => {
  it('lists the Linux sources in precedence order', () => {
    expect(rows(configSources({ home: '/home/u', cwd: '/proj', platform: 'linux', env: {} }))).toEqual([
      '/home/u/MCPs mcpServers glob bare',
      '/home/u/.claude.json claude-json',
      '/home/u/.claude/settings.json mcpServers',
      '/home/u/.config/Claude/claude_desktop_config.json mcpServers',
      '/home/u/.config/mcp/servers mcpServers glob bare',
      '/proj/claude_code_config.json mcpServers',
      '/proj/claude_desktop_config.json mcpServers',
      '/proj/mcp-servers mcpServers glob bare',
      '/proj/.mcp.json mcpServers',
      '/home/u/.cursor/mcp.json mcpServers',
      '/proj/.cursor/mcp.json mcpServers',
      '/proj/.vscode/mcp.json vscode',
      '/home/u/.codeium/windsurf/mcp_config.json windsurf',
      '/home/u/.gemini/settings.json gemini',
      '/proj/.gemini/settings.json gemini',
      '/home/u/.codex/config.toml codex-toml',
    ]);
  });

  it('uses the macOS Application Support locations, including the seed bridge ones', () => {
    const sources = rows(configSources({ home: '/Users/u', cwd: '/proj', platform: 'darwin', env: {} }));
    const support = '/Users/u/Library/Application Support';
    expect(sources.slice(0, 9)).toEqual([
      '/Users/u/MCPs mcpServers glob bare',
      '/Users/u/.claude.json claude-json',
      '/Users/u/.claude/settings.json mcpServers',
      `${support}/Claude Code/claude_code_config.json mcpServers`,
      `${support}/Claude/claude_code_config.json mcpServers`,
      `${support}/Claude/claude_desktop_config.json mcpServers`,
      '/Users/u/.config/mcp/servers mcpServers glob bare',
      `${support}/Claude Code/mcp/servers mcpServers glob bare`,
      `${support}/Claude/mcp/servers mcpServers glob bare`,
    ]);
    expect(sources.at(-1)).toBe('/Users/u/.codex/config.toml codex-toml');
  });

  it('uses %APPDATA% on Windows and ; between MCP_BRIDGE_CONFIG entries', () => {
    const sources = configSources({
      home: 'C:\\Users\\u',
      cwd: 'C:\\proj',
      platform: 'win32',
      env: { APPDATA: 'D:\\Roaming', MCP_BRIDGE_CONFIG: 'a.json;C:\\cfg\\b.toml' },
    });
    expect(sources.find((s) => s.path.endsWith('claude_desktop_config.json'))?.path).toBe(
      'D:\\Roaming\\Claude\\claude_desktop_config.json',
    );
    expect(sources.find((s) => s.format === 'vscode')?.path).toBe('C:\\proj\\.vscode\\mcp.json');
    expect(sources.find((s) => s.glob)?.path).toBe('C:\\Users\\u\\MCPs');
    expect(rows(sources.filter((s) => s.explicit))).toEqual([
      'C:\\proj\\a.json mcpServers bare explicit:MCP_BRIDGE_CONFIG',
      'C:\\cfg\\b.toml codex-toml bare explicit:MCP_BRIDGE_CONFIG',
    ]);
  });

  it('falls back to ~/AppData/Roaming on Windows without APPDATA', () => {
    const sources = configSources({ home: 'C:\\Users\\u', cwd: 'C:\\proj', platform: 'win32', env: {} });
    expect(sources[3]?.path).toBe('C:\\Users\\u\\AppData\\Roaming\\Claude\\claude_desktop_config.json');
  });

  it('honours XDG_CONFIG_HOME and CODEX_HOME', () => {
    const sources = configSources({
      home: '/home/u',
      cwd: '/proj',
      platform: 'linux',
      env: { XDG_CONFIG_HOME: '/xdg', CODEX_HOME: '/codex' },
    });
    const paths = sources.map((s) => s.path);
    expect(paths).toContain('/xdg/Claude/claude_desktop_config.json');
    expect(paths).toContain('/xdg/mcp/servers');
    expect(paths.at(-1)).toBe('/codex/config.toml');
  });

  it('puts MCP_BRIDGE_CONFIG files first, resolved against cwd or ~, format by extension', () => {
    const sources = configSources({
      home: '/home/u',
      cwd: '/proj',
      platform: 'linux',
      env: { MCP_BRIDGE_CONFIG: ' extra.json::/etc/mcp/codex.TOML:~/mine.json:' },
    });
    expect(rows(sources.slice(0, 4))).toEqual([
      '/proj/extra.json mcpServers bare explicit:MCP_BRIDGE_CONFIG',
      '/etc/mcp/codex.TOML codex-toml bare explicit:MCP_BRIDGE_CONFIG',
      '/home/u/mine.json mcpServers bare explicit:MCP_BRIDGE_CONFIG',
      '/home/u/MCPs mcpServers glob bare',
    ]);
  });

  it("reads the reference bridge's ~/MCPs/*.json, then its MCP_SERVERS_CONFIG file, before client configs", () => {
    const at = (value: string) =>
      rows(
        configSources({
          home: '/home/u',
          cwd: '/proj',
          platform: 'linux',
          env: { MCP_BRIDGE_CONFIG: '/b.json', MCP_SERVERS_CONFIG: value },
        }).slice(0, 4),
      );
    expect(at('/etc/mcp.json')).toEqual([
      '/b.json mcpServers bare explicit:MCP_BRIDGE_CONFIG',
      '/home/u/MCPs mcpServers glob bare',
      '/etc/mcp.json mcpServers bare explicit:MCP_SERVERS_CONFIG',
      '/home/u/.claude.json claude-json',
    ]);
    // One path, as the reference bridge reads it (no list): a ':' is part of the name.
    expect(at(' servers:more.json ')[2]).toBe(
      '/proj/servers:more.json mcpServers bare explicit:MCP_SERVERS_CONFIG',
    );
    expect(at('~/cfg/servers.toml')[2]).toBe(
      '/home/u/cfg/servers.toml codex-toml bare explicit:MCP_SERVERS_CONFIG',
    );
    expect(at('  ')[2]).toBe('/home/u/.claude.json claude-json');
  });

  it('normalises cwd', () => {
    const sources = configSources({ home: '/home/u', cwd: '/a/b/../proj', platform: 'linux', env: {} });
    expect(sources.find((s) => s.path.endsWith('.mcp.json'))?.path).toBe('/a/proj/.mcp.json');
  });
});
