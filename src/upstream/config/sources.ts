/**
 * Where upstream servers may be configured, in precedence order (docs/architecture.md, "Upstream servers").
 * Pure: it builds paths and never checks that they exist.
 */
import path from 'node:path';
import type { ConfigFormat } from './parse.js';

/** One candidate config file, or a directory of them. */
export interface ConfigSource {
  /** Absolute path of the file, or of the directory when `glob` is set. */
  path: string;
  format: ConfigFormat;
  /** `path` is a directory: read every `*.json` file in it, sorted by name. Default `false`. */
  glob?: boolean;
  /** Files may also be a bare `{ name: entry }` map (see `ParseConfigOptions.allowBareMap`). Default `false`. */
  allowBareMap?: boolean;
  /**
   * Named by the user in an environment variable, so a missing file is worth a warning; the value is the
   * variable's name (`MCP_BRIDGE_CONFIG`, `MCP_SERVERS_CONFIG`). Default: not explicit.
   */
  explicit?: string;
}

/** Inputs for {@link configSources}; pass the real values, or fixtures in tests. */
export interface ConfigSourcesOptions {
  /** The user's home directory. */
  home: string;
  /** The project directory (the bridge's working directory). */
  cwd: string;
  platform: NodeJS.Platform;
  /**
   * Read for `MCP_BRIDGE_CONFIG`, `MCP_SERVERS_CONFIG`, `CODEX_HOME`, `XDG_CONFIG_HOME` and (on Windows)
   * `APPDATA`.
   */
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * Lists every place an upstream server may be configured. Earlier sources win when two define the same
 * server name. First come the files written for a bridge rather than for a client: those named in
 * `MCP_BRIDGE_CONFIG`, then the reference bridge's (mcp-server-code-execution-mode) `~/MCPs/*.json` and
 * `MCP_SERVERS_CONFIG`, in its own order, so a config written for it behaves the same here even when a
 * client config reuses a server name. On macOS the Claude app-support locations read by the Python
 * seed bridge are included too, so configs written for it keep working.
 */
export function configSources(options: ConfigSourcesOptions): ConfigSource[] {
  const { home, platform, env } = options;
  const p = platform === 'win32' ? path.win32 : path.posix;
  const cwd = p.resolve(options.cwd);
  const inHome = (...parts: string[]): string => p.join(home, ...parts);
  const inCwd = (...parts: string[]): string => p.join(cwd, ...parts);
  // XDG only on Unix-likes: Windows and macOS apps below use their own locations.
  const xdgConfig = platform !== 'win32' && env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : inHome('.config');
  const macSupport = (...parts: string[]): string => inHome('Library', 'Application Support', ...parts);

  const named = (file: string, variable: string): ConfigSource => {
    const resolved =
      file === '~' || /^~[\\/]/.test(file) ? p.join(home, file.slice(1)) : p.resolve(cwd, file);
    return {
      path: resolved,
      format: /\.toml$/i.test(resolved) ? 'codex-toml' : 'mcpServers',
      allowBareMap: true,
      explicit: variable,
    };
  };
  const serverDir = (dir: string): ConfigSource => ({
    path: dir,
    format: 'mcpServers',
    glob: true,
    allowBareMap: true,
  });

  const sources: ConfigSource[] = splitPathList(env.MCP_BRIDGE_CONFIG, platform).map((file) =>
    named(file, 'MCP_BRIDGE_CONFIG'),
  );
  // The reference bridge reads exactly these two, the directory first; its variable names one file.
  sources.push(serverDir(inHome('MCPs')));
  const referenceConfig = env.MCP_SERVERS_CONFIG?.trim();
  if (referenceConfig) sources.push(named(referenceConfig, 'MCP_SERVERS_CONFIG'));

  sources.push(
    { path: inHome('.claude.json'), format: 'claude-json' },
    { path: inHome('.claude', 'settings.json'), format: 'mcpServers' },
  );
  if (platform === 'darwin') {
    sources.push(
      { path: macSupport('Claude Code', 'claude_code_config.json'), format: 'mcpServers' },
      { path: macSupport('Claude', 'claude_code_config.json'), format: 'mcpServers' },
      { path: macSupport('Claude', 'claude_desktop_config.json'), format: 'mcpServers' },
    );
  } else if (platform === 'win32') {
    const appData = env.APPDATA || inHome('AppData', 'Roaming');
    sources.push({ path: p.join(appData, 'Claude', 'claude_desktop_config.json'), format: 'mcpServers' });
  } else {
    sources.push({ path: p.join(xdgConfig, 'Claude', 'claude_desktop_config.json'), format: 'mcpServers' });
  }

  sources.push(serverDir(p.join(xdgConfig, 'mcp', 'servers')));
  if (platform === 'darwin') {
    sources.push(
      serverDir(macSupport('Claude Code', 'mcp', 'servers')),
      serverDir(macSupport('Claude', 'mcp', 'servers')),
    );
  }

  const codexHome = env.CODEX_HOME || inHome('.codex');
  sources.push(
    { path: inCwd('claude_code_config.json'), format: 'mcpServers' },
    { path: inCwd('claude_desktop_config.json'), format: 'mcpServers' },
    serverDir(inCwd('mcp-servers')),
    { path: inCwd('.mcp.json'), format: 'mcpServers' },
    { path: inHome('.cursor', 'mcp.json'), format: 'mcpServers' },
    { path: inCwd('.cursor', 'mcp.json'), format: 'mcpServers' },
    { path: inCwd('.vscode', 'mcp.json'), format: 'vscode' },
    { path: inHome('.codeium', 'windsurf', 'mcp_config.json'), format: 'windsurf' },
    { path: inHome('.gemini', 'settings.json'), format: 'gemini' },
    { path: inCwd('.gemini', 'settings.json'), format: 'gemini' },
    { path: p.join(codexHome, 'config.toml'), format: 'codex-toml' },
  );

  return sources;
}

function splitPathList(value: string | undefined, platform: NodeJS.Platform): string[] {
  if (!value) return [];
  const delimiter = platform === 'win32' ? ';' : ':';
  return value
    .split(delimiter)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
