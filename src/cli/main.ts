#!/usr/bin/env node
/** Command-line entry and composition root. stdout belongs to MCP in `serve`; logs go to stderr. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { imageExists } from '../sandbox/container/engine-probe.js';
import { embeddedStateDir } from '../sandbox/embedded/embedded-backend.js';
import { resolveEmbeddedPaths } from '../sandbox/embedded/paths.js';
import { snapshotKeyOf } from '../sandbox/embedded/snapshot-key.js';
import { inspectSnapshots } from '../sandbox/embedded/snapshot-store.js';
import { AUTO_ORDER, probeRuntime, selectRuntime } from '../sandbox/select.js';
import { formatOutcomeText, structuredOutcome } from '../server/format.js';
import { createBridgeServer, forwardLogsToClient } from '../server/server.js';
import { BridgeError, errorMessage } from '../shared/errors.js';
import { createLogger, type Logger } from '../shared/logger.js';
import type { UpstreamPool } from '../upstream/upstream-pool.js';
import { composeBridge, createUpstreamPool, discover } from './compose.js';
import { helpText } from './help.js';
import { loadSettings, type Settings } from './settings.js';

const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
/** Shutdown must finish; if removing sandboxes hangs, exit anyway after this long. */
const SHUTDOWN_DEADLINE_MS = 15_000;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const command = first && !first.startsWith('-') ? first : 'serve';
  const rest = command === first ? argv.slice(1) : argv;
  if (command === 'help' || rest[0] === '--help' || rest[0] === '-h') {
    process.stdout.write(helpText(VERSION));
    return 0;
  }
  if (rest[0] === '--version' || rest[0] === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const settings = loadSettings();
  const logger = createLogger(settings.logLevel);
  switch (command) {
    case 'serve':
      return serve(settings, logger);
    case 'run':
      return runOnce(rest, settings, logger);
    case 'servers':
      return listServers(rest, settings, logger);
    case 'stubs':
      return printStubs(rest, settings, logger);
    case 'doctor':
      return doctor(settings, logger);
    default:
      throw new UsageError(`unknown command '${command}'. Run \`codemode-bridge --help\` for the commands.`);
  }
}

async function serve(settings: Settings, logger: Logger): Promise<number> {
  const bridge = await composeBridge(settings, logger, { version: VERSION });
  const server = createBridgeServer({
    engine: bridge.engine,
    version: VERSION,
    outputMode: settings.outputMode,
    serverNames: () => bridge.directory.serverNames(),
    logger,
  });
  const transport = new StdioServerTransport();
  let stopping: Promise<void> | undefined;
  const stop = (reason: string) => {
    stopping ??= (async () => {
      logger.info('shutting down', { reason });
      setTimeout(() => {
        logger.error('shutdown did not finish in time; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      await server.close().catch(() => {});
      await bridge.close();
      process.exit(0);
    })();
    return stopping;
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.stdin.once('end', () => void stop('stdin closed'));
  process.stdin.once('close', () => void stop('stdin closed'));
  // One bad run must not take the bridge (and every other run) down: state is per run, so log and serve on.
  process.on('unhandledRejection', (error) => logger.error('unhandled rejection', { error }));
  process.on('uncaughtException', (error) =>
    logger.error('uncaught exception', { error, stack: error.stack }),
  );
  // stdout carries MCP frames: a stray console.log from any dependency would corrupt the channel.
  console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
  await server.connect(transport);
  forwardLogsToClient(
    server,
    logger,
    bridge.discovery.warnings.map((warning) => ({
      message: warning.message,
      fields: { file: warning.source },
    })),
  );
  logger.info('serving MCP on stdio', { version: VERSION });
  bridge.sandboxes.replenish();
  await new Promise(() => {});
  return 0;
}

async function runOnce(args: string[], settings: Settings, logger: Logger): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      eval: { type: 'string', short: 'e' },
      timeout: { type: 'string', short: 't' },
      server: { type: 'string', short: 's', multiple: true },
      json: { type: 'boolean' },
    },
  });
  let code = values.eval;
  if (code === undefined) {
    const file = positionals[0];
    if (file === undefined)
      throw new UsageError('run needs code: `run -e "print(1)"`, `run script.py` or `run -`.');
    code = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new UsageError(`--timeout ${values.timeout}: expected seconds > 0`);
    timeoutMs = Math.round(seconds * 1000);
  }
  const bridge = await composeBridge(settings, logger, { version: VERSION, poolSize: 0 });
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  try {
    const outcome = await bridge.engine.run(
      { code, ...(values.server ? { servers: values.server } : {}), ...(timeoutMs ? { timeoutMs } : {}) },
      { signal: controller.signal },
    );
    const text = values.json
      ? JSON.stringify(structuredOutcome(outcome), null, 2)
      : formatOutcomeText(outcome);
    process.stdout.write(`${text}\n`);
    return outcome.status === 'ok' ? 0 : 1;
  } finally {
    await bridge.close();
  }
}

async function doctor(settings: Settings, logger: Logger): Promise<number> {
  const lines = [`codemode-bridge ${VERSION}`, `MCP_BRIDGE_RUNTIME=${settings.runtime}`, 'runtimes:'];
  let healthy = true;
  // Every runtime is probed (not just up to the first usable one), so the report shows them all.
  const probes = await Promise.all(AUTO_ORDER.map((runtime) => probeRuntime(runtime)));
  for (const probe of probes) {
    lines.push(`  ${probe.runtime}: ${probe.usable ? `usable (${probe.version})` : probe.problem}`);
  }
  try {
    const selection = await selectRuntime(settings.runtime, {
      image: settings.image,
      probe: async (runtime) =>
        probes.find((candidate) => candidate.runtime === runtime) ?? probeRuntime(runtime),
    });
    lines.push(`selected: ${selection.runtime} (${selection.reason})`);
    if (selection.runtime !== 'embedded') {
      const present = await imageExists(selection.runtime, settings.image);
      lines.push(
        `image ${settings.image}: ${present ? 'present' : `missing — pull it with: ${selection.runtime} pull ${settings.image}`}`,
      );
      healthy = present;
    }
  } catch (error) {
    lines.push(`no sandbox runtime: ${errorMessage(error)}`);
    healthy = false;
  }
  if (probes.some((probe) => probe.runtime === 'embedded' && probe.usable)) {
    lines.push(`embedded snapshot: ${await describeEmbeddedSnapshot(settings.stateDir)}`);
  }
  lines.push(...(await describeConfigFiles(logger)));
  process.stdout.write(`${lines.join('\n')}\n`);
  return healthy ? 0 : 1;
}

async function describeConfigFiles(logger: Logger): Promise<string[]> {
  const discovery = await discover(logger);
  const lines = ['MCP config files read:'];
  for (const file of discovery.filesRead) {
    const servers = discovery.servers.filter((server) => server.source === file).map((server) => server.name);
    lines.push(`  ${file}${servers.length > 0 ? `: ${servers.join(', ')}` : ''}`);
  }
  if (discovery.filesRead.length === 0) lines.push('  none found (see README, "Where servers are found")');
  for (const warning of discovery.warnings) lines.push(`  warning: ${warning.message}`);
  lines.push(`servers: ${discovery.servers.length} (codemode-bridge servers --check connects to each)`);
  return lines;
}

async function describeEmbeddedSnapshot(stateDir: string): Promise<string> {
  try {
    const paths = resolveEmbeddedPaths();
    const dir = embeddedStateDir(stateDir);
    const { snapshot } = await inspectSnapshots(dir, await snapshotKeyOf(paths));
    if (!snapshot) return `absent in ${dir} (built on first use, ~4 s; workers start cold meanwhile)`;
    const size = `${(snapshot.size / 1024 / 1024).toFixed(1)} MiB`;
    return snapshot.valid
      ? `${snapshot.file}: present, valid, ${size}`
      : `${snapshot.file}: present but corrupt (${size}); it is deleted and rebuilt on next use`;
  } catch (error) {
    return `cannot be inspected: ${errorMessage(error)}`;
  }
}

async function listServers(args: string[], settings: Settings, logger: Logger): Promise<number> {
  const { values } = parseArgs({ args, options: { check: { type: 'boolean' }, json: { type: 'boolean' } } });
  const discovery = await discover(logger);
  const upstreams = createUpstreamPool(settings, discovery, logger, VERSION);
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
      }
    }
    return values.check && rows.some((row) => 'error' in row) ? 1 : 0;
  } finally {
    await upstreams.close();
  }
}

/** Stubs are rendered inside a sandbox by the same code that builds the proxies, so they cannot drift. */
async function printStubs(args: string[], settings: Settings, logger: Logger): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const bridge = await composeBridge(settings, logger, { version: VERSION, poolSize: 0 });
  try {
    const names = positionals.length > 0 ? positionals : bridge.upstreams.serverNames();
    const unknown = names.filter((name) => !bridge.upstreams.serverNames().includes(name));
    if (unknown.length > 0) {
      throw new UsageError(
        `unknown server ${unknown.map((n) => `'${n}'`).join(', ')}; configured: ${bridge.upstreams.serverNames().join(', ') || 'none'}`,
      );
    }
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

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      text += chunk;
    });
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    const usage =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const prefix = error instanceof BridgeError ? '' : usage ? 'usage: ' : 'error: ';
    process.stderr.write(`codemode-bridge: ${prefix}${errorMessage(error)}\n`);
    process.exit(usage || (error instanceof BridgeError && error.code === 'CONFIG_INVALID') ? 2 : 1);
  },
);
