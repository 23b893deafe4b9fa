/**
 * The seccomp profile of podman sandboxes under runc/crun: podman's own default, with user namespaces
 * taken away. Podman's default allows `unshare(CLONE_NEWUSER)` (and `clone` with that flag): inside a
 * new user namespace the program holds every capability over namespaces it creates, so it can mount
 * file systems and build network namespaces — the kernel surface `--cap-drop ALL` is meant to remove.
 * Docker's default profile already refuses both without CAP_SYS_ADMIN; gVisor implements namespaces in
 * its own kernel, so neither needs this.
 */
import { readFile } from 'node:fs/promises';

/** Where podman reads its default profile: the administrator's copy first, then the package's. */
export const PODMAN_SECCOMP_PATHS = ['/etc/containers/seccomp.json', '/usr/share/containers/seccomp.json'];

const CLONE_NEWUSER = 0x10000000;
const EPERM = 1;
const ENOSYS = 38;

interface SyscallRule {
  names: string[];
  action: string;
  args?: Array<{ index: number; value: number; valueTwo?: number; op: string }> | null;
  errnoRet?: number;
  [key: string]: unknown;
}

export interface SeccompProfile {
  defaultAction: string;
  syscalls?: SyscallRule[] | null;
  [key: string]: unknown;
}

const NAMESPACE_CALLS = new Set(['unshare', 'clone', 'clone3']);
const newUserFlag = (set: boolean) => [
  { index: 0, value: CLONE_NEWUSER, valueTwo: set ? CLONE_NEWUSER : 0, op: 'SCMP_CMP_MASKED_EQ' },
];

/**
 * `profile` with `unshare` and `clone` allowed only without CLONE_NEWUSER (refused with EPERM when it
 * is set), and `clone3` refused with ENOSYS: its flags sit in a struct seccomp cannot read, and on
 * ENOSYS the C library falls back to `clone`, so threads and `fork` keep working. Pure.
 */
export function withoutUserNamespaces(profile: SeccompProfile): SeccompProfile {
  const syscalls = (profile.syscalls ?? []).flatMap((rule): SyscallRule[] => {
    const names = rule.names.filter((name) => !NAMESPACE_CALLS.has(name));
    return names.length === 0 ? [] : [{ ...rule, names }];
  });
  syscalls.push(
    { names: ['unshare', 'clone'], action: 'SCMP_ACT_ALLOW', args: newUserFlag(false) },
    { names: ['unshare', 'clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: newUserFlag(true) },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS, args: [] },
  );
  return { ...profile, syscalls };
}

/** Podman's default profile hardened by `withoutUserNamespaces`, or undefined when none is readable. */
export async function hardenedPodmanProfile(): Promise<string | undefined> {
  for (const path of PODMAN_SECCOMP_PATHS) {
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    try {
      return JSON.stringify(withoutUserNamespaces(JSON.parse(text) as SeccompProfile));
    } catch {
      // Unreadable as a profile: podman would refuse it too, so leave the choice to podman.
      return undefined;
    }
  }
  return undefined;
}
