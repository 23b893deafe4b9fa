/**
 * The seccomp filter a Monty worker runs under (pure, unit-tested): a classic BPF program, in the
 * bytes bubblewrap's `--seccomp FD` reads, that refuses with EPERM the system calls an interpreter
 * of Python with no files, no network and no processes never makes. A denylist, not an allowlist:
 * the worker's own needs are a few dozen calls (read, write, mmap, futex, …; `strace` of a run with
 * gathered calls, imports, a MemoryError and a RecursionError), but the dynamic loader and glibc
 * differ between machines, and what this guards is the kernel's attack surface: sockets, processes,
 * namespaces, mounts, modules, tracing, keys, BPF, io_uring, userfaultfd, perf.
 */

/** `AUDIT_ARCH_X86_64`: the only architecture the pinned worker binary exists for. */
const AUDIT_ARCH_X86_64 = 0xc000003e;
/** System call numbers at or above this are the x32 ABI on x86_64: refused as a whole. */
const X32_SYSCALL_BIT = 0x40000000;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;
const SECCOMP_RET_KILL_PROCESS = 0x80000000;
const EPERM = 1;

const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_RET_K = 0x06;
/** Offsets in `struct seccomp_data`. */
const DATA_NR = 0;
const DATA_ARCH = 4;

/** x86_64 system calls refused, by name (the number is what the filter compares). */
export const REFUSED_SYSCALLS_X86_64: Readonly<Record<string, number>> = {
  socket: 41,
  connect: 42,
  accept: 43,
  sendto: 44,
  recvfrom: 45,
  sendmsg: 46,
  recvmsg: 47,
  shutdown: 48,
  bind: 49,
  listen: 50,
  socketpair: 53,
  setsockopt: 54,
  getsockopt: 55,
  clone: 56,
  fork: 57,
  vfork: 58,
  ptrace: 101,
  syslog: 103,
  uselib: 134,
  personality: 135,
  vhangup: 153,
  modify_ldt: 154,
  pivot_root: 155,
  _sysctl: 156,
  chroot: 161,
  acct: 163,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  sethostname: 170,
  setdomainname: 171,
  iopl: 172,
  ioperm: 173,
  create_module: 174,
  init_module: 175,
  delete_module: 176,
  quotactl: 179,
  nfsservctl: 180,
  lookup_dcookie: 212,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  unshare: 272,
  move_pages: 279,
  accept4: 288,
  perf_event_open: 298,
  recvmmsg: 299,
  fanotify_init: 300,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  sendmmsg: 307,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kcmp: 312,
  finit_module: 313,
  memfd_create: 319,
  kexec_file_load: 320,
  bpf: 321,
  execveat: 322,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  pidfd_open: 434,
  clone3: 435,
  pidfd_getfd: 438,
  quotactl_fd: 443,
  memfd_secret: 447,
};

function instruction(code: number, jt: number, jf: number, k: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeUInt16LE(code, 0);
  bytes.writeUInt8(jt, 2);
  bytes.writeUInt8(jf, 3);
  bytes.writeUInt32LE(k >>> 0, 4);
  return bytes;
}

/**
 * The filter as `struct sock_filter[]` bytes: a wrong architecture kills the process, a refused
 * call (or any x32 call) fails with EPERM, everything else is allowed.
 */
export function buildSeccompFilter(
  refused: readonly number[] = Object.values(REFUSED_SYSCALLS_X86_64),
): Buffer {
  const numbers = [...new Set(refused)].sort((a, b) => a - b);
  // Layout: [0] load arch, [1] check it, [2] load nr, [3] x32 check, [4 …] one comparison per call,
  // then ALLOW, ERRNO, KILL. Jump offsets count the instructions skipped (at most 255).
  const compares = numbers.length;
  const allow = 4 + compares;
  const errno = allow + 1;
  const kill = errno + 1;
  if (kill > 255) throw new Error('seccomp filter too long for one-byte jumps');
  const program = [
    instruction(BPF_LD_W_ABS, 0, 0, DATA_ARCH),
    instruction(BPF_JMP_JEQ_K, 0, kill - 2, AUDIT_ARCH_X86_64),
    instruction(BPF_LD_W_ABS, 0, 0, DATA_NR),
    instruction(BPF_JMP_JGE_K, errno - 4, 0, X32_SYSCALL_BIT),
    ...numbers.map((nr, index) => instruction(BPF_JMP_JEQ_K, errno - (4 + index) - 1, 0, nr)),
    instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    instruction(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
    instruction(BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
  ];
  return Buffer.concat(program);
}
