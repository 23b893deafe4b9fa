import { describe, expect, it } from 'vitest';
import { resolveChannel } from '../../../src/sandbox/container/socket-channel.js';

describe('resolveChannel', () => {
  it.each([
    ['auto', 'linux', {}, 'socket'],
    ['auto', 'linux', { DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }, 'socket'],
    ['auto', 'linux', { DOCKER_HOST: 'tcp://10.0.0.5:2376' }, 'stdio'],
    ['auto', 'linux', { CONTAINER_HOST: 'ssh://core@vm/run/podman/podman.sock' }, 'stdio'],
    ['auto', 'darwin', {}, 'stdio'],
    ['auto', 'win32', {}, 'stdio'],
    ['socket', 'darwin', {}, 'socket'],
    ['stdio', 'linux', {}, 'stdio'],
  ] as const)('%s on %s with %j → %s', (choice, platform, env, expected) => {
    expect(resolveChannel(choice, platform, env)).toBe(expected);
  });

  it.each(['runsc', '/usr/bin/runsc'])('uses stdio under gVisor (%s), which refuses host sockets', (oci) => {
    expect(resolveChannel('auto', 'linux', {}, oci)).toBe('stdio');
    expect(resolveChannel('stdio', 'linux', {}, oci)).toBe('stdio');
    expect(() => resolveChannel('socket', 'linux', {}, oci)).toThrow(
      /MCP_BRIDGE_CONTAINER_CHANNEL=socket cannot be used with MCP_BRIDGE_OCI_RUNTIME=.*runsc: gVisor refuses/,
    );
  });

  it('keeps the socket under runc and crun', () => {
    expect(resolveChannel('auto', 'linux', {}, 'runc')).toBe('socket');
    expect(resolveChannel('auto', 'linux', {}, '/usr/bin/crun')).toBe('socket');
  });
});
