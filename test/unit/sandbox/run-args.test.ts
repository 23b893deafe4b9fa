import { describe, expect, it } from 'vitest';
import { buildRemoveArgs, buildRunArgs, MASKED_PROC_PATHS } from '../../../src/sandbox/container/run-args.js';

const base = {
  image: 'python:3.12-slim',
  name: 'codemode-1-1',
  ownerPid: 1,
  runtimeDir: '/pkg/runtime/python',
  limits: { memory: '512m', pidsLimit: 128, cpus: undefined, user: '65534:65534', tmpfsSize: '64m' },
};

function flagValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index === -1 ? undefined : args[index + 1];
}

function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1] ?? ''] : []));
}

describe('buildRunArgs', () => {
  it('locks a podman sandbox down as the trust boundary says', () => {
    const args = buildRunArgs({ ...base, engine: 'podman' });
    for (const flag of ['--rm', '-i', '--read-only', '--read-only-tmpfs=false', '--init', '--unsetenv-all']) {
      expect(args).toContain(flag);
    }
    expect(flagValue(args, '--network')).toBe('none');
    expect(flagValue(args, '--pull')).toBe('never');
    expect(flagValue(args, '--cap-drop')).toBe('ALL');
    expect(flagValue(args, '--security-opt')).toBe('no-new-privileges');
    expect(flagValue(args, '--user')).toBe('65534:65534');
    expect(flagValue(args, '--memory')).toBe('512m');
    expect(flagValue(args, '--memory-swap')).toBe('512m');
    expect(flagValue(args, '--pids-limit')).toBe('128');
    expect(flagValues(args, '--tmpfs')).toEqual([
      '/tmp:rw,noexec,nosuid,nodev,size=64m',
      '/workspace:rw,noexec,nosuid,nodev,size=128m',
    ]);
    expect(flagValue(args, '--log-driver')).toBe('none');
    expect(flagValue(args, '--label')).toBe('codemode-bridge.owner=1');
    expect(flagValue(args, '-v')).toBe('/pkg/runtime/python:/opt/codemode:ro');
    expect(args).not.toContain('--cpus');
    expect(args.slice(-4)).toEqual(['python:3.12-slim', '-I', '-B', '/opt/codemode/entry.py']);
  });

  it.each(['podman', 'docker'] as const)(
    'gives %s programs /workspace as working directory and HOME, as the reference bridge does',
    (engine) => {
      const args = buildRunArgs({ ...base, engine, limits: { ...base.limits, workspaceSize: '1g' } });
      expect(flagValues(args, '--tmpfs')).toContain('/workspace:rw,noexec,nosuid,nodev,size=1g');
      expect(flagValue(args, '--workdir')).toBe('/workspace');
      expect(flagValues(args, '--env')).toEqual([
        'PATH=/usr/local/bin:/usr/bin:/bin',
        'HOME=/workspace',
        'LANG=C.UTF-8',
      ]);
    },
  );

  it("has podman write the container's host pid where asked (its cgroup carries the CPU weight); docker has no such flag", () => {
    const pidFile = '/run/bridge/codemode-1-1.pid';
    expect(flagValue(buildRunArgs({ ...base, engine: 'podman', pidFile }), '--pidfile')).toBe(pidFile);
    expect(buildRunArgs({ ...base, engine: 'podman' })).not.toContain('--pidfile');
    expect(buildRunArgs({ ...base, engine: 'docker', pidFile })).not.toContain('--pidfile');
  });

  it('leaves the OCI runtime to the engine unless one is configured (auto never picks gVisor)', () => {
    for (const engine of ['podman', 'docker'] as const) {
      const args = buildRunArgs({ ...base, engine });
      expect(args).not.toContain('--runtime');
      expect(args).not.toContain('--runtime-flag');
      expect(args).not.toContain('--ulimit');
    }
  });

  it('adds --cpus when set and leaves out podman-only flags for docker', () => {
    const args = buildRunArgs({ ...base, engine: 'docker', limits: { ...base.limits, cpus: 0.5 } });
    expect(flagValue(args, '--cpus')).toBe('0.5');
    expect(args).not.toContain('--read-only-tmpfs=false');
    expect(args).not.toContain('--unsetenv-all');
  });
});

describe('buildRunArgs with a seccomp profile', () => {
  it('passes the profile file beside no-new-privileges', () => {
    const args = buildRunArgs({ ...base, engine: 'podman', seccompProfile: '/run/b/seccomp.json' });
    expect(flagValues(args, '--security-opt')).toEqual([
      'no-new-privileges',
      'seccomp=/run/b/seccomp.json',
      `mask=${MASKED_PROC_PATHS.join(':')}`,
    ]);
  });
});

describe('buildRunArgs: what the program may learn of the host', () => {
  it("masks host-wide /proc files under podman's runc, where /proc is the host kernel's", () => {
    const args = buildRunArgs({ ...base, engine: 'podman' });
    expect(flagValues(args, '--security-opt')).toContain(`mask=${MASKED_PROC_PATHS.join(':')}`);
    expect(MASKED_PROC_PATHS).toEqual(expect.arrayContaining(['/proc/loadavg', '/proc/stat']));
  });

  it('masks nothing more under gVisor, whose /proc is its own, nor for docker, which has no such option', () => {
    for (const args of [
      buildRunArgs({ ...base, engine: 'podman', ociRuntime: 'runsc' }),
      buildRunArgs({ ...base, engine: 'docker' }),
    ]) {
      expect(flagValues(args, '--security-opt').some((value) => value.startsWith('mask='))).toBe(false);
    }
  });

  it.each(['podman', 'docker'] as const)(
    'mounts its own /etc/hosts and /etc/resolv.conf for %s',
    (engine) => {
      const args = buildRunArgs({
        ...base,
        engine,
        runtimeDir: '/tmp/codemode-a1b2c3/runtime',
        hostsFile: '/tmp/codemode-a1b2c3/hosts',
        resolvConfFile: '/tmp/codemode-a1b2c3/resolv.conf',
      });
      expect(flagValues(args, '-v')).toEqual([
        '/tmp/codemode-a1b2c3/runtime:/opt/codemode:ro',
        '/tmp/codemode-a1b2c3/hosts:/etc/hosts:ro',
        '/tmp/codemode-a1b2c3/resolv.conf:/etc/resolv.conf:ro',
      ]);
    },
  );
});

describe('buildRunArgs with an OCI runtime', () => {
  it.each(['runc', 'crun', '/opt/bin/crun'])('passes %s as --runtime and nothing else', (ociRuntime) => {
    const args = buildRunArgs({ ...base, engine: 'podman', ociRuntime });
    expect(flagValue(args, '--runtime')).toBe(ociRuntime);
    expect(args).not.toContain('--runtime-flag');
    expect(args).not.toContain('--ulimit');
    expect(flagValue(args, '--pids-limit')).toBe('128');
  });

  it.each(['runsc', '/usr/local/bin/runsc'])(
    'runs podman with gVisor (%s): its own network off, the pids limit as RLIMIT_NPROC',
    (ociRuntime) => {
      const args = buildRunArgs({ ...base, engine: 'podman', ociRuntime });
      expect(flagValue(args, '--runtime')).toBe(ociRuntime);
      expect(flagValue(args, '--runtime-flag')).toBe('network=none');
      expect(flagValue(args, '--network')).toBe('none');
      expect(flagValue(args, '--ulimit')).toBe('nproc=128:128');
      // The cgroup also holds the Sentry's own threads: a backstop above what the program may use.
      expect(Number(flagValue(args, '--pids-limit'))).toBeGreaterThan(128 * 5);
      // Everything else is as under runc.
      for (const flag of ['--read-only', '--read-only-tmpfs=false', '--init', '--unsetenv-all']) {
        expect(args).toContain(flag);
      }
      expect(flagValue(args, '--cap-drop')).toBe('ALL');
      expect(flagValue(args, '--memory')).toBe('512m');
      expect(flagValues(args, '--tmpfs')).toContain('/workspace:rw,noexec,nosuid,nodev,size=128m');
      expect(flagValue(args, '--workdir')).toBe('/workspace');
      expect(args.slice(-4)).toEqual(['python:3.12-slim', '-I', '-B', '/opt/codemode/entry.py']);
    },
  );

  it('runs docker with gVisor without runtime flags (they live in daemon.json)', () => {
    const args = buildRunArgs({ ...base, engine: 'docker', ociRuntime: 'runsc' });
    expect(flagValue(args, '--runtime')).toBe('runsc');
    expect(args).not.toContain('--runtime-flag');
    expect(flagValue(args, '--ulimit')).toBe('nproc=128:128');
  });
});

describe('buildRunArgs with a socket channel', () => {
  it('mounts the channel directory read-only and tells the runtime where the socket is', () => {
    const args = buildRunArgs({ ...base, engine: 'podman', channelDir: '/tmp/codemode-x/s1' });
    expect(args).toContain('/tmp/codemode-x/s1:/run/codemode-channel:ro');
    expect(args.slice(-2)).toEqual(['--channel', '/run/codemode-channel/channel.sock']);
  });
});

describe('buildRemoveArgs', () => {
  it('removes without the graceful-stop wait', () => {
    expect(buildRemoveArgs('podman', ['a', 'b'])).toEqual(['rm', '-f', '-t', '0', 'a', 'b']);
    expect(buildRemoveArgs('docker', ['a'])).toEqual(['rm', '-f', 'a']);
  });
});
