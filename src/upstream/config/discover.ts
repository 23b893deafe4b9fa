/**
 * Reads every config source (sources.ts), parses each file (parse.ts), and merges the results: the
 * first definition of a name wins, variables are expanded, and the bridge's own entry is dropped. The
 * only module here that touches the filesystem.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type ExpansionVariables, expandServer } from './expand.js';
import { parseConfigText } from './parse.js';
import { selfEntryReason } from './self-entry.js';
import { type ConfigSource, configSources } from './sources.js';
import type { ConfigWarning, DiscoveryResult, UpstreamServerConfig } from './types.js';

/** Options for {@link discoverServers}. */
export interface DiscoverServersOptions {
  /** The user's home directory (`os.homedir()`). */
  home: string;
  /** The project directory (`process.cwd()`). */
  cwd: string;
  /** Environment used for `${VAR}` expansion, `MCP_BRIDGE_CONFIG` and `MCP_SERVERS_CONFIG` (`process.env`). */
  env: Readonly<Record<string, string | undefined>>;
  platform: NodeJS.Platform;
  /** Path of the running bridge's entry script; an entry that runs it is dropped. Default: none. */
  selfPath?: string;
}

interface LoadedFile {
  path: string;
  text: string;
}

type Collected = Pick<DiscoveryResult, 'filesRead' | 'missing' | 'warnings'>;

/**
 * Finds the upstream servers configured for this user and project. Never throws for a missing,
 * unreadable or malformed file: those become `missing` (debug) or `warnings`.
 */
export async function discoverServers(options: DiscoverServersOptions): Promise<DiscoveryResult> {
  const result: DiscoveryResult = { servers: [], warnings: [], filesRead: [], missing: [], skipped: [] };
  // Read in parallel, then handle strictly in source order so precedence does not depend on timing.
  const loaded = await Promise.all(
    configSources(options).map(async (source) => ({ source, ...(await loadSource(source)) })),
  );

  const accepted = new Map<string, UpstreamServerConfig>();
  for (const { source, files, collected } of loaded) {
    result.filesRead.push(...collected.filesRead);
    result.missing.push(...collected.missing);
    result.warnings.push(...collected.warnings);

    for (const file of files) {
      const parsed = parseConfigText(file.text, {
        format: source.format,
        source: file.path,
        cwd: options.cwd,
        allowBareMap: source.allowBareMap ?? false,
      });
      result.warnings.push(...parsed.warnings);
      result.skipped.push(...parsed.skipped);
      const variables = expansionVariables(source, options);

      for (const server of parsed.servers) {
        const earlier = accepted.get(server.name);
        if (earlier !== undefined) {
          result.skipped.push({
            name: server.name,
            source: server.source,
            reason: 'duplicate',
            detail: `already defined in ${earlier.source}`,
          });
          continue;
        }
        // Expand only entries that can still be used, so shadowed ones raise no variable warnings.
        const expanded = expandServer(server, variables);
        result.warnings.push(...expanded.warnings);
        if (expanded.server === undefined) continue;
        const selfReason = selfEntryReason(expanded.server, {
          cwd: options.cwd,
          selfPath: options.selfPath,
          allowOriginal: /^(1|true|yes|on)$/i.test(options.env.MCP_BRIDGE_ALLOW_SELF_SERVER ?? ''),
        });
        if (selfReason !== undefined) {
          result.skipped.push({
            name: server.name,
            source: server.source,
            reason: 'self',
            detail: selfReason,
          });
          continue;
        }
        accepted.set(server.name, expanded.server);
        result.servers.push(expanded.server);
      }
    }
  }
  return result;
}

/** A server name defined in more than one place: the definition used and the ones it hides. */
export interface ShadowedServer {
  name: string;
  /** File of the definition in use (the first one). */
  source: string;
  /** Files of the later definitions, which are ignored, in precedence order. */
  shadowed: string[];
}

/** Every name that discovery found defined more than once, in the order the servers are listed. */
export function shadowedServers(result: Pick<DiscoveryResult, 'servers' | 'skipped'>): ShadowedServer[] {
  const out: ShadowedServer[] = [];
  for (const server of result.servers) {
    const shadowed = result.skipped
      .filter((skipped) => skipped.reason === 'duplicate' && skipped.name === server.name)
      .map((skipped) => skipped.source);
    if (shadowed.length > 0) out.push({ name: server.name, source: server.source, shadowed });
  }
  return out;
}

function expansionVariables(source: ConfigSource, options: DiscoverServersOptions): ExpansionVariables {
  // VS Code's mcp.json commonly uses ${workspaceFolder}; for us the workspace is the project directory.
  if (source.format === 'vscode' && options.env.workspaceFolder === undefined) {
    return { ...options.env, workspaceFolder: path.resolve(options.cwd) };
  }
  return options.env;
}

async function loadSource(source: ConfigSource): Promise<{ files: LoadedFile[]; collected: Collected }> {
  const collected: Collected = { filesRead: [], missing: [], warnings: [] };
  let paths: string[];
  if (source.glob) {
    try {
      const entries = await readdir(source.path, { withFileTypes: true });
      paths = entries
        .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && entry.name.endsWith('.json'))
        .map((entry) => entry.name)
        // Code-unit order, not locale order, so the same files give the same precedence everywhere.
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .map((name) => path.join(source.path, name));
    } catch (error) {
      recordReadFailure(source, source.path, error, collected);
      return { files: [], collected };
    }
  } else {
    paths = [source.path];
  }

  const files: LoadedFile[] = [];
  for (const file of paths) {
    try {
      const text = await readFile(file, 'utf8');
      collected.filesRead.push(file);
      files.push({ path: file, text });
    } catch (error) {
      recordReadFailure(source, file, error, collected);
    }
  }
  return { files, collected };
}

function recordReadFailure(source: ConfigSource, file: string, error: unknown, collected: Collected): void {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if ((code === 'ENOENT' || code === 'ENOTDIR') && !source.explicit) {
    collected.missing.push(file);
    return;
  }
  const reason = error instanceof Error ? error.message : String(error);
  const warning: ConfigWarning = {
    source: file,
    message: source.explicit
      ? `Cannot read ${file}, named in ${source.explicit}: ${reason}`
      : `Cannot read ${file}: ${reason}`,
  };
  collected.warnings.push(warning);
}
