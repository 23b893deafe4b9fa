/** Hostile cases: Forged and malformed frames on the sandbox's channel to the host. */
import { expect } from 'vitest';
import { CONTAINERS, EMBEDDED, forge, GRAB_CHANNEL, type HostileCase, killSelf, python } from './kit.js';

/** What the host offers, as it says when asked for an operation it does not have. */
const HOST_OPERATIONS =
  'attach, delete_skill, delete_value, describe_server, list_sessions, list_skills, list_values, load_value, ' +
  'read_output, reset_session, save_skill, save_value, search_tool_docs';

/** A run that forges `payload` (a Python bytes expression) on the channel, then waits to be ended. */
function forgeCase(name: string, payload: string, error: RegExp, stdout = ''): HostileCase {
  return {
    name: `ends the run on ${name} and keeps serving`,
    category: 'protocol',
    timeout: 20,
    code: (context) =>
      `${forge(context)}\nforge(${payload})\nimport time\ntime.sleep(5)\nprint("not reached")`,
    expect: { status: 'protocol_error', error, stdout },
  };
}

export const PROTOCOL: HostileCase[] = [
  forgeCase('a line that is not JSON', 'b"this is not json\\n"', /not JSON/),
  forgeCase('a frame of an unknown type', 'b\'{"type":"exec","cmd":"rm -rf /"}\\n\'', /invalid frame/),
  forgeCase(
    'a frame with a wrong field type',
    'b\'{"type":"out","stream":"stdout","data":42}\\n\'',
    /invalid frame at data/,
  ),
  forgeCase(
    'a frame nested too deeply',
    'b\'{"type":"out","x":\' + b"[" * 1000 + b"]" * 1000 + b"}\\n"',
    /nested deeper/,
  ),
  forgeCase('a frame larger than the cap', 'b"[" + b" " * (9 * 1024 * 1024)', /larger than/),
  forgeCase('a second ready', 'b\'{"type":"ready"}\\n\'', /ready' twice/),
  forgeCase(
    'a done whose error is over 64 KiB',
    'b\'{"type":"done","ok":false,"error":"\' + b"e" * 70000 + b\'"}\\n\'',
    /invalid frame at error/,
  ),
  forgeCase(
    'a request id beyond 2^53',
    'b\'{"type":"call","id":9007199254740993,"op":"list_sessions","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'a negative request id',
    'b\'{"type":"call","id":-1,"op":"list_sessions","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'a fractional request id',
    'b\'{"type":"rpc","id":1.5,"server":"shapes","tool":"quick","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'a string request id',
    'b\'{"type":"call","id":"1","op":"list_sessions","args":{}}\\n\'',
    /invalid frame at id/,
  ),
  forgeCase(
    'tool arguments that are not an object',
    'b\'{"type":"rpc","id":3,"server":"shapes","tool":"quick","args":[1,2]}\\n\'',
    /invalid frame at args/,
  ),
  forgeCase(
    'a server name over 256 characters',
    'b\'{"type":"rpc","id":3,"server":"\' + b"s" * 300 + b\'","tool":"quick","args":{}}\\n\'',
    /invalid frame at server/,
  ),
  forgeCase(
    'a reply frame of its own (replying to itself)',
    'b\'{"type":"rpc_result","id":1,"ok":true,"value":"forged"}\\n\'',
    /invalid frame/,
  ),
  forgeCase(
    "a run frame (the host's own kind)",
    'b\'{"type":"run","id":"x","code":"print(1)","servers":[],"catalog":[]}\\n\'',
    /invalid frame/,
  ),
  forgeCase(
    'garbage between two valid frames',
    'b\'{"type":"out","stream":"stdout","data":"before\\\\n"}\\n#garbage\\n{"type":"out","stream":"stdout","data":"after\\\\n"}\\n\'',
    /not JSON/,
    // What came before the bad line counts, even in the same write.
    'before\n',
  ),
  {
    name: 'takes a forged done as the end of its own run only',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"done","ok":true}\\n')\nimport time\ntime.sleep(30)`,
    expect: { status: 'ok', stdout: '' },
  },
  {
    name: 'ignores frames after a forged done',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"done","ok":true}\\n{"type":"out","stream":"stdout","data":"late"}\\nnot json\\n')\nimport time\ntime.sleep(30)`,
    expect: { status: 'ok', stdout: '' },
  },
  {
    name: 'reports a forged failing done as its own error',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"done","ok":false,"error":"ForgedError: as the program says"}\\n')\nimport time\ntime.sleep(30)`,
    expect: { status: 'error', error: /^ForgedError: as the program says$/ },
  },
  {
    name: 'refuses a forged tool call to a server the run was not granted',
    category: 'protocol',
    servers: ['shapes'],
    code: `${GRAB_CHANNEL}\nfor server in ("leaky", "secrets", "__proto__", "constructor", "hasOwnProperty"):\n    try:\n        await channel.request({"type": "rpc", "server": server, "tool": "token_result", "args": {}})\n    except Exception as error:\n        print(type(error).__name__, error)`,
    expect: {
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        expect(lines).toHaveLength(5);
        for (const line of lines)
          expect(line).toMatch(/^ToolError server '[^']+' is not granted to this run/);
      },
    },
  },
  {
    name: 'refuses unknown host operations, also the names of Object.prototype',
    category: 'protocol',
    code: `${GRAB_CHANNEL}\nfor op in ("read_host_file", "__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"):\n    try:\n        await channel.request({"type": "call", "op": op, "args": {"path": "/etc/shadow"}})\n    except Exception as error:\n        print(error)`,
    expect: {
      status: 'ok',
      check: (run) => {
        const lines = (run.outcome?.stdout ?? '').trimEnd().split('\n');
        const ops = [
          'read_host_file',
          '__proto__',
          'constructor',
          'toString',
          'hasOwnProperty',
          'valueOf',
          '__defineGetter__',
        ];
        expect(lines).toEqual(
          ops.map((op) => `unknown host operation '${op}'; the host offers ${HOST_OPERATIONS}`),
        );
      },
    },
  },
  {
    name: 'answers reused request ids without mixing them into its own calls',
    category: 'protocol',
    servers: ['shapes'],
    code: (context) =>
      `${forge(context)}\nframe = b'{"type":"rpc","id":777,"server":"shapes","tool":"quick","args":{"n":99}}\\n'\nforge(frame * 3)\nimport asyncio\nprint(await asyncio.gather(*[mcp_shapes.quick(n=i) for i in range(5)]))`,
    expect: { status: 'ok', stdout: '[0, 1, 2, 3, 4]\n' },
  },
  {
    name: 'takes frames with a __proto__ key as plain data (no prototype pollution)',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stdout","data":"plain\\\\n","__proto__":{"polluted":true}}\\n')\nforge(b'{"type":"call","id":4242,"op":"list_sessions","args":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}\\n')\n${GRAB_CHANNEL}\nprint((await channel.request({"type": "call", "op": "describe_server", "args": {"name": "shapes", "__proto__": {"isAdmin": True}}}))["name"])`,
    expect: { status: 'ok', stdout: 'plain\nshapes\n' },
  },
  {
    name: 'takes the last of duplicate keys, as JSON.parse does, and nothing else',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stderr","stream":"stdout","data":"first","data":"second\\\\n"}\\n')\nprint("after")`,
    expect: { status: 'ok', stdout: 'second\nafter\n' },
  },
  {
    name: 'reads a frame written one byte at a time, blank lines and CRLF endings',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nfor byte in b'\\n\\r\\n  \\n{"type":"out","stream":"stdout","data":"slow\\\\n"}\\r\\n':\n    forge(bytes([byte]))\nprint("after")`,
    expect: { status: 'ok', stdout: 'slow\nafter\n' },
  },
  {
    name: 'takes a valid frame just under the size cap',
    category: 'protocol',
    timeout: 60,
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stdout","data":"' + b"f" * (8 * 1024 * 1024 - 100) + b'"}\\n')\nprint("after")`,
    expect: {
      status: 'ok',
      check: (run) => {
        expect(run.outcome?.stdout.endsWith('fafter\n')).toBe(true);
        expect(run.outcome?.truncated?.stdout).toBeGreaterThan(8_000_000);
      },
    },
  },
  {
    name: 'takes invalid UTF-8 inside a frame as replacement characters',
    category: 'protocol',
    code: (context) =>
      `${forge(context)}\nforge(b'{"type":"out","stream":"stdout","data":"bad \\xff\\xfe bytes\\\\n"}\\n')\nprint("after")`,
    expect: { status: 'ok', stdout: 'bad \uFFFD\uFFFD bytes\nafter\n' },
  },
  {
    name: 'ends the run on half a frame that the runtime then completes',
    category: 'protocol',
    code: (context) => `${forge(context)}\nforge(b'{"type":"out"')\nprint("flush")`,
    expect: { status: 'protocol_error', error: /not JSON|invalid frame/ },
  },
  {
    name: 'half a frame, then the process dies',
    category: 'protocol',
    code: (context) => `${forge(context)}\nforge(b'{"type":"out","stream":"std')\n${killSelf(context)}`,
    expect: { status: 'killed' },
  },
  {
    name: 'a forked child writes garbage on the channel: ends the run of its parent',
    category: 'protocol',
    backends: CONTAINERS,
    code: (context) =>
      `${forge(context)}\nimport os, time\nif os.fork() == 0:\n    forge(b"garbage from a child\\n")\n    os._exit(0)\nos.wait()\ntime.sleep(5)\nprint("not reached")`,
    expect: { status: 'protocol_error', error: /not JSON/ },
  },
  {
    name: 'a subprocess cannot reach the channel: its descriptor is closed on exec',
    category: 'protocol',
    backends: CONTAINERS,
    code: (context) =>
      `${forge(context)}\nimport subprocess\nresult = subprocess.run(["sh", "-c", "echo '{\\"type\\":\\"done\\",\\"ok\\":true}' >&%d" % proto], capture_output=True, text=True)\nprint(result.returncode != 0, "Bad file descriptor" in result.stderr)\nprint("still running")`,
    expect: { status: 'ok', stdout: 'True True\nstill running\n' },
  },
  {
    name: 'reopening the channel through /proc/self/fd gains nothing the host would trust',
    category: 'protocol',
    backends: CONTAINERS,
    code: (context) =>
      `${forge(context)}\nimport errno, time\ntry:\n    reopened = os.open("/proc/self/fd/%d" % proto, os.O_WRONLY)\nexcept OSError as error:\n    print("refused", errno.errorcode[error.errno])\nelse:\n    os.write(reopened, b"forged through /proc/self/fd\\n")\n    time.sleep(5)`,
    // runc: the channel is a socket, which open() refuses; gVisor: it is the stdio pipe, which opens,
    // and what is written there is validated like any frame.
    expect: (context) =>
      context.gvisor
        ? { status: 'protocol_error', error: /not JSON/ }
        : { status: 'ok', stdout: 'refused ENXIO\n' },
  },
  {
    name: 'floods 200,000 forged out frames',
    category: 'protocol',
    timeout: 60,
    code: (context) =>
      `${forge(context)}\nframe = b'{"type":"out","stream":"stdout","data":"x"}\\n'\nfor _ in range(4):\n    forge(frame * 50_000)\nprint("\\nafter")`,
    expect: {
      status: 'ok',
      check: (run) => {
        expect(run.outcome?.stdout.endsWith('x\nafter\n')).toBe(true);
        expect(run.outcome?.truncated?.stdout).toBeGreaterThan(150_000);
      },
    },
  },
  {
    name: 'floods requests without reading the replies',
    category: 'protocol',
    timeout: 5,
    code: `${GRAB_CHANNEL}\nwhile True:\n    channel._send({"type": "call", "id": 1, "op": "list_sessions", "args": {}})`,
    expect: { status: ['timeout', 'protocol_error'] },
  },
  {
    name: 'sends 5,000 requests at once and awaits them all (beyond the host queue bound)',
    category: 'protocol',
    timeout: 60,
    code: `${GRAB_CHANNEL}\nimport asyncio\nreplies = await asyncio.gather(*[channel.request({"type": "call", "op": "list_sessions", "args": {}}) for _ in range(5000)])\nprint(len(replies))`,
    expect: { status: 'ok', stdout: '5000\n' },
  },
  {
    name: 'closes the channel under the runtime',
    category: 'protocol',
    code: (context) =>
      context.container
        ? `${forge(context)}\nreader = next(o for o in gc.get_objects() if type(o).__name__ == "LineReader")\nos.close(proto)\nos.close(reader._fd)\nprint("closed")`
        : 'import js\njs.Deno.stdout.close()\nprint("closed")',
    expect: { status: 'killed', error: /ended unexpectedly/ },
  },

  // embedded: the worker's own JavaScript is in reach
  {
    name: "reads the worker's stdin: steals only its own run's replies",
    category: 'protocol',
    backends: EMBEDDED,
    servers: ['shapes'],
    timeout: 3,
    code: python`
import asyncio, js
reader = js.Deno.stdin.readable.getReader()
async def steal():
    while True:
        chunk = await reader.read()
        if chunk.done:
            return
asyncio.ensure_future(steal())
print(await mcp_shapes.quick(n=1))
`,
    expect: { status: ['timeout', 'error'] },
  },
  {
    name: "replaces the worker's stdout writer: its own run ends without a result",
    category: 'protocol',
    backends: EMBEDDED,
    timeout: 5,
    code: 'import js\njs.Deno.stdout.writeSync = js.Function.new("bytes", "return bytes.length")\nprint("swallowed")',
    expect: { status: ['killed', 'timeout'] },
  },
  {
    name: 'replaces JSON.stringify in the worker: its frames become garbage the host refuses',
    category: 'protocol',
    backends: EMBEDDED,
    code: 'import js\njs.JSON.stringify = js.Function.new("value", "return \'not a frame\'")\nprint("garbled")',
    expect: { status: 'protocol_error', error: /not JSON/ },
  },
];
