/** Hostile cases: Reaching any network from the sandbox: loopback, the host, abstract and file sockets. */
import { expect } from 'vitest';
import { ATTEMPT, CONTAINERS, EMBEDDED, type HostileCase, literal, python, report, SYSCALL } from './kit.js';

export const NETWORK: HostileCase[] = [
  {
    name: 'reaches nothing over TCP, UDP or DNS, IPv4 or IPv6',
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import socket
def udp(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.socket(family, socket.SOCK_DGRAM).sendto(b"x", (address, 53))
print(json.dumps({
    "tcp": await attempt(lambda: socket.create_connection(("1.1.1.1", 53), timeout=2)),
    "udp": await attempt(lambda: udp("8.8.8.8")),
    "tcp6": await attempt(lambda: socket.create_connection(("2606:4700:4700::1111", 53), timeout=2)),
    "udp6": await attempt(lambda: udp("2001:4860:4860::8888")),
    "dns": await attempt(lambda: socket.getaddrinfo("example.com", 443)),
    "metadata": await attempt(lambda: socket.create_connection(("169.254.169.254", 80), timeout=2)),
    "gateway": await attempt(lambda: socket.create_connection(("10.88.0.1", 80), timeout=2)),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) => {
        const results = report(run);
        // Only `lo` exists: no route anywhere. gVisor's netstack says EHOSTUNREACH where Linux says ENETUNREACH.
        const unreachable = context.gvisor ? 'EHOSTUNREACH' : 'ENETUNREACH';
        for (const name of ['tcp', 'udp', 'tcp6', 'udp6', 'metadata', 'gateway']) {
          expect(results[name], name).toBe(unreachable);
        }
        expect(results.dns).toBe('gaierror');
      },
    }),
  },
  {
    name: "cannot reach the host's loopback services, nor the host's own address",
    category: 'network',
    backends: CONTAINERS,
    code: (context) => python`
${ATTEMPT}
import socket
results = {
    "loopback": await attempt(lambda: socket.create_connection(("127.0.0.1", ${context.hostPort}), timeout=2)),
    "loopback6": await attempt(lambda: socket.create_connection(("::1", ${context.hostPort}), timeout=2)),
}
if ${literal(context.hostAddress ?? '')}:
    results["host"] = await attempt(lambda: socket.create_connection((${literal(context.hostAddress ?? '')}, ${context.hostPort}), timeout=2))
print(json.dumps(results))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          // Its own loopback: nobody listens there.
          expect(results.loopback).toBe('ECONNREFUSED');
          expect(results.loopback6).toBe('ECONNREFUSED');
          if (context.hostAddress) expect(results.host).toBe(context.gvisor ? 'EHOSTUNREACH' : 'ENETUNREACH');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot open raw or packet sockets (no CAP_NET_RAW)',
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import socket
print(json.dumps({
    "raw": await attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),
    "raw6": await attempt(lambda: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)),
    "packet": await attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW)),
    "ping": await attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).sendto(b"\x08\0\0\0\0\0\0\0", ("8.8.8.8", 0))),
}))
`,
    expect: (context) => ({
      status: 'ok',
      check: (run) =>
        // gVisor allows ICMP datagram sockets to everyone; with no route, the ping still goes nowhere.
        expect(report(run)).toEqual({
          raw: 'EPERM',
          raw6: 'EPERM',
          packet: 'EPERM',
          ping: context.gvisor ? 'EHOSTUNREACH' : 'EACCES',
        }),
    }),
  },
  {
    name: "cannot reach the host's Unix sockets: engine, D-Bus, systemd, a socket file of the test",
    category: 'network',
    backends: CONTAINERS,
    code: (context) => python`
${ATTEMPT}
import socket
def connect(path):
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(2)
    client.connect(path)
paths = ["/run/podman/podman.sock", "/var/run/docker.sock", "/run/dbus/system_bus_socket",
         "/run/systemd/private", "/run/containerd/containerd.sock", ${literal(context.hostSocket)}]
print(json.dumps({path: await attempt(lambda path=path: connect(path)) for path in paths}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(6);
          for (const [path, result] of Object.entries(results)) expect(result, path).toBe('ENOENT');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: "cannot reach the host's abstract Unix sockets (they belong to the host's network namespace)",
    category: 'network',
    backends: CONTAINERS,
    code: (context) => python`
${ATTEMPT}
import socket
def connect(name):
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(2)
    client.connect("\0" + name)
print(json.dumps({
    "test": await attempt(lambda: connect(${literal(context.abstractSocket)})),
    "systemd": await attempt(lambda: connect("/org/freedesktop/systemd1/notify")),
}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          expect(report(run)).toEqual({ test: 'ECONNREFUSED', systemd: 'ECONNREFUSED' });
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: "cannot use the frame socket's directory: read-only, and nothing listens once the runtime is connected",
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
import socket
def connect():
    client = socket.socket(socket.AF_UNIX)
    client.settimeout(2)
    client.connect("/run/codemode-channel/channel.sock")
print(json.dumps({
    "listing": sorted(os.listdir("/run/codemode-channel")) if os.path.isdir("/run/codemode-channel") else None,
    "connect": await attempt(connect),
    "write": await attempt(lambda: open("/run/codemode-channel/channel.sock.2", "w")),
}))
`,
    // runc: the host removes the socket file once the runtime connected; gVisor: frames use stdio,
    // the directory is not mounted at all.
    expect: (context) => ({
      status: 'ok',
      check: (run) =>
        expect(report(run)).toEqual(
          context.gvisor
            ? { listing: null, connect: 'ENOENT', write: 'ENOENT' }
            : { listing: [], connect: 'ENOENT', write: 'EROFS' },
        ),
    }),
  },
  {
    name: 'cannot configure the network: interface flags, addresses, routes, a network namespace',
    category: 'network',
    backends: CONTAINERS,
    code: python`
${ATTEMPT}
${SYSCALL}
import fcntl, socket, struct
sock = socket.socket()
ifreq_flags = struct.pack("16sH", b"lo", 0) + b"\0" * 22
ifreq_addr = struct.pack("16sH2s4s", b"lo", socket.AF_INET, b"\0\0", socket.inet_aton("10.1.2.3")) + b"\0" * 8
print(json.dumps({
    "down": await attempt(lambda: fcntl.ioctl(sock, 0x8914, ifreq_flags)),
    "address": await attempt(lambda: fcntl.ioctl(sock, 0x8916, ifreq_addr)),
    "unshare_net": sc(272, 0x40000000),
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

  // embedded: no --allow-net, so every network API of Deno refuses.
  {
    name: 'has no network: js.fetch, pyodide.http.pyfetch, sockets to the host loopback',
    category: 'network',
    backends: EMBEDDED,
    code: (context) => python`
import js, socket
from pyodide.http import pyfetch
url = "http://127.0.0.1:${context.hostPort}/"
for name, attempt in [("fetch", lambda: js.fetch(url)), ("pyfetch", lambda: pyfetch(url))]:
    try:
        await attempt()
        print(name, "REACHED")
    except Exception as error:
        print(name, type(error).__name__, str(error)[:80])
try:
    socket.create_connection(("127.0.0.1", ${context.hostPort}), timeout=2)
    print("socket REACHED")
except OSError as error:
    print("socket", type(error).__name__)
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const stdout = run.outcome?.stdout ?? '';
          expect(stdout).not.toContain('REACHED');
          expect(stdout).toMatch(/^fetch .*NotCapable.*net access/m);
          expect(stdout).toMatch(/^pyfetch .*Requires net access/m);
          expect(stdout).toMatch(/^socket OSError/m);
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot connect through Deno: TCP, TLS, WebSocket, Unix sockets of the host',
    category: 'network',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
options = lambda value: js.JSON.parse(json.dumps(value))
print(json.dumps({
    "tcp": await attempt(lambda: js.Deno.connect(options({"hostname": "127.0.0.1", "port": ${context.hostPort}}))),
    "tls": await attempt(lambda: js.Deno.connectTls(options({"hostname": "example.com", "port": 443}))),
    "websocket": await attempt(lambda: js.WebSocket.new("ws://127.0.0.1:${context.hostPort}/")),
    "unix": await attempt(lambda: js.Deno.connect(options({"transport": "unix", "path": ${literal(context.hostSocket)}}))),
    "abstract": await attempt(lambda: js.Deno.connect(options({"transport": "unix", "path": "\0" + ${literal(context.abstractSocket)}}))),
}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(5);
          for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot listen: Deno.listen on TCP and Unix sockets, socket.listen',
    category: 'network',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js, socket
def python_listen():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
print(json.dumps({
    "tcp": await attempt(lambda: js.Deno.listen(js.JSON.parse('{"port": 0}'))),
    "unix": await attempt(lambda: js.Deno.listen(js.JSON.parse('{"transport": "unix", "path": "/tmp/hostile.sock"}'))),
    "python": await attempt(python_listen),
}))
`,
    expect: { status: 'ok', stdout: '{"tcp": "NotCapable", "unix": "NotCapable", "python": "ENOTSUP"}\n' },
  },
  {
    name: 'cannot resolve names: Deno.resolveDns, node:dns, getaddrinfo',
    category: 'network',
    backends: EMBEDDED,
    code: python`
${ATTEMPT}
import js, socket
print(json.dumps({
    "resolveDns": await attempt(lambda: js.Deno.resolveDns("example.com", "A")),
    "node:dns": await attempt(lambda: js.eval("import('node:dns').then(m => m.promises.lookup('example.com')).catch(e => { throw new Error(String(e).includes('EPERM') ? 'NotCapable (EPERM)' : String(e)) })")),
    "getaddrinfo": sorted({info[4][0] for info in socket.getaddrinfo("example.com", 443)}),
}))
`,
    expect: {
      status: 'ok',
      check: (run) => {
        const results = report(run);
        expect(results.resolveDns).toBe('NotCapable');
        expect(results['node:dns']).toBe('NotCapable');
        // Emscripten answers getaddrinfo itself, with a made-up address from 172.29.0.0/16 that no
        // socket can reach: no query leaves the worker.
        expect(results.getaddrinfo).toEqual([expect.stringMatching(/^172\.29\.\d+\.\d+$/)]);
      },
    },
  },
  {
    name: 'cannot connect through Node modules: node:net, node:http',
    category: 'network',
    backends: EMBEDDED,
    code: (context) => python`
${ATTEMPT}
import js
port = ${context.hostPort}
print(json.dumps({
    "net": await attempt(lambda: js.eval("import('node:net').then(m => new Promise((resolve, reject) => { const s = m.connect(%d, '127.0.0.1'); s.on('error', reject); s.on('connect', resolve); }))" % port)),
    "http": await attempt(lambda: js.eval("import('node:http').then(m => new Promise((resolve, reject) => { const r = m.get('http://127.0.0.1:%d/', resolve); r.on('error', reject); }))" % port)),
}))
`,
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'ok',
        check: (run) => {
          const results = report(run);
          expect(Object.keys(results)).toHaveLength(2);
          for (const [name, result] of Object.entries(results)) expect(result, name).toBe('NotCapable');
          expect(context.hostConnections()).toBe(before);
        },
      };
    },
  },
  {
    name: 'cannot send UDP through node:dgram: the refusal ends the run as an uncaught error',
    category: 'network',
    backends: EMBEDDED,
    // Deno refuses the implicit bind outside any promise the program could catch.
    code: "import js, asyncio\njs.eval(\"import('node:dgram').then(m => m.createSocket('udp4').send('x', 53, '8.8.8.8'))\")\nawait asyncio.sleep(2)\nprint(\"not reached\")",
    expect: (context) => {
      const before = context.hostConnections();
      return {
        status: 'error',
        error: /^Uncaught JavaScript error: NotCapable: Requires net access/,
        stdout: '',
        check: () => expect(context.hostConnections()).toBe(before),
      };
    },
  },
];
