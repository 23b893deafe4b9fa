/** Hostile cases: Escaping the sandbox: host files, processes, kernel interfaces, the runtime itself. */

import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { expect } from 'vitest';
import {
  ATTEMPT,
  CONTAINERS,
  EACCES,
  EMBEDDED,
  EROFS,
  type HostileCase,
  literal,
  python,
  report,
  SYSCALL,
} from './kit.js';

export const ESCAPE: HostileCase[] = [
  {
    name: 'runs locked down: no network, read-only root, noexec /tmp, no caps, uid 65534, empty env',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import ctypes, json, os, socket, subprocess
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
PR_GET_NO_NEW_PRIVS = 39
report = {"uid": os.getuid(), "gid": os.getgid(), "capeff": status["CapEff"].strip(),
          "nonewprivs": ctypes.CDLL(None).prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
          "status_nonewprivs": status.get("NoNewPrivs", "").strip() or None, "kernel": os.uname().release}
report["interfaces"] = sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").read().splitlines()[2:])
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    report["network"] = "open"
except OSError as error:
    report["network"] = type(error).__name__
def try_write(path):
    try:
        open(path, "w")
        return "writable"
    except OSError as error:
        return error.errno
report["rootfs"] = try_write("/var/tmp/owned")  # world-writable in the image: only the read-only mount stops it
report["usr"] = try_write("/usr/owned")
with open("/tmp/script.sh", "w") as script:
    script.write("#!/bin/sh\necho executed\n")
os.chmod("/tmp/script.sh", 0o755)
try:
    subprocess.run(["/tmp/script.sh"], check=True)
    report["tmp_exec"] = "allowed"
except PermissionError:
    report["tmp_exec"] = "denied"
report["env"] = dict(os.environ)
report["pid1"] = open("/proc/1/cmdline").read().split("\0")[0]
print(json.dumps(report))
`,
    expect: {
      status: 'ok',
      check: (run, context) => {
        const result = report(run);
        expect(result).toMatchObject({
          uid: 65534,
          gid: 65534,
          capeff: '0000000000000000',
          nonewprivs: 1,
          interfaces: ['lo'],
          rootfs: EROFS,
          tmp_exec: 'denied',
        });
        // gVisor's /proc/self/status has no NoNewPrivs line; prctl above reads the same flag from its kernel.
        expect(result.status_nonewprivs).toBe(context.gvisor ? null : '1');
        // gVisor checks permissions before the mount's read-only flag, so a directory uid 65534 may not
        // write anyway fails with EACCES there; /var/tmp (world-writable) proves the root is read-only.
        expect(result.usr).toBe(context.gvisor ? EACCES : EROFS);
        // The program runs on the host's kernel under runc, on gVisor's Sentry under runsc.
        const hostKernel = release();
        if (context.gvisor) expect(result.kernel).not.toBe(hostKernel);
        else expect(result.kernel).toBe(hostKernel);
        expect(result.network).toMatch(/OSError|ConnectionRefusedError|TimeoutError|gaierror/);
        expect(result.pid1).not.toMatch(/python/);
        const env = result.env as Record<string, string>;
        expect(Object.keys(env).sort()).toEqual(expect.arrayContaining(['HOME', 'LANG', 'PATH']));
        for (const key of Object.keys(env)) {
          expect(['HOME', 'LANG', 'PATH', 'HOSTNAME', 'container', 'TERM']).toContain(key);
        }
      },
    },
  },
  {
    name: "sees none of the host's files, also not through /proc/1/root or /proc/self/root",
    category: 'escape',
    backends: CONTAINERS,
    code: (context) => python`
import json, os
seen = {}
for path in ${literal([...context.hostPaths, context.secretFile])}:
    for prefix in ("", "/proc/1/root", "/proc/self/root"):
        seen[prefix + path] = os.path.exists(prefix + path)
print(json.dumps(seen))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const seen = report(run);
        expect(Object.keys(seen).length).toBeGreaterThanOrEqual(15);
        expect(Object.entries(seen).filter(([, exists]) => exists)).toEqual([]);
      },
    },
  },
  {
    name: 'cannot open /proc/self/exe or /proc/1/exe for writing (the runc overwrite, CVE-2019-5736)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
print(json.dumps({path: await attempt(lambda path=path: os.open(path, os.O_WRONLY)) for path in ("/proc/self/exe", "/proc/1/exe")}))
`,
    // Both binaries are root's, 0755, on a read-only root: refused for permission first.
    expect: { status: 'ok', stdout: '{"/proc/self/exe": "EACCES", "/proc/1/exe": "EACCES"}\n' },
  },
  {
    name: 'cannot mount, pivot_root, chroot, setns or unshare a network or pid namespace',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
# gVisor has no /proc/<pid>/ns: setns then gets a bad descriptor, which it must refuse as well.
namespace = os.open("/proc/1/ns/mnt", os.O_RDONLY) if os.path.exists("/proc/1/ns/mnt") else -1
print(json.dumps({
    "mount": sc(165, b"none", b"/tmp", b"tmpfs", 0, 0),
    "umount2": sc(166, b"/workspace", 2),
    "pivot_root": sc(155, b"/tmp", b"/tmp"),
    "chroot": sc(161, b"/tmp"),
    "setns": sc(308, namespace, 0),
    "unshare_net": sc(272, 0x40000000),
    "unshare_pid": sc(272, 0x20000000),
    "open_tree": sc(428, -100, b"/", 1),
    "fsopen": sc(430, b"tmpfs", 0),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(9);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot gain capabilities in a user namespace of its own and mount a file system there',
    category: 'escape',
    backends: CONTAINERS,
    // A single-threaded (forked) process: unshare(CLONE_NEWUSER) refuses a multi-threaded caller anyway.
    code: python`
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
read_end, write_end = os.pipe()
if os.fork() == 0:
    steps = {}
    def step(name, result):
        steps[name] = "ok" if result == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
        return result == 0
    if step("unshare_user", libc.unshare(0x10000000)) and step("unshare_mount", libc.unshare(0x00020000)):
        step("mount", libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    os.write(write_end, json.dumps(steps).encode())
    os._exit(0)
os.close(write_end)
os.wait()
print(os.read(read_end, 4096).decode())
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const steps = report(run);
        if (context.gvisor) {
          // gVisor's Sentry creates the namespaces inside the sandbox but still refuses the mount.
          expect(steps).toEqual({ unshare_user: 'ok', unshare_mount: 'ok', mount: 'EPERM' });
        } else {
          // Under runc a user namespace would hand the program CAP_SYS_ADMIN over new namespaces
          // (mount, network, …): the bridge's seccomp profile refuses CLONE_NEWUSER.
          expect(steps).toEqual({ unshare_user: 'EPERM' });
        }
      },
    }),
  },
  {
    name: 'cannot use admin-only kernel interfaces: bpf, userfaultfd, perf_event_open, add_key, request_key',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
attr = ctypes.create_string_buffer(128)
print(json.dumps({
    "bpf": sc(321, 0, attr, 128),
    "userfaultfd": sc(323, 0),
    "perf_event_open": sc(298, attr, 0, -1, -1, 0),
    "add_key": sc(248, b"user", b"hostile", b"payload", 7, -3),
    "request_key": sc(249, b"user", b"hostile", 0, 0),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot load kernel modules, reboot, kexec, swap, set the clock, raise I/O privilege or read the kernel log',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
log = ctypes.create_string_buffer(4096)
results = {
    "init_module": sc(175, 0, 0, b""),
    "finit_module": sc(313, 0, b"", 0),
    "delete_module": sc(176, b"ext4", 0),
    "kexec_load": sc(246, 0, 0, 0, 0),
    "kexec_file_load": sc(320, 0, 0, 0, b"", 0),
    "reboot": sc(169, 0xfee1dead, 672274793, 0x1234567, 0),
    "swapon": sc(167, b"/tmp/swap", 0),
    "settimeofday": sc(164, ctypes.create_string_buffer(16), 0),
    "clock_settime": sc(227, 0, ctypes.create_string_buffer(16)),
    "iopl": sc(172, 3),
    "ioperm": sc(173, 0, 1024, 1),
    "acct": sc(163, b"/tmp/acct"),
    "syslog": sc(103, 3, log, 4096),
}
results["log"] = log.value[:40].decode("latin-1")
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const { log, syslog, ...results } = report(run);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
        // gVisor answers syslog with its own made-up boot log, not the host's.
        if (context.gvisor) expect(log).toMatch(/Starting gVisor/);
        else expect(syslog).not.toBe('ok');
      },
    }),
  },
  {
    name: "sees only its own sandbox's processes and cannot signal or read the bridge",
    category: 'escape',
    backends: CONTAINERS,
    code: (context) => python`
${SYSCALL}
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
buffer = ctypes.create_string_buffer(8)
iov = (ctypes.c_void_p * 2)(ctypes.cast(buffer, ctypes.c_void_p), 8)
remote = (ctypes.c_void_p * 2)(0x400000, 8)
results = {"pids": pids, "comms": sorted({open(f"/proc/{p}/comm").read().strip() for p in pids})}
try:
    os.kill(${context.bridgePid}, 0)
    results["kill"] = "ok"
except OSError as error:
    results["kill"] = _errno.errorcode[error.errno]
results["process_vm_readv"] = sc(310, ${context.bridgePid}, iov, 1, remote, 1, 0)
results["ptrace"] = sc(101, 16, ${context.bridgePid}, 0, 0)
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.kill).toBe('ESRCH');
        expect(results.process_vm_readv).toBe(context.gvisor ? 'ENOSYS' : 'ESRCH');
        expect(results.ptrace).toBe('ESRCH');
        // The init, the runtime and whatever they started: a handful of small pids, never the bridge's.
        expect((results.pids as number[]).length).toBeLessThan(10);
        expect(results.pids).not.toContain(context.bridgePid);
        for (const comm of results.comms as string[]) expect(['podman-init', 'python3']).toContain(comm);
      },
    }),
  },
  {
    name: 'cannot open files by handle (the "shocker" escape: open_by_handle_at)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
handle = ctypes.create_string_buffer(b"\x08\x00\x00\x00\x01\x00\x00\x00" + b"\x02" + b"\x00" * 7)
print(json.dumps({"open_by_handle_at": sc(304, os.open("/", os.O_RDONLY), handle, 0)}))
`,
    expect: (context) => ({
      status: 'ok',
      stdout: `{"open_by_handle_at": "${context.gvisor ? 'ENOTSUP' : 'EPERM'}"}\n`,
    }),
  },
  {
    name: 'cannot become root: setuid, setgid, setgroups, setresuid, capset',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
header = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)(*[0xFFFFFFFF] * 6)
groups = (ctypes.c_uint32 * 1)(0)
print(json.dumps({
    "setuid": sc(105, 0), "setgid": sc(106, 0), "setgroups": sc(116, 1, groups),
    "setresuid": sc(117, 0, 0, 0), "capset": sc(126, header, data), "uid": os.getuid(),
}))
`,
    expect: {
      status: 'ok',
      stdout:
        '{"setuid": "EPERM", "setgid": "EPERM", "setgroups": "EPERM", "setresuid": "EPERM", "capset": "EPERM", "uid": 65534}\n',
    },
  },
  {
    name: 'gains nothing from setuid-root binaries (mount, su) under no_new_privs',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import json, os, stat, subprocess
report = {binary: bool(os.stat(binary).st_mode & stat.S_ISUID) for binary in ("/usr/bin/mount", "/usr/bin/su")}
mount = subprocess.run(["mount", "-t", "tmpfs", "none", "/tmp"], capture_output=True, text=True)
su = subprocess.run(["su", "-c", "id -u"], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=10)
report["mount"] = [mount.returncode, mount.stderr.strip()]
report["su"] = [su.returncode, su.stdout.strip(), su.stderr.strip()]
print(json.dumps(report))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const result = report(run);
        // The test means something only while these binaries really are setuid root in the image.
        expect(result).toMatchObject({ '/usr/bin/mount': true, '/usr/bin/su': true });
        const [mountCode, mountError] = result.mount as [number, string];
        expect(mountCode).not.toBe(0);
        expect(mountError).toMatch(/must be superuser|permission denied|only root/i);
        const [suCode, suOut] = result.su as [number, string];
        expect(suCode).not.toBe(0);
        expect(suOut).toBe('');
      },
    },
  },
  {
    name: 'cannot clear no_new_privs or raise ambient capabilities',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import ctypes, errno, json
libc = ctypes.CDLL(None, use_errno=True)
def prctl(*args):
    result = libc.prctl(*args)
    return result if result >= 0 else errno.errorcode[ctypes.get_errno()]
print(json.dumps({
    "clear": prctl(38, 0, 0, 0, 0),
    "ambient_raise": prctl(47, 2, 21, 0, 0),
    "still_set": prctl(39, 0, 0, 0, 0),
}))
`,
    // gVisor refuses to raise an ambient capability that is not permitted with EINVAL, Linux with EPERM.
    expect: (context) => ({
      status: 'ok',
      stdout: `{"clear": "EINVAL", "ambient_raise": "${context.gvisor ? 'EINVAL' : 'EPERM'}", "still_set": 1}\n`,
    }),
  },
  {
    name: 'cannot escape through cgroups: release_agent, notify_on_release, its own limits, a cgroup mount',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
${SYSCALL}
def write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
print(json.dumps({
    "release_agent": await attempt(lambda: write("/sys/fs/cgroup/memory/release_agent", b"/tmp/x")),
    "rdma_release_agent": await attempt(lambda: write("/sys/fs/cgroup/rdma/release_agent", b"/tmp/x")),
    "notify_on_release": await attempt(lambda: write("/sys/fs/cgroup/memory/notify_on_release", b"1")),
    "new_cgroup": await attempt(lambda: os.mkdir("/sys/fs/cgroup/memory/escape")),
    "memory_limit": await attempt(lambda: write("/sys/fs/cgroup/memory/memory.limit_in_bytes", b"-1")),
    "pids_max": await attempt(lambda: write("/sys/fs/cgroup/pids/pids.max", b"max")),
    "unified_memory_max": await attempt(lambda: write("/sys/fs/cgroup/memory.max", b"max")),
    "mount_cgroup": sc(165, b"cgroup", b"/tmp", b"cgroup", 0, b"memory"),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot write /proc/sys, core_pattern, sysrq-trigger or /sys',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
def write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
print(json.dumps({path: await attempt(lambda path=path: write(path, b"|/tmp/x")) for path in (
    "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe", "/proc/sys/vm/drop_caches",
    "/proc/sysrq-trigger", "/proc/sys/kernel/hostname", "/sys/kernel/mm/transparent_hugepage/enabled",
    "/sys/kernel/uevent_helper", "/sys/power/state",
)}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'has only the standard devices and cannot make or open a host device',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
${SYSCALL}
results = {"dev": sorted(os.listdir("/dev"))}
for name, kind, major, minor in (("mem", 0o20000, 1, 1), ("kmsg", 0o20000, 1, 11), ("sda", 0o60000, 8, 0)):
    path = "/tmp/" + name
    results["mknod_" + name] = sc(133, path.encode(), kind | 0o666, (major << 8) | minor)
    results["open_" + name] = await attempt(lambda path=path: os.open(path, os.O_RDONLY))
for name in ("mem", "kmem", "port", "kmsg", "sda", "vda", "fuse", "net/tun"):
    results["dev_" + name] = os.path.exists("/dev/" + name)
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        for (const name of ['mem', 'kmem', 'port', 'kmsg', 'sda', 'vda', 'fuse', 'net/tun']) {
          // gVisor's /dev has a fuse device of its own, served by the Sentry; using it needs mount(2),
          // which is refused (see the mount case).
          if (name === 'fuse' && context.gvisor) continue;
          // Its tun device is the Sentry's too, in a network stack with no interface but loopback
          // (network=none); configuring one needs CAP_NET_ADMIN, which no process holds.
          if (name === 'net/tun' && context.gvisor) continue;
          expect(results[`dev_${name}`], name).toBe(false);
        }
        for (const name of ['mem', 'kmsg', 'sda']) {
          // gVisor lets mknod through (it serves its own devices, and none of these), so the open is
          // what must fail there; the host kernel refuses the mknod itself (no CAP_MKNOD).
          if (context.gvisor) expect(results[`open_${name}`], name).not.toBe('ok');
          else expect(results[`mknod_${name}`], name).toBe('EPERM');
        }
      },
    }),
  },
  {
    name: "cannot change the runtime mounted from the host (and the host's copy stays intact)",
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
entry = "/opt/codemode/entry.py"
print(json.dumps({
    "append": await attempt(lambda: os.open(entry, os.O_WRONLY | os.O_APPEND)),
    "truncate": await attempt(lambda: os.truncate(entry, 0)),
    "chmod": await attempt(lambda: os.chmod(entry, 0o777)),
    "utime": await attempt(lambda: os.utime(entry)),
    "rename": await attempt(lambda: os.rename(entry, "/opt/codemode/moved.py")),
    "unlink": await attempt(lambda: os.unlink(entry)),
    "create": await attempt(lambda: os.open("/opt/codemode/new.py", os.O_CREAT | os.O_WRONLY)),
    "mkdir": await attempt(lambda: os.mkdir("/opt/codemode/codemode_runtime/x")),
}))
`,
    expect: (context) => {
      const before = context.sha256(context.runtimeEntry);
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(8);
          expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
          expect(context.sha256(context.runtimeEntry)).toBe(before);
        },
      };
    },
  },
  {
    name: 'gets nothing through symlinks and hard links in /tmp and /workspace',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
os.symlink("/etc/shadow", "/tmp/shadow")
os.symlink("/opt/codemode/entry.py", "/workspace/entry")
os.symlink("/", "/tmp/root")
print(json.dumps({
    "shadow": await attempt(lambda: open("/tmp/shadow").read()),
    "runtime": await attempt(lambda: os.open("/workspace/entry", os.O_WRONLY | os.O_APPEND)),
    "passwd": await attempt(lambda: os.open("/tmp/root/etc/passwd", os.O_WRONLY | os.O_APPEND)),
    "hardlink": await attempt(lambda: os.link("/opt/codemode/entry.py", "/tmp/entry")),
    "hardlink_shadow": await attempt(lambda: os.link("/etc/shadow", "/workspace/shadow")),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.shadow).toBe('EACCES');
        expect(results.runtime).toMatch(/^(EACCES|EROFS)$/);
        expect(results.passwd).toMatch(/^(EACCES|EROFS)$/);
        expect(results.hardlink).toBe('EXDEV');
        expect(results.hardlink_shadow).toBe(context.gvisor ? 'EXDEV' : 'EXDEV');
      },
    }),
  },
  {
    name: 'cannot execute programs from /tmp, /workspace or /dev/shm (noexec), not even through ld.so',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import json, os, shutil, subprocess
results = {}
for directory in ("/tmp", "/workspace", "/dev/shm"):
    target = directory + "/true"
    shutil.copy("/bin/true", target)
    os.chmod(target, 0o755)
    try:
        results[directory] = subprocess.run([target]).returncode
    except PermissionError:
        results[directory] = "EACCES"
loader = subprocess.run(["/lib64/ld-linux-x86-64.so.2", "/tmp/true"], capture_output=True, text=True)
results["ld.so"] = [loader.returncode, loader.stderr.strip()[:200]]
print(json.dumps(results))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results).toMatchObject({ '/tmp': 'EACCES', '/workspace': 'EACCES', '/dev/shm': 'EACCES' });
        const [code, message] = results['ld.so'] as [number, string];
        if (context.gvisor) {
          // gVisor enforces noexec on execve only: the loader maps /tmp/true and runs it.
          expect(code).toBe(0);
        } else {
          expect(code).not.toBe(0);
          expect(message).toMatch(/failed to map segment/);
        }
      },
    }),
  },
  {
    name: 'cannot load a shared object it wrote to /tmp through ctypes (noexec mmap)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
import ctypes, shutil
shutil.copy("/lib/x86_64-linux-gnu/libm.so.6", "/tmp/libhostile.so")
try:
    ctypes.CDLL("/tmp/libhostile.so")
    print("loaded")
except OSError as error:
    print("refused:", error)
`,
    // gVisor does not apply noexec to mmap(PROT_EXEC): the library loads. (ctypes can map executable
    // memory anyway, so neither runtime stops native code; noexec keeps /tmp for data.)
    expect: (context) =>
      context.gvisor
        ? { status: 'ok', stdout: 'loaded\n' }
        : { status: 'ok', stdout: 'refused: /tmp/libhostile.so: failed to map segment from shared object\n' },
  },
  {
    name: 'has no capability: chown to root, binding port 80, raising a hard limit, lowering oom_score_adj',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import resource, socket
status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
open("/tmp/owned", "w").close()
# One above the hard limit the sandbox was given, whatever that is (gVisor's differs from runc's).
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
def lower_oom():
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY)
    try:
        os.write(fd, b"-1000")
    finally:
        os.close(fd)
print(json.dumps({
    "caps": {name: status.get(name, "absent").strip() for name in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
    "chown": await attempt(lambda: os.chown("/tmp/owned", 0, 0)),
    "port80": await attempt(lambda: socket.socket().bind(("127.0.0.1", 80))),
    "rlimit": await attempt(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (hard + 1, hard + 1))),
    "oom_score_adj": await attempt(lower_oom),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        const zero = '0000000000000000';
        expect(results.caps).toEqual({
          CapInh: zero,
          CapPrm: zero,
          CapEff: zero,
          CapBnd: zero,
          // gVisor's /proc/self/status has no CapAmb line.
          CapAmb: context.gvisor ? 'absent' : zero,
        });
        expect(results.chown).toBe('EPERM');
        expect(results.rlimit).toBe('ValueError'); // "not allowed to raise maximum limit" (EPERM)
        expect(results.port80).toBe(context.gvisor ? 'ok' : 'EACCES');
        // gVisor keeps oom_score_adj inside its own kernel; the host's OOM killer never reads it.
        expect(results.oom_score_adj).toBe(context.gvisor ? 'ok' : 'EACCES');
      },
    }),
  },
  {
    name: "never sees the bridge's or the upstream servers' secret: environ of every process, the interpreter's objects",
    category: 'escape',
    code: (context) => python`
import gc, json, os
needle = ${literal([...context.secret].reverse().join(''))}[::-1]
found = []
if os.path.isdir("/proc"):
    for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
        for name in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{name}", "rb") as file:
                    if needle.encode() in file.read():
                        found.append(f"/proc/{pid}/{name}")
            except OSError:
                pass
for obj in gc.get_objects():
    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple, set, frozenset)) else ()
    for value in list(values):
        if value is needle:
            continue
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str) and needle in value:
            found.append(type(obj).__name__)
print(json.dumps({"found": found, "environ": sorted(os.environ)}))
`,
    expect: { status: 'ok', check: (run) => expect(report(run).found).toEqual([]) },
  },
  {
    name: 'cannot rename its host (sethostname, setdomainname)',
    category: 'escape',
    backends: CONTAINERS,
    code: python`
${SYSCALL}
print(json.dumps({"sethostname": sc(170, b"pwned", 5), "setdomainname": sc(171, b"pwned", 5)}))
`,
    expect: { status: 'ok', stdout: '{"sethostname": "EPERM", "setdomainname": "EPERM"}\n' },
  },

  // embedded: Deno's permissions are the wall; Python reaches the worker's JavaScript through `js`.
  {
    name: "cannot read host files: /etc/passwd, the secret, the bridge's own files, the state dir",
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
import js, os
for path in ${literal(['/etc/passwd', context.secretFile, ...context.hostPaths, context.stateDir])}:
    try:
        open(path).read()
        print("python READ", path)
    except OSError as error:
        print("python", type(error).__name__)
    try:
        js.Deno.readTextFileSync(path)
        print("deno READ", path)
    except Exception as error:
        print("deno", "NotCapable" if "NotCapable" in str(error) else "IsADirectory" if "directory" in str(error) else str(error)[:100])
for url in ["file:///etc/passwd", "file://${context.secretFile}"]:
    try:
        await js.fetch(url)
        print("fetch READ", url)
    except Exception as error:
        print("fetch", "NotCapable" if "NotCapable" in str(error) else str(error)[:100])
print(sorted(os.listdir("/")))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const stdout = run.outcome?.stdout ?? '';
        expect(stdout).not.toContain('READ');
        const lines = stdout.trimEnd().split('\n');
        expect(
          lines.filter((line) => line.startsWith('deno ')).every((line) => line === 'deno NotCapable'),
        ).toBe(true);
        expect(
          lines.filter((line) => line.startsWith('fetch ')).every((line) => line === 'fetch NotCapable'),
        ).toBe(true);
        expect(lines.at(-1)).not.toMatch(/'etc'|'root'|'work'/);
      },
    },
  },
  {
    name: 'sees no environment variables of the host',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js, os
print(dict(os.environ))
for attempt in (lambda: js.Deno.env.toObject(), lambda: js.Deno.env.get("SECRET_TOKEN"), lambda: js.process.env.SECRET_TOKEN):
    try:
        print("READ", attempt())
    except Exception as error:
        print("NotCapable" if "NotCapable" in str(error) else str(error)[:100])
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const stdout = run.outcome?.stdout ?? '';
        expect(stdout).not.toContain('READ');
        for (const path of context.hostPaths) expect(stdout).not.toContain(path);
        expect(stdout).not.toContain('worker.js');
        expect(stdout.match(/NotCapable/g)?.length).toBe(3);
      },
    }),
  },
  {
    name: 'cannot start processes: subprocess, os.system, posix.system, Deno.Command, node:child_process',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
import js, os, posix, subprocess
marker = ${literal(`${context.secretFile}.pwned`)}
attempts = {
    "subprocess": lambda: subprocess.run(["/bin/sh", "-c", "touch " + marker]),
    "os.system": lambda: os.system("touch " + marker),
    "posix.system": lambda: posix.system("touch " + marker),
    "Deno.Command": lambda: js.Deno.Command.new("/bin/sh", js.JSON.parse('{"args":["-c","touch ' + marker + '"]}')).outputSync(),
}
for name, attempt in attempts.items():
    try:
        attempt()
        print(name, "RAN")
    except Exception as error:
        print(name, "NotCapable" if "NotCapable" in str(error) else type(error).__name__)
try:
    await js.eval("import('node:child_process').then(m => m.execSync('touch " + marker + "'))")
    print("node:child_process RAN")
except Exception as error:
    print("node:child_process", "NotCapable" if "NotCapable" in str(error) else type(error).__name__)
`,
    expect: (context) => ({
      status: 'ok',
      stdout:
        'subprocess OSError\nos.system OSError\nposix.system OSError\nDeno.Command NotCapable\nnode:child_process NotCapable\n',
      check: () => expect(existsSync(`${context.secretFile}.pwned`)).toBe(false),
    }),
  },
  {
    name: 'cannot write, create or truncate host files through Deno',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
snapshot = next(arg.split("=", 1)[1] for arg in js.Deno.args if arg.startswith("--snapshot="))
write = js.JSON.parse('{"write": true}')
print(json.dumps({
    "write": await attempt(lambda: js.Deno.writeTextFileSync(${literal(`${context.secretFile}.written`)}, "x")),
    "mkdir": await attempt(lambda: js.Deno.mkdirSync("/tmp/codemode-hostile-dir")),
    "makeTempDir": await attempt(lambda: js.Deno.makeTempDirSync()),
    "truncate_deno": await attempt(lambda: js.Deno.truncateSync(js.Deno.execPath(), 0)),
    "open_snapshot": await attempt(lambda: js.Deno.openSync(snapshot, write)),
    "remove": await attempt(lambda: js.Deno.removeSync(${literal(context.secretFile)})),
    "chmod": await attempt(lambda: js.Deno.chmodSync(snapshot, 0o777)),
    "symlink": await attempt(lambda: js.Deno.symlinkSync("/etc/passwd", "/tmp/codemode-hostile-link")),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
        expect(existsSync(context.secretFile)).toBe(true);
      },
    }),
  },
  {
    name: 'cannot learn about the host through Deno: hostname, kernel, interfaces, memory, load, uid',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({name: await attempt(getattr(js.Deno, name)) for name in (
    "hostname", "osRelease", "osUptime", "networkInterfaces", "systemMemoryInfo", "loadavg", "uid", "gid",
)}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(8);
        for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
      },
    },
  },
  {
    name: 'cannot load native code: Deno.dlopen, process.dlopen',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({
    "dlopen": await attempt(lambda: js.Deno.dlopen("/lib/x86_64-linux-gnu/libc.so.6", js.JSON.parse("{}"))),
    "process.dlopen": await attempt(lambda: js.process.dlopen(js.Object.new(), "/lib/x86_64-linux-gnu/libc.so.6")),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.dlopen).toBe('NotCapable');
        expect(results['process.dlopen']).not.toBe('ok');
      },
    },
  },
  {
    name: 'cannot signal the bridge or any other process (Deno.kill, process.kill)',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
print(json.dumps({
    "bridge": await attempt(lambda: js.Deno.kill(${context.bridgePid}, "SIGKILL")),
    "ppid": await attempt(lambda: js.Deno.kill(js.Deno.ppid, "SIGTERM")),
    "init": await attempt(lambda: js.Deno.kill(1, "SIGKILL")),
    "group": await attempt(lambda: js.Deno.kill(-${context.bridgePid}, "SIGKILL")),
    "process.kill": await attempt(lambda: js.process.kill(${context.bridgePid}, "SIGKILL")),
}))
`,
    expect: (context) => ({
      status: 'ok',
      stdout:
        '{"bridge": "NotCapable", "ppid": "NotCapable", "init": "NotCapable", "group": "NotCapable", "process.kill": "NotCapable"}\n',
      check: () => expect(context.bridgePid).toBeGreaterThan(0),
    }),
  },
  {
    name: 'is denied every permission it asks for, without a prompt',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js, json
names = ("net", "env", "run", "write", "ffi", "sys", "import")
print(json.dumps({name: js.Deno.permissions.requestSync(js.JSON.parse(json.dumps({"name": name}))).state for name in names}))
print(json.dumps({name: js.Deno.permissions.querySync(js.JSON.parse(json.dumps({"name": name}))).state for name in names}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const [requested, queried] = (run.outcome?.stdout ?? '')
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line));
        for (const state of Object.values(requested)) expect(state).toBe('denied');
        for (const state of Object.values(queried)) expect(state).not.toBe('granted');
      },
    },
  },
  {
    name: 'cannot import code from the network, host files or Node modules that reach the host',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({
    "remote": await attempt(lambda: js.eval("import('https://example.com/x.js')")),
    "file": await attempt(lambda: js.eval("import('file:///etc/passwd')")),
    "node:fs": await attempt(lambda: js.eval("import('node:fs').then(m => m.readFileSync('/etc/passwd', 'utf8'))")),
    "node:os": await attempt(lambda: js.eval("import('node:os').then(m => m.userInfo())")),
    "npm": await attempt(lambda: js.eval("import('npm:left-pad')")),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(5);
        expect(Object.entries(results).filter(([, result]) => result === 'ok')).toEqual([]);
      },
    },
  },
  {
    name: 'cannot reach more through a Worker: it inherits the same empty permissions',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js
print(await js.eval("""new Promise((resolve) => {
  const worker = new Worker('data:text/javascript,try { postMessage(Deno.readTextFileSync("/etc/passwd")) } catch (e) { postMessage("refused " + e.name) }', { type: 'module' });
  worker.onmessage = (event) => { resolve(String(event.data)); worker.terminate(); };
  worker.onerror = (event) => { event.preventDefault(); resolve('error ' + event.message); };
})"""))
`,
    expect: { status: 'ok', stdout: 'refused NotCapable\n' },
  },
  {
    name: 'a Worker asking for more permissions ends only its own sandbox',
    category: 'escape',
    backends: EMBEDDED,
    code: python`
import js
js.eval("new Worker('data:text/javascript,postMessage(1)', { type: 'module', deno: { permissions: { read: true, net: true, run: true } } })")
print("not reached")
`,
    // Deno ends the worker process over an option it was not started with; nothing is granted.
    expect: { status: 'killed', error: /Unstable API 'Worker\.deno\.permissions'/, stdout: '' },
  },
  {
    name: "cannot mount the host's file system into Pyodide's (NODEFS)",
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import pyodide_js
FS = pyodide_js.FS
results = {}
for index, path in enumerate(["/", "/etc", ${literal(context.hostPaths[2])}]):
    mountpoint = "/mnt%d" % index
    results[path] = await attempt(lambda: pyodide_js.mountNodeFS(mountpoint, path))
    results[path + " list"] = await attempt(lambda: os.listdir(mountpoint))
    results[path + " passwd"] = await attempt(lambda: open(mountpoint + "/etc/passwd").read())
print(json.dumps(results))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(Object.keys(results)).toHaveLength(9);
        for (const [name, result] of Object.entries(results)) {
          if (!name.endsWith('list')) expect(result, name).not.toBe('ok');
        }
      },
    },
  },
  {
    name: "cannot leave its directory: Deno.chdir, Deno.realPathSync; the cwd is '/', not the bridge's",
    category: 'escape',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js
print(json.dumps({
    "cwd": js.Deno.cwd(),
    "chdir": await attempt(lambda: js.Deno.chdir("/etc")),
    "realpath": await attempt(lambda: js.Deno.realPathSync(".")),
    "readDir": await attempt(lambda: list(js.Deno.readDirSync("/"))),
}))
`,
    expect: {
      status: 'ok',
      stdout: '{"cwd": "/", "chdir": "NotCapable", "realpath": "NotCapable", "readDir": "NotCapable"}\n',
    },
  },
  {
    name: 'finds no secret and no user data in the snapshot it may read',
    category: 'escape',
    backends: EMBEDDED,
    code: (context) => python`
import js
snapshot = next(arg.split("=", 1)[1] for arg in js.Deno.args if arg.startswith("--snapshot="))
data = bytes(js.Deno.readFileSync(snapshot).to_py())
needle = ${literal([...context.secret].reverse().join(''))}[::-1].encode()
print(len(data) > 1_000_000, needle in data, b"hostile-warm-up" in data)
`,
    expect: { status: 'ok', stdout: 'True False False\n' },
  },
];
