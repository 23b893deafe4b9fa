/** Real upstream MCP servers (npm devDependencies) configured for a bridge through a temporary HOME. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function serverEntry(pkg: 'server-everything' | 'server-memory' | 'server-filesystem'): string {
  return fileURLToPath(
    new URL(`../../node_modules/@modelcontextprotocol/${pkg}/dist/index.js`, import.meta.url),
  );
}

export interface TestHome {
  home: string;
  project: string;
  /** Writes a file under the home or project directory (paths relative to them), creating folders. */
  write(relativePath: string, content: unknown, where?: 'home' | 'project'): string;
  cleanup(): void;
}

export function createTestHome(): TestHome {
  const root = mkdtempSync(join(tmpdir(), 'codemode-home-'));
  const home = join(root, 'home');
  const project = join(root, 'project');
  mkdirSync(home, { recursive: true });
  mkdirSync(project, { recursive: true });
  return {
    home,
    project,
    write(relativePath, content, where = 'home') {
      const path = join(where === 'home' ? home : project, relativePath);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
      return path;
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The three reference servers as stdio entries; `memory` carries a secret env var that must stay on the host. */
export function standardServers(home: string, secret: string): Record<string, unknown> {
  const files = join(home, 'files');
  mkdirSync(files, { recursive: true });
  writeFileSync(join(files, 'hello.txt'), 'hello from the host\n');
  return {
    everything: { command: process.execPath, args: [serverEntry('server-everything')] },
    memory: {
      command: process.execPath,
      args: [serverEntry('server-memory')],
      env: { MEMORY_FILE_PATH: join(home, 'memory.jsonl'), SECRET_TOKEN: secret },
    },
    filesystem: { command: process.execPath, args: [serverEntry('server-filesystem'), files] },
  };
}

/** Pids of the bridge's child processes whose command line contains `needle`. */
export function childProcessesMatching(parentPid: number, needle: string): number[] {
  let output: string;
  try {
    output = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parentPid)], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return []; // ps exits 1 when there is no such process
  }
  return output
    .split('\n')
    .filter((line) => line.includes(needle))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** server-everything in its Streamable HTTP (default) or SSE mode on a loopback port. */
export async function startHttpEverything(
  mode: 'streamableHttp' | 'sse' = 'streamableHttp',
): Promise<{ url: string; child: ChildProcess; stop(): void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [serverEntry('server-everything'), mode], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server-everything (http) did not start')), 20_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (/listening on port|running on port/i.test(chunk.toString())) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error('server-everything (http) exited')));
  });
  const path = mode === 'sse' ? '/sse' : '/mcp';
  return { url: `http://127.0.0.1:${port}${path}`, child, stop: () => child.kill('SIGKILL') };
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
