/**
 * What a container mounts from the host besides its channel, kept in the bridge's private directory
 * (socket-channel.ts) so that no mount names a host path of interest: under runc the program reads
 * every bind mount's source in /proc/self/mountinfo. A copy of the runtime instead of the package's
 * own directory (which names the user's home or clone), and `/etc/hosts` and `/etc/resolv.conf` of
 * our own instead of the engine's (which copy the host's entries, its nameserver and the container's
 * name).
 */
import { chmod, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SandboxFiles {
  /** Mounted read-only at /opt/codemode. */
  runtimeDir: string;
  /** Mounted read-only at /etc/hosts: localhost, nothing of the host. */
  hostsFile: string;
  /** Mounted read-only at /etc/resolv.conf: no nameserver (there is no network). */
  resolvConfFile: string;
}

/** What podman writes for a container without a network, less the host's entries and the container's name. */
const HOSTS = '127.0.0.1\tlocalhost\n';
const RESOLV_CONF = '# The sandbox has no network.\n';

/** Copies the runtime and writes the two files into `root`. */
export async function prepareSandboxFiles(root: string, runtimeSource: string): Promise<SandboxFiles> {
  const files: SandboxFiles = {
    runtimeDir: join(root, 'runtime'),
    hostsFile: join(root, 'hosts'),
    resolvConfFile: join(root, 'resolv.conf'),
  };
  await copyReadable(runtimeSource, files.runtimeDir);
  await writeReadable(files.hostsFile, HOSTS);
  await writeReadable(files.resolvConfFile, RESOLV_CONF);
  return files;
}

/** Directories 0755 and files 0644 whatever the umask: the container's uid reads them. */
async function copyReadable(source: string, target: string): Promise<void> {
  await mkdir(target, { mode: 0o755 });
  await chmod(target, 0o755);
  for (const entry of await readdir(source, { withFileTypes: true })) {
    const from = join(source, entry.name);
    const to = join(target, entry.name);
    if (entry.isDirectory() && entry.name !== '__pycache__') await copyReadable(from, to);
    else if (entry.isFile()) {
      await copyFile(from, to);
      await chmod(to, 0o644);
    }
  }
}

async function writeReadable(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o644 });
  await chmod(path, 0o644);
}
