/**
 * The `podman run` / `docker run` command line of one sandbox (docs/architecture.md, "The trust
 * boundary"). Pure, so it is unit-tested.
 */
import { isGvisor } from './oci-runtime.js';
import { CHANNEL_MOUNT, CHANNEL_SOCKET } from './socket-channel.js';

export type ContainerEngine = 'podman' | 'docker';

const SANDBOX_RUNTIME_MOUNT = '/opt/codemode';
/** The program's working directory and HOME, where the reference bridge's programs expect to write. */
const SANDBOX_WORKSPACE = '/workspace';
const DEFAULT_WORKSPACE_SIZE = '128m';
export const OWNER_LABEL = 'codemode-bridge.owner';

export interface ContainerLimits {
  /** Memory and memory+swap limit, in the engine's syntax (`512m`). */
  memory: string;
  pidsLimit: number;
  /** CPU quota (`--cpus`); unlimited when undefined. */
  cpus?: number | undefined;
  /** `uid:gid` the program runs as. */
  user: string;
  /** Size of the writable, noexec /tmp. */
  tmpfsSize: string;
  /** Size of the writable, noexec /workspace (the working directory and HOME). Default `128m`. */
  workspaceSize?: string | undefined;
}

export interface RunArgsOptions {
  engine: ContainerEngine;
  image: string;
  name: string;
  ownerPid: number;
  runtimeDir: string;
  limits: ContainerLimits;
  /** Host directory holding the frame socket; without it frames travel on the attached stdio. */
  channelDir?: string | undefined;
  /** OCI runtime (`--runtime`): a name or an absolute path. Default: the engine's. */
  ociRuntime?: string | undefined;
  /** A seccomp profile file to use instead of the engine's default (see seccomp.ts). */
  seccompProfile?: string | undefined;
  /** Files to mount over the engine's /etc/hosts and /etc/resolv.conf (sandbox-files.ts). */
  hostsFile?: string | undefined;
  resolvConfFile?: string | undefined;
  /**
   * podman only: where it writes the host pid of the container's first process, from which the
   * bridge finds the container's cgroup to give it its principal's CPU weight (sandbox/cpu-weight.ts).
   */
  pidFile?: string | undefined;
}

/*
 * gVisor (runsc) on podman 4.3 as root, cgroups v1, runsc 0.0~20221219 (ptrace platform), measured:
 * - the engine's pids cgroup holds the Sentry's and gofer's own threads (≈59 host tasks at idle) plus
 *   ≈5.5 per process inside, and the Sentry panics when it cannot make one: with `--pids-limit 64`
 *   the sandbox dies at the program's first subprocess. So the cgroup becomes a backstop sized for
 *   the Sentry, and the limit the program sees is RLIMIT_NPROC, which the Sentry enforces over the
 *   tasks of its own kernel (threads included, as the cgroup does under runc). Under runc RLIMIT_NPROC
 *   would count every process of that uid on the host, hence the cgroup there.
 * - podman's `--network none` leaves creating the empty network namespace to the runtime; runsc does
 *   not create one, finds itself in the host's and refuses to start ("cannot run with network enabled
 *   in root network namespace") unless its own network is off as well: `--runtime-flag network=none`.
 *   Docker has no per-container runtime flags; runsc is registered in daemon.json with
 *   `"runtimeArgs": ["--network=none"]` instead (see docs/security.md, "gVisor").
 * The frame channel is decided in `resolveChannel` (stdio under gVisor).
 */
const GVISOR_HOST_TASKS_BASE = 128;
const GVISOR_HOST_TASKS_PER_PROCESS = 8;

/**
 * Host-wide /proc files that runc shows the program as they are on the host, beyond what podman
 * masks by default: the load and CPU, interrupt, scheduler, memory-activity, disk and pressure
 * counters (a side channel on whatever else the host runs) and the kernel's boot command line.
 * Masked, they read empty (a directory, empty). Nothing of Python needs them (`os.cpu_count` reads
 * /sys and the CPU affinity). gVisor's /proc is its own already; docker has no option for it.
 */
export const MASKED_PROC_PATHS = [
  '/proc/loadavg',
  '/proc/stat',
  '/proc/interrupts',
  '/proc/softirqs',
  '/proc/schedstat',
  '/proc/vmstat',
  '/proc/diskstats',
  '/proc/pressure',
  '/proc/cmdline',
];

export function buildRunArgs(options: RunArgsOptions): string[] {
  const { engine, limits } = options;
  const gvisor = isGvisor(options.ociRuntime);
  const args = ['run', '--rm', '-i', '--pull', 'never'];
  if (options.ociRuntime) args.push('--runtime', options.ociRuntime);
  if (gvisor && engine === 'podman') args.push('--runtime-flag', 'network=none');
  args.push('--network', 'none', '--read-only');
  // podman mounts tmpfs on /dev/shm, /run, /tmp, /var/tmp of a read-only container unless told not to.
  if (engine === 'podman') args.push('--read-only-tmpfs=false');
  args.push(
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    ...(options.seccompProfile ? ['--security-opt', `seccomp=${options.seccompProfile}`] : []),
    ...(engine === 'podman' && !gvisor ? ['--security-opt', `mask=${MASKED_PROC_PATHS.join(':')}`] : []),
    '--user',
    limits.user,
    '--memory',
    limits.memory,
    '--memory-swap',
    limits.memory,
    '--pids-limit',
    String(
      gvisor ? GVISOR_HOST_TASKS_BASE + GVISOR_HOST_TASKS_PER_PROCESS * limits.pidsLimit : limits.pidsLimit,
    ),
  );
  if (gvisor) args.push('--ulimit', `nproc=${limits.pidsLimit}:${limits.pidsLimit}`);
  if (limits.cpus !== undefined) args.push('--cpus', String(limits.cpus));
  // The engine creates both tmpfs mode 1777 (runc and runsc alike), so any non-root
  // MCP_BRIDGE_CONTAINER_USER can write there; they vanish with the container, i.e. after one run.
  args.push(
    '--tmpfs',
    `/tmp:rw,noexec,nosuid,nodev,size=${limits.tmpfsSize}`,
    '--tmpfs',
    `${SANDBOX_WORKSPACE}:rw,noexec,nosuid,nodev,size=${limits.workspaceSize ?? DEFAULT_WORKSPACE_SIZE}`,
    // An init as PID 1 forwards signals and reaps; Python as PID 1 ignores SIGTERM and `rm -f` waits.
    '--init',
    '--log-driver',
    'none',
    '--name',
    options.name,
    '--label',
    `${OWNER_LABEL}=${options.ownerPid}`,
    ...(engine === 'podman' && options.pidFile ? ['--pidfile', options.pidFile] : []),
    '-v',
    `${options.runtimeDir}:${SANDBOX_RUNTIME_MOUNT}:ro`,
  );
  // Read-only: connecting to a socket needs no write access to the mount, and nothing else is needed.
  if (options.channelDir) args.push('-v', `${options.channelDir}:${CHANNEL_MOUNT}:ro`);
  if (options.hostsFile) args.push('-v', `${options.hostsFile}:/etc/hosts:ro`);
  if (options.resolvConfFile) args.push('-v', `${options.resolvConfFile}:/etc/resolv.conf:ro`);
  // Start from an empty environment: the image's and engine's defaults are dropped, ours never enter.
  if (engine === 'podman') args.push('--unsetenv-all');
  args.push(
    '--env',
    'PATH=/usr/local/bin:/usr/bin:/bin',
    '--env',
    `HOME=${SANDBOX_WORKSPACE}`,
    '--env',
    'LANG=C.UTF-8',
    '--workdir',
    SANDBOX_WORKSPACE,
    '--entrypoint',
    'python3',
    options.image,
    '-I',
    '-B',
    `${SANDBOX_RUNTIME_MOUNT}/entry.py`,
  );
  if (options.channelDir) args.push('--channel', `${CHANNEL_MOUNT}/${CHANNEL_SOCKET}`);
  return args;
}

/** Arguments that remove a container now, without the engine's graceful-stop wait. */
export function buildRemoveArgs(engine: ContainerEngine, names: string[]): string[] {
  return engine === 'podman' ? ['rm', '-f', '-t', '0', ...names] : ['rm', '-f', ...names];
}
