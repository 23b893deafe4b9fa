import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PODMAN_SECCOMP_PATHS,
  type SeccompProfile,
  withoutUserNamespaces,
} from '../../../src/sandbox/container/seccomp.js';

const NEWUSER = 0x10000000;
const allowed = (profile: SeccompProfile, name: string) =>
  (profile.syscalls ?? []).filter((rule) => rule.names.includes(name));

describe('withoutUserNamespaces', () => {
  const base: SeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['read', 'clone', 'clone3', 'unshare', 'write'], action: 'SCMP_ACT_ALLOW', args: [] },
      { names: ['unshare'], action: 'SCMP_ACT_ALLOW', args: [], includes: { caps: ['CAP_SYS_ADMIN'] } },
    ],
  };

  it('allows unshare and clone only without CLONE_NEWUSER and refuses them with EPERM with it', () => {
    const profile = withoutUserNamespaces(base);
    for (const name of ['unshare', 'clone']) {
      expect(allowed(profile, name)).toEqual([
        {
          names: ['unshare', 'clone'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: NEWUSER, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
        },
        {
          names: ['unshare', 'clone'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 1,
          args: [{ index: 0, value: NEWUSER, valueTwo: NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }],
        },
      ]);
    }
  });

  it('refuses clone3 with ENOSYS so the C library falls back to clone', () => {
    expect(allowed(withoutUserNamespaces(base), 'clone3')).toEqual([
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [] },
    ]);
  });

  it('keeps every other rule and setting of the profile, and drops rules left with no names', () => {
    const profile = withoutUserNamespaces(base);
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.syscalls?.[0]).toEqual({ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [] });
    expect(profile.syscalls).toHaveLength(4);
    expect(base.syscalls?.[0]?.names).toContain('unshare');
  });

  const installed = PODMAN_SECCOMP_PATHS.find((path) => existsSync(path));
  it.skipIf(!installed)("hardens this machine's podman profile the same way", () => {
    const profile = withoutUserNamespaces(JSON.parse(readFileSync(installed as string, 'utf8')));
    const unconditional = (profile.syscalls ?? []).filter(
      (rule) => rule.action === 'SCMP_ACT_ALLOW' && !rule.args?.length,
    );
    for (const name of ['unshare', 'clone', 'clone3']) {
      expect(unconditional.filter((rule) => rule.names.includes(name))).toEqual([]);
    }
    expect(unconditional.some((rule) => rule.names.includes('read'))).toBe(true);
  });
});
