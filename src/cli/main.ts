#!/usr/bin/env node
/** Command-line entry: dispatches to a command. stdout belongs to MCP in `serve`; logs go to stderr. */
import { parseArgs } from 'node:util';
import { BridgeError, errorMessage } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import { UsageError, VERSION } from './context.js';
import { commandHelpText, helpText } from './help.js';
import { loadLogLevel, loadSettings, type Settings } from './settings.js';

const DEFAULT_HTTP_HOST = '127.0.0.1';
const DEFAULT_CONSOLE_PORT = 8377;

async function main(argv: string[]): Promise<number> {
  const first = argv[0];
  const command = first && !first.startsWith('-') ? first : 'serve';
  const rest = command === first ? argv.slice(1) : argv;
  // Anywhere among a command's arguments (`skills show NAME --help`); code that starts with a dash
  // is passed as `--eval=CODE`, so it never reads as a flag here.
  if (command === 'help' || rest.includes('--help') || rest.includes('-h')) {
    // `run --help` and `help run`: that command's help; `--help` alone, or an unknown name: all of it.
    const topic = command === 'help' ? rest[0] : command === first ? command : undefined;
    process.stdout.write((topic && commandHelpText(topic, VERSION)) || helpText(VERSION));
    return 0;
  }
  if (rest[0] === '--version' || rest[0] === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  let settings: Settings;
  try {
    settings = loadSettings(process.env, {
      defaultLogLevel: command === 'serve' || command === 'console' ? 'info' : 'warn',
    });
  } catch (error) {
    // An MCP client on stdio shows a server that exits before the handshake as "Connection closed"
    // and no more: serve the error instead. HTTP serving and the other commands report it on stderr
    // and exit 2 (below), as a service manager or a shell expects.
    const stdioServe = command === 'serve' && parseServeArgs(rest) === undefined;
    if (stdioServe && error instanceof BridgeError && error.code === 'CONFIG_INVALID') {
      const { serveUnconfigured } = await import('./commands/serve.js');
      return serveUnconfigured(error, createLogger(loadLogLevel()));
    }
    throw error;
  }
  const logger = createLogger(settings.logLevel);
  // Each command loads only its own modules: `serve` starts its sandboxes before the MCP modules load.
  switch (command) {
    case 'serve': {
      const http = parseServeArgs(rest);
      if (http) return (await import('./commands/serve-http.js')).serveHttp(settings, logger, http);
      return (await import('./commands/serve.js')).serve(settings, logger);
    }
    case 'console':
      return (await import('./commands/serve-http.js')).serveHttp(settings, logger, {
        ...parseConsoleArgs(rest),
        console: true,
      });
    case 'run':
      return (await import('./commands/run.js')).run(rest, settings, logger);
    case 'servers':
      return (await import('./commands/servers.js')).listServers(rest, settings, logger);
    case 'stubs':
      return (await import('./commands/servers.js')).printStubs(rest, settings, logger);
    case 'doctor':
      return (await import('./commands/doctor.js')).doctor(settings, logger);
    case 'skills':
      return (await import('./commands/skills.js')).skills(rest, settings);
    case 'audit':
      return (await import('./commands/audit.js')).audit(rest, settings);
    // Internal, not in --help: the detached snapshot build of a one-shot command.
    case '__build-snapshot':
      return (await import('./commands/build-snapshot.js')).buildSnapshot(settings, logger);
    default:
      throw new UsageError(`unknown command '${command}'. Run \`codemode-bridge --help\` for the commands.`);
  }
}

/** `serve [--http PORT] [--host H]`: undefined for stdio. */
function parseServeArgs(args: string[]): { host: string; port: number } | undefined {
  const { values } = parseArgs({
    args,
    options: { http: { type: 'string' }, host: { type: 'string' } },
    strict: true,
  });
  if (values.http === undefined) {
    if (values.host !== undefined) throw new UsageError('--host needs --http PORT');
    return undefined;
  }
  return { host: values.host ?? DEFAULT_HTTP_HOST, port: portOf(values.http, '--http') };
}

/** `console [--port PORT]`: always on loopback. */
function parseConsoleArgs(args: string[]): { host: string; port: number } {
  const { values } = parseArgs({ args, options: { port: { type: 'string' } }, strict: true });
  return {
    host: DEFAULT_HTTP_HOST,
    port: values.port === undefined ? DEFAULT_CONSOLE_PORT : portOf(values.port, '--port'),
  };
}

function portOf(value: string, flag: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535)
    throw new UsageError(`${flag} takes a port number (0-65535, 0: any free port), not '${value}'`);
  return port;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    const usage =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    const prefix = error instanceof BridgeError ? '' : usage ? 'usage: ' : 'error: ';
    process.stderr.write(`codemode-bridge: ${prefix}${errorMessage(error)}\n`);
    // 2: what was asked cannot be done as asked (usage, settings, a server name); 1: it failed.
    const asked =
      error instanceof BridgeError && (error.code === 'CONFIG_INVALID' || error.code === 'UNKNOWN_SERVER');
    process.exit(usage || asked ? 2 : 1);
  },
);
