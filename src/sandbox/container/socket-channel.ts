/**
 * The frame channel of a container sandbox: a private Unix socket, bind-mounted into the container.
 * Frames then cross one socket each way instead of the engine's attach relay (client ⇄ conmon ⇄
 * container): measured here ≈0.15 ms per round trip instead of ≈0.4 ms, which is what a tool call
 * from inside a run pays.
 *
 * Layout: `<tmp>/codemode-<pid>-XXXXXX/` (0700, ours) holds one `<sandbox>/` directory (0755) per sandbox
 * with `channel.sock` (0666, so the container's unprivileged uid can connect). Only that directory is
 * mounted; other local users cannot traverse the 0700 parent.
 */
import { chmod, lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
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
  const remote = [env.CONTAINER_HOST, env.DOCKER_HOST].some((host) => host && !host.startsWith('unix://'));
  return platform === 'linux' && !remote ? 'socket' : 'stdio';
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

export class SocketChannels {
  #root: Promise<string> | undefined;

  /**
   * This bridge's private directory (0700), created on first use. Engine clients also run in it:
   * conmon writes files such as `oom` into its working directory, which must not be the user's.
   */
  root(): Promise<string> {
    this.#root ??= mkdtemp(join(tmpdir(), `codemode-${process.pid}-`));
    return this.#root;
  }

  async open(name: string): Promise<SandboxChannel> {
    const dir = join(await this.root(), name);
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

  /** Removes channel directories left by bridges that are gone (killed before they could clean up). */
  static async reapStale(): Promise<number> {
    const uid = process.getuid?.();
    let removed = 0;
    for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
      const owner = /^codemode-(\d+)-\w{6}$/.exec(entry)?.[1];
      if (!owner || isProcessAlive(Number(owner))) continue;
      const path = join(tmpdir(), entry);
      const info = await lstat(path).catch(() => undefined);
      // Only our own real directories: never follow a link or touch another user's files.
      if (!info?.isDirectory() || (uid !== undefined && info.uid !== uid)) continue;
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
