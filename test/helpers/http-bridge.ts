/** Starts the built bridge as `serve --http` (a real child process) and connects SDK HTTP clients to it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BRIDGE_MAIN, TEST_IMAGE } from './environment.js';

export interface HttpBridge {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT` */
  base: string;
  stderr(): string;
  connect(options?: { token?: string; name?: string; authProvider?: OAuthClientProvider }): Promise<Client>;
  /** SIGTERM, then the exit status. */
  stop(): Promise<number | null>;
}

/**
 * Runs the bridge with these arguments; resolves once it listens, or rejects with its stderr when it
 * exits first. `openFileLimit` runs it under `ulimit -n` (through sh, which then execs node).
 */
export function startHttpBridge(
  args: string[],
  env: Record<string, string> = {},
  options: { cwd?: string; openFileLimit?: number } = {},
): Promise<HttpBridge> {
  const command =
    options.openFileLimit === undefined
      ? [process.execPath, BRIDGE_MAIN, ...args]
      : [
          '/bin/sh',
          '-c',
          `ulimit -n ${options.openFileLimit} && exec "$0" "$@"`,
          process.execPath,
          BRIDGE_MAIN,
          ...args,
        ];
  const child = spawn(command[0] as string, command.slice(1), {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: {
      ...process.env,
      MCP_BRIDGE_RUNTIME: 'embedded',
      MCP_BRIDGE_IMAGE: TEST_IMAGE,
      MCP_BRIDGE_LOG_LEVEL: 'info',
      // Runs return when they end, however slow a loaded machine makes them, unless a test asks for
      // yielding (the long-run tests pass yield_after or set this).
      MCP_BRIDGE_YIELD_AFTER: '600',
      MCP_BRIDGE_POOL_SIZE: '1',
      MCP_BRIDGE_POOL_MAX: '2',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`bridge exited (${code}) before listening:\n${stderr}${stdout}`)),
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = stderr.match(/serving MCP over HTTP .*mcp=(http:\/\/[^\s]+)\/mcp/);
      if (!match?.[1]) return;
      const base = match[1];
      resolve({
        child,
        base,
        stderr: () => stderr,
        async connect({ token, name = 'http-test', authProvider } = {}) {
          const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), {
            ...(token ? { requestInit: { headers: { authorization: `Bearer ${token}` } } } : {}),
            ...(authProvider ? { authProvider } : {}),
          });
          const client = new Client({ name, version: '0.0.0' });
          await client.connect(transport);
          return client;
        },
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    });
  });
}

export async function runPython(client: Client, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name: 'run_python', arguments: args }, undefined, {
    timeout: 120_000,
  })) as CallToolResult;
}

export function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

/** One principal of a tokens file (`MCP_BRIDGE_HTTP_TOKENS_FILE`); `role` defaults to `user`. */
export interface TokenEntry {
  name: string;
  token: string;
  role?: 'user' | 'admin';
}

/** Writes `tokens.json` into `dir` for `MCP_BRIDGE_HTTP_TOKENS_FILE` and returns its path. */
export function writeTokensFile(dir: string, tokens: TokenEntry[]): string {
  const path = join(dir, 'tokens.json');
  writeFileSync(path, JSON.stringify({ tokens }));
  return path;
}

/** A `serve --http` bridge for a team (a tokens file), each principal connected, in its own temp dir. */
export interface TeamBridge {
  /** The temp dir: HOME, the state dir (`state/`) and the tokens file. */
  dir: string;
  bridge: HttpBridge;
  /** Each principal's client, by its name in the tokens file. */
  clients: Record<string, Client>;
  /** Closes the clients, stops the bridge and removes the temp dir. */
  close(): Promise<void>;
}

/**
 * Starts a team bridge with no upstreams, its HOME and state dir in a fresh temp dir, debug logging,
 * and `env` on top; then connects each principal as `<name>-client`.
 */
export async function startTeamBridge(
  prefix: string,
  tokens: TokenEntry[],
  env: Record<string, string>,
): Promise<TeamBridge> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const clients: Record<string, Client> = {};
  let bridge: HttpBridge | undefined;
  const close = async () => {
    await Promise.allSettled(Object.values(clients).map((client) => client.close()));
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    bridge = await startHttpBridge(
      ['serve', '--http', '0'],
      {
        HOME: dir,
        MCP_BRIDGE_STATE_DIR: join(dir, 'state'),
        MCP_BRIDGE_CONFIG: join(dir, 'none.json'),
        MCP_BRIDGE_HTTP_TOKENS_FILE: writeTokensFile(dir, tokens),
        MCP_BRIDGE_LOG_LEVEL: 'debug',
        ...env,
      },
      { cwd: dir },
    );
    for (const { name, token } of tokens)
      clients[name] = await bridge.connect({ token, name: `${name}-client` });
    return { dir, bridge, clients, close };
  } catch (error) {
    await close();
    throw error;
  }
}
