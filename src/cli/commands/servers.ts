/** `codemode-bridge servers` and `stubs`: what the config files define, and what the sandbox builds of it. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { serverDeclaration } from '../../engine/typescript/declarations.js';
import { formatOutcomeText } from '../../server/format.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { packagePath } from '../../shared/package-root.js';
import { shadowedServers } from '../../upstream/config/discover.js';
import type { UpstreamPool } from '../../upstream/upstream-pool.js';
import { composeBridge, createUpstreamPool, discover } from '../compose.js';
import { UsageError, VERSION } from '../context.js';
import type { Settings } from '../settings.js';

export async function listServers(args: string[], settings: Settings, logger: Logger): Promise<number> {
  const { values } = parseArgs({ args, options: { check: { type: 'boolean' }, json: { type: 'boolean' } } });
  const discovery = await discover(logger);
  const upstreams = createUpstreamPool(settings, discovery, logger, VERSION);
  const shadowedByName = new Map(shadowedServers(discovery).map((entry) => [entry.name, entry.shadowed]));
  try {
    const rows = await Promise.all(
      discovery.servers.map(async (server) => {
        const target =
          server.transport === 'stdio' ? [server.command, ...server.args].join(' ') : `${server.url}`;
        const row = {
          name: server.name,
          alias: upstreams.aliasOf(server.name) ?? server.name,
          transport: server.transport,
          target,
          source: server.source,
          shadowed: shadowedByName.get(server.name) ?? [],
          ...(values.check ? await checkServer(upstreams, server.name) : {}),
        };
        return row;
      }),
    );
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ servers: rows, warnings: discovery.warnings }, null, 2)}\n`);
    } else if (rows.length === 0) {
      process.stdout.write('No MCP servers found. Config files read:\n');
      for (const file of discovery.filesRead) process.stdout.write(`  ${file}\n`);
    } else {
      for (const row of rows) {
        const status =
          'tools' in row ? `  ${row.tools} tools` : 'error' in row ? `  ERROR: ${row.error}` : '';
        process.stdout.write(
          `${row.name} (mcp_${row.alias})  ${row.transport}  ${row.target}${status}\n  from ${row.source}\n`,
        );
        for (const file of row.shadowed)
          process.stdout.write(`  also defined in ${file}: shadowed, not used\n`);
      }
    }
    return values.check && rows.some((row) => 'error' in row) ? 1 : 0;
  } finally {
    await upstreams.close();
  }
}

/**
 * Python stubs are rendered inside a sandbox by the same code that builds the proxies, so they cannot
 * drift; TypeScript's are the declarations the type checker checks programs against.
 */
export async function printStubs(args: string[], settings: Settings, logger: Logger): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: { language: { type: 'string', default: 'python' } },
  });
  const language = values.language?.toLowerCase();
  if (language === 'typescript') return printTypeScriptStubs(positionals, settings, logger);
  if (language !== 'python') {
    throw new UsageError(`--language takes python or typescript, not '${values.language}'`);
  }
  const bridge = await composeBridge(settings, logger, { version: VERSION, poolSize: 0 });
  try {
    const names = positionals.length > 0 ? positionals : bridge.upstreams.serverNames();
    bridge.upstreams.assertKnown(names);
    if (names.length === 0) {
      process.stdout.write('No MCP servers are configured; see `codemode-bridge servers`.\n');
      return 0;
    }
    const code = [
      'import sys, mcp.runtime as runtime',
      `for name in ${JSON.stringify(names)}:`,
      '    try:',
      '        print(await runtime.server_stubs(name))',
      '    except Exception as error:',
      '        print(f"# MCP server {name!r}: unavailable: {error}\\n")',
    ].join('\n');
    const outcome = await bridge.engine.run({ code, timeoutMs: settings.maxTimeoutMs });
    process.stdout.write(outcome.stdout);
    if (outcome.status !== 'ok') process.stderr.write(`${formatOutcomeText({ ...outcome, stdout: '' })}\n`);
    return outcome.status === 'ok' ? 0 : 1;
  } finally {
    await bridge.close();
  }
}

/**
 * runtime/typescript/mcp.d.ts (what every program sees), then each server's declaration as the
 * checker sees it; a server that cannot be described is a comment saying why.
 */
async function printTypeScriptStubs(names: string[], settings: Settings, logger: Logger): Promise<number> {
  const discovery = await discover(logger);
  const upstreams = createUpstreamPool(settings, discovery, logger, VERSION);
  try {
    const chosen = names.length > 0 ? names : upstreams.serverNames();
    upstreams.assertKnown(chosen);
    process.stdout.write(readFileSync(packagePath('runtime', 'typescript', 'mcp.d.ts'), 'utf8'));
    let failed = false;
    for (const name of chosen) {
      try {
        const server = await upstreams.describe(name, AbortSignal.timeout(30_000));
        process.stdout.write(`\n// MCP server ${JSON.stringify(name)}: mcp.${server.alias}\n`);
        process.stdout.write(serverDeclaration(server).text);
      } catch (error) {
        failed = true;
        process.stdout.write(
          `\n// MCP server ${JSON.stringify(name)}: unavailable: ${errorMessage(error)}\n`,
        );
      }
    }
    return failed ? 1 : 0;
  } finally {
    await upstreams.close();
  }
}

async function checkServer(
  upstreams: UpstreamPool,
  name: string,
): Promise<{ tools: number } | { error: string }> {
  try {
    const description = await upstreams.describe(name, AbortSignal.timeout(30_000));
    return { tools: description.tools.length };
  } catch (error) {
    return { error: errorMessage(error) };
  }
}
