/**
 * The sandbox is the attacker: each hostile program ends with a clear status and the bridge keeps
 * serving. The whole suite runs once per OCI runtime (runc; runsc, gVisor, where installed). gVisor's
 * kernel answers a few questions differently from the host's; each difference is asserted explicitly
 * where it occurs (`gvisor ? … : …`, with the reason), never by loosening what is isolated.
 */
import { release } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningBridge, startBridge } from '../helpers/bridge.js';
import { containerSupport, containersOwnedBy, eventually, ociRuntimes } from '../helpers/environment.js';

const { skipReason } = containerSupport();
const SECRET = 'hunter2-not-for-sandboxes';

/** Reaches the runtime's private channel object, as hostile code can: it shares the interpreter. */
const GRAB_CHANNEL =
  'import gc\nchannel = next(o for o in gc.get_objects() if type(o).__name__ == "HostChannel")';
/**
 * Writes forged bytes on the runtime's private protocol fd, found the way hostile code would: through
 * the writer object. It loops as the runtime's own writer does: on the stdio channel gVisor returns a
 * short write to the host pipe where the host's kernel blocks until everything is written.
 */
const FORGE = [
  'import gc, os',
  'proto = next(o for o in gc.get_objects() if type(o).__name__ == "FrameWriter")._fd',
  'def forge(data):',
  '    view = memoryview(data)',
  '    while view:',
  '        view = view[os.write(proto, view):]',
].join('\n');

const EROFS = 30;
const EACCES = 13;

describe.skipIf(skipReason)(`hostile programs${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  describe.each(ociRuntimes())('under %s', (ociRuntime) => {
    const gvisor = ociRuntime === 'runsc';
    let bridge: RunningBridge;

    beforeAll(async () => {
      bridge = await startBridge({
        MCP_BRIDGE_OCI_RUNTIME: ociRuntime,
        MCP_BRIDGE_MEMORY: '128m',
        MCP_BRIDGE_PIDS: '64',
        SECRET_TOKEN: SECRET,
      });
    });
    afterAll(async () => {
      await bridge?.close();
      // Bombs, floods and forged frames leave no container behind once the bridge is gone.
      expect(await eventually(() => containersOwnedBy(bridge.pid).length === 0)).toBe(true);
    });

    async function expectHealthy(): Promise<void> {
      const result = await bridge.runPython({ code: 'print("alive")' });
      expect(result.text).toBe('alive');
    }

    it('runs locked down: no network, read-only root, noexec /tmp, no caps, uid 65534, empty env', async () => {
      const code = `
import ctypes, json, os, socket, subprocess
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
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
    script.write("#!/bin/sh\\necho executed\\n")
os.chmod("/tmp/script.sh", 0o755)
try:
    subprocess.run(["/tmp/script.sh"], check=True)
    report["tmp_exec"] = "allowed"
except PermissionError:
    report["tmp_exec"] = "denied"
report["env"] = dict(os.environ)
report["pid1"] = open("/proc/1/cmdline").read().split("\\0")[0]
print(json.dumps(report))
`;
      const result = await bridge.runPython({ code });
      expect(result.structured.status).toBe('ok');
      const report = JSON.parse(result.structured.stdout);
      expect(report).toMatchObject({
        uid: 65534,
        gid: 65534,
        capeff: '0000000000000000',
        nonewprivs: 1,
        interfaces: ['lo'],
        rootfs: EROFS,
        tmp_exec: 'denied',
      });
      // gVisor's /proc/self/status has no NoNewPrivs line; prctl above reads the same flag from its kernel.
      expect(report.status_nonewprivs).toBe(gvisor ? null : '1');
      // gVisor checks permissions before the mount's read-only flag, so a directory uid 65534 may not
      // write anyway fails with EACCES there; /var/tmp (world-writable) proves the root is read-only.
      expect(report.usr).toBe(gvisor ? EACCES : EROFS);
      // The program runs on the host's kernel under runc, on gVisor's Sentry under runsc.
      if (gvisor) expect(report.kernel).not.toBe(release());
      else expect(report.kernel).toBe(release());
      expect(report.network).toMatch(/OSError|ConnectionRefusedError|TimeoutError|gaierror/);
      expect(report.pid1).not.toMatch(/python/);
      expect(JSON.stringify(report.env)).not.toContain(SECRET);
      expect(Object.keys(report.env).sort()).toEqual(expect.arrayContaining(['HOME', 'LANG', 'PATH']));
      for (const key of Object.keys(report.env))
        expect(['HOME', 'LANG', 'PATH', 'HOSTNAME', 'container', 'TERM']).toContain(key);
    });

    it('ends a memory bomb with a clear status', async () => {
      const result = await bridge.runPython({
        code: 'blocks = []\nwhile True:\n    blocks.append(bytearray(10 * 1024 * 1024))',
        timeout: 30,
      });
      expect(result.isError).toBe(true);
      if (result.structured.status === 'killed') {
        expect(result.structured.error).toMatch(/memory limit \(MCP_BRIDGE_MEMORY=128m\)/);
      } else {
        expect(result.structured).toMatchObject({
          status: 'error',
          error: expect.stringMatching(/^MemoryError/),
        });
      }
      await expectHealthy();
    });

    it('ends a fork bomb with a clear status', async () => {
      const result = await bridge.runPython({ code: 'import os\nwhile True:\n    os.fork()', timeout: 10 });
      expect(result.isError).toBe(true);
      expect(['error', 'timeout', 'killed']).toContain(result.structured.status);
      await expectHealthy();
    });

    it('ends a subprocess flood at the pids limit', async () => {
      const result = await bridge.runPython({
        code: [
          'import subprocess',
          'children = []',
          'try:',
          '    while True:',
          '        children.append(subprocess.Popen(["sleep", "60"]))',
          'finally:',
          '    print(len(children))',
        ].join('\n'),
        timeout: 10,
      });
      expect(result.structured).toMatchObject({
        status: 'error',
        error: expect.stringMatching(/BlockingIOError|OSError/),
      });
      // Stopped by MCP_BRIDGE_PIDS itself (under gVisor: RLIMIT_NPROC in the Sentry), not by a larger
      // backstop such as the host cgroup gVisor gets.
      expect(Number(result.structured.stdout)).toBeLessThan(64);
      await expectHealthy();
    });

    it('refuses a forged tool call to a server the run was not granted', async () => {
      const result = await bridge.runPython({
        code: `${GRAB_CHANNEL}\ntry:\n    await channel.request({"type": "rpc", "server": "secrets", "tool": "dump", "args": {}})\nexcept Exception as error:\n    print(type(error).__name__, error)`,
      });
      expect(result.structured.stdout).toMatch(/^ToolError server 'secrets' is not granted to this run/);
      await expectHealthy();
    });

    it('refuses an unknown host operation', async () => {
      const result = await bridge.runPython({
        code: `${GRAB_CHANNEL}\ntry:\n    await channel.request({"type": "call", "op": "read_host_file", "args": {"path": "/etc/shadow"}})\nexcept Exception as error:\n    print(error)`,
      });
      expect(result.structured.stdout).toBe("unknown host operation 'read_host_file'\n");
    });

    it.each([
      ['a line that is not JSON', 'b"this is not json\\n"', /not JSON/],
      ['a frame of an unknown type', 'b\'{"type":"exec","cmd":"rm -rf /"}\\n\'', /invalid frame/],
      [
        'a frame with a wrong field type',
        'b\'{"type":"out","stream":"stdout","data":42}\\n\'',
        /invalid frame at data/,
      ],
      [
        'a frame nested too deeply',
        'b\'{"type":"out","x":\' + b"[" * 1000 + b"]" * 1000 + b"}\\n"',
        /nested deeper/,
      ],
      ['a frame larger than the cap', 'b"[" + b" " * (9 * 1024 * 1024)', /larger than/],
      ['a second ready', 'b\'{"type":"ready"}\\n\'', /ready' twice/],
    ])('ends the run on %s and keeps serving', async (_name, payload, message) => {
      const result = await bridge.runPython({
        code: `${FORGE}\nforge(${payload})\nimport time\ntime.sleep(5)`,
        timeout: 20,
      });
      expect(result.structured.status).toBe('protocol_error');
      expect(result.structured.error).toMatch(message);
      await expectHealthy();
    });

    it('kills an endless loop at its timeout and keeps serving', async () => {
      const result = await bridge.runPython({ code: 'while True:\n    pass', timeout: 2 });
      expect(result.structured.status).toBe('timeout');
      await expectHealthy();
    });

    it('takes a forged done as the end of its own run only', async () => {
      const result = await bridge.runPython({
        code: `${FORGE}\nforge(b'{"type":"done","ok":true}\\n')\nimport time\ntime.sleep(30)`,
        timeout: 20,
      });
      expect(result.structured.status).toBe('ok');
      await expectHealthy();
    });
  });
});
