/**
 * The frame channel of a container sandbox: a private Unix socket, bind-mounted into the container.
 * Frames then cross one socket each way instead of the engine's attach relay (client ⇄ conmon ⇄
 * container): measured here ≈0.15 ms per round trip instead of ≈0.4 ms, which is what a tool call
 * from inside a run pays.
 *
 * Layout: `<tmp>/codemode-XXXXXX/` (0700, ours; its `owner` file holds the bridge's pid) holds one
 * `<random>/` directory (0755) per sandbox with `channel.sock` (0666, so the container's
 * unprivileged uid can connect). Only that directory is mounted; other local users cannot traverse
 * the 0700 parent. Under runc the program reads a bind mount's source path in
 * /proc/self/mountinfo, so no name in it says anything of the host: not the bridge's pid, not the
 * container's name.
 */
import { randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BridgeError } from '../../shared/errors.js';
import { isProcessAlive } from '../../shared/kill-group.js';
import { isGvisor } from './oci-runtime.js';

export type ChannelChoice = 'auto' | 'socket' | 'stdio';

/**
 * `auto`: a socket where the engine runs on this kernel (Linux, local engine). Elsewhere — podman
 * machine and Docker Desktop VMs on macOS and Windows, or a remote engine (`CONTAINER_HOST`,
 * `DOCKER_HOST`) — a host socket cannot reach the container, so frames use the attached stdio.
 *
 * Under gVisor, always stdio: its Sentry refuses `connect()` to a host Unix socket (EPERM) unless
 * runsc runs with `--host-uds=open`, which would let the sandbox reach any host socket in its mounts
 * through the gofer. Defence in depth is why runsc is chosen, so that opening stays closed, and an
 * explicit `socket` is refused rather than quietly broken.
 */
export function resolveChannel(
  choice: ChannelChoice,
  platform: NodeJS.Platform,
  env: Readonly<Record<string, string | undefined>>,
  ociRuntime?: string,
): 'socket' | 'stdio' {
  if (isGvisor(ociRuntime)) {
    if (choice === 'socket') {
      throw new BridgeError(
        'CONFIG_INVALID',
        `MCP_BRIDGE_CONTAINER_CHANNEL=socket cannot be used with MCP_BRIDGE_OCI_RUNTIME=${ociRuntime}: ` +
          "gVisor refuses connections to the host's Unix sockets. Set MCP_BRIDGE_CONTAINER_CHANNEL to auto or stdio.",
        { details: { variable: 'MCP_BRIDGE_CONTAINER_CHANNEL', value: choice, ociRuntime } },
      );
    }
    return 'stdio';
  }
  if (choice !== 'auto') return choice;
  return isLocalEngine(platform, env) ? 'socket' : 'stdio';
}

/**
 * Whether the engine runs containers on this kernel and sees this machine's paths: Linux, and no
 * remote engine (`CONTAINER_HOST`, `DOCKER_HOST`). Elsewhere only what the engine shares into its VM
 * (typically the user's home) can be bind-mounted.
 */
export function isLocalEngine(
  platform: NodeJS.Platform,
  env: Readonly<Record<string, string | undefined>>,
): boolean {
  const remote = [env.CONTAINER_HOST, env.DOCKER_HOST].some((host) => host && !host.startsWith('unix://'));
  return platform === 'linux' && !remote;
}

export const CHANNEL_MOUNT = '/run/codemode-channel';
/** Attempts at removing a directory something may still be writing into (`ENOTEMPTY`, `EBUSY`). */
const REMOVE_RETRIES = 10;
export const CHANNEL_SOCKET = 'channel.sock';

export interface SandboxChannel {
  /** Host directory to mount at `CHANNEL_MOUNT`. */
  dir: string;
  /** Resolves with the sandbox's connection; only the first connection is accepted. */
  connection: Promise<Socket>;
  /** Stops listening and removes the directory. Idempotent; never rejects. */
  close(): Promise<void>;
}

const OWNER_FILE = 'owner';
const PRIVATE_DIR = /^codemode-\w{6}$/;
/** Directories of bridges from before the `owner` file, named after their pid. */
const LEGACY_PRIVATE_DIR = /^codemode-(\d+)-\w{6}$/;

export class SocketChannels {
  #root: Promise<string> | undefined;

  /**
   * This bridge's private directory (0700), created on first use. Engine clients also run in it:
   * conmon writes files such as `oom` into its working directory, which must not be the user's.
   */
  root(): Promise<string> {
    this.#root ??= (async () => {
      const root = await mkdtemp(join(tmpdir(), 'codemode-'));
      await writeFile(join(root, OWNER_FILE), String(process.pid), { mode: 0o600 });
      return root;
    })();
    return this.#root;
  }

  async open(): Promise<SandboxChannel> {
    const dir = join(await this.root(), randomBytes(6).toString('hex'));
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755); // the umask may have narrowed it
    const path = join(dir, CHANNEL_SOCKET);
    const server = createServer();
    const connection = new Promise<Socket>((resolve) => {
      server.once('connection', (socket) => {
        server.close();
        socket.setNoDelay(true);
        resolve(socket);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    await chmod(path, 0o666);
    let closing: Promise<void> | undefined;
    return {
      dir,
      connection,
      close: () => {
        closing ??= (async () => {
          server.close();
          // Nothing to report to: the bridge's directory is removed as a whole on close.
          await rm(dir, { recursive: true, force: true, maxRetries: REMOVE_RETRIES, retryDelay: 100 }).catch(
            () => {},
          );
        })();
        return closing;
      },
    };
  }

  /** Removes private directories left by bridges that are gone (killed before they could clean up). */
  static async reapStale(): Promise<number> {
    const uid = process.getuid?.();
    let removed = 0;
    for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
      const legacy = LEGACY_PRIVATE_DIR.exec(entry)?.[1];
      if (!legacy && !PRIVATE_DIR.test(entry)) continue;
      const path = join(tmpdir(), entry);
      const info = await lstat(path).catch(() => undefined);
      // Only our own real directories: never follow a link or touch another user's files.
      if (!info?.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
      // A directory without its owner yet is one a bridge is creating now.
      const owner = legacy ?? (await readFile(join(path, OWNER_FILE), 'utf8').catch(() => undefined));
      if (!owner || !/^\d+$/.test(owner) || isProcessAlive(Number(owner))) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /**
   * Removes the directory of every channel. Retried: the engine's monitor (conmon runs in this
   * directory) may still be writing a file into it as a container goes.
   */
  async dispose(): Promise<void> {
    const root = await this.#root?.catch(() => undefined);
    if (root) await rm(root, { recursive: true, force: true, maxRetries: REMOVE_RETRIES, retryDelay: 100 });
  }
}
