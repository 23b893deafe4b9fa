// codemode-bridge embedded sandbox worker: Pyodide inside a permissionless Deno
// (docs/architecture.md, "The trust boundary").
//
// Plain JavaScript on purpose: Deno then needs no type-check or transpile cache for it.
// The host (src/sandbox/embedded/) starts it as:
//   deno run --no-prompt --no-config --no-lock --no-npm --no-remote \
//     --allow-read=<pyodideDir>,<runtimeDir>[,<snapshotFile>] --v8-flags=--wasm-max-mem-pages=N,... \
//     worker.js --pyodide=<pyodideDir> --runtime=<runtimeDir> [--snapshot=<file> --snapshot-size=<bytes>]
//   stdout: newline-delimited JSON frames (ready, out, rpc, call, done); stdin: run, rpc_result.
//   One process = one run: exit 0 after `done` (or on stdin EOF); a `run` frame with `keep: true`
//   (a session) is followed by `done` and then the next `run` frame, until stdin closes. Exit 3 = the snapshot is unusable
//   (the host deletes and rebuilds it); exit 2 = bad invocation or first frame; anything else = crash.
//   Diagnostics go to stderr; a crash writes one plain line there ("the embedded sandbox's worker
//   crashed: ..."), never a stack dump.
//
// Snapshot mode: same flags without --snapshot*, plus --make-snapshot. Runs no user code; stdout is
// the raw snapshot bytes and nothing else. No write permission is needed: the host stores the bytes.
//
// Python entry contract (runtime/python/codemode_runtime/embedded_main.py):
//   prepare()                          imports done before a snapshot is taken
//   async warm_up()                    runs a fixed program of its own, before `ready`
//   async main(run_json, transport)    -> done frame JSON; transport = {send(str), recv() -> Promise<str|null>}
//
// User code can reach every JS object here through Pyodide's `js` module and can write anything to
// stdout. Deno's permissions are the security boundary and the host validates every frame.

import childProcess from 'node:child_process';
import nodeModule from 'node:module';

const RUNTIME_MOUNT = '/opt/codemode';
const ENTRY_MODULE = 'codemode_runtime.embedded_main';
const EXIT_USAGE = 2;
const EXIT_SNAPSHOT_INVALID = 3;
const EXIT_CRASHED = 1;
/** Bounds of the one line a crash leaves on stderr, and of a traceback in a `done` frame. */
const CRASH_LINE_CHARS = 300;
const TRACEBACK_CHARS = 16000;
/** Output is sliced before decoding so a 100 MB print never becomes one huge JS string or frame. */
const OUT_CHUNK_BYTES = 64 * 1024;

const opts = {};
for (const arg of Deno.args) {
  const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
  if (!match) fatal(EXIT_USAGE, `bad argument ${arg}`);
  opts[match[1]] = match[2] ?? true;
}
if (!opts.pyodide || !opts.runtime) fatal(EXIT_USAGE, 'need --pyodide=DIR and --runtime=DIR');
const pyodideDir = opts.pyodide.endsWith('/') ? opts.pyodide : `${opts.pyodide}/`;
const makeSnapshot = opts['make-snapshot'] === true;

// ---------------------------------------------------------------- stdout: frames only
const encoder = new TextEncoder();
function writeAll(bytes) {
  let view = bytes;
  while (view.length > 0) view = view.subarray(Deno.stdout.writeSync(view));
}
function sendFrame(frame) {
  writeAll(encoder.encode(`${JSON.stringify(frame)}\n`));
}
function writeStderr(line) {
  try {
    Deno.stderr.writeSync(encoder.encode(`${line}\n`));
  } catch {
    // nothing left to tell
  }
}
// The worker's own exits. Kept apart from `Deno.exit`, which user code can replace or call itself;
// the `unload` listener below tells the two apart.
const exitProcess = Deno.exit;
let exitingOnPurpose = false;
function exitWorker(code) {
  exitingOnPurpose = true;
  exitProcess(code);
}
function fatal(code, message) {
  writeStderr(`codemode-worker: ${message}`);
  exitWorker(code);
}

// ---------------------------------------------------------------- stdin: line reader
const lines = [];
const waiters = [];
let stdinClosed = false;
let running = false;
void (async () => {
  const decoder = new TextDecoder();
  // Pieces of the line not yet ended: each chunk is searched once and a line joined once, so a
  // 15 MB reply in 64 KiB chunks costs linear time (searching the whole buffer per chunk did not).
  let pieces = [];
  const reader = Deno.stdin.readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      pieces.push(text.slice(start, nl));
      start = nl + 1;
      const line = pieces.join('');
      pieces = [];
      if (line.trim()) pushLine(line);
    }
    if (start < text.length) pieces.push(text.slice(start));
  }
  stdinClosed = true;
  // The host is gone (or killed this run): nobody reads our output any more.
  if (running) exitWorker(0);
  while (waiters.length) waiters.shift()(null);
})();
function pushLine(line) {
  if (waiters.length) waiters.shift()(line);
  else lines.push(line);
}
function nextLine() {
  if (lines.length) return Promise.resolve(lines.shift());
  if (stdinClosed) return Promise.resolve(null);
  return new Promise((resolve) => waiters.push(resolve));
}

// ---------------------------------------------------------------- runtime files → Pyodide FS
async function readTree(dir, rel = '') {
  const files = [];
  for await (const entry of Deno.readDir(`${dir}/${rel}`)) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      if (entry.name !== '__pycache__') files.push(...(await readTree(dir, path)));
    } else if (entry.isFile && entry.name.endsWith('.py')) {
      files.push([path, await Deno.readFile(`${dir}/${path}`)]);
    }
  }
  return files;
}
// Copied into the in-memory FS rather than mounted (mountNodeFS): a Python write into a read-only
// mount is a fatal Pyodide error, a write into MEMFS just lands in memory.
function mountRuntime(pyodide, files) {
  const FS = pyodide.FS;
  for (const [path, data] of files) {
    const parts = `${RUNTIME_MOUNT}/${path}`.split('/').slice(1, -1);
    let dir = '';
    for (const part of parts) {
      dir += `/${part}`;
      if (!FS.analyzePath(dir).exists) FS.mkdir(dir);
    }
    FS.writeFile(`${RUNTIME_MOUNT}/${path}`, data);
  }
}

// ---------------------------------------------------------------- load Pyodide
async function loadSnapshotBytes() {
  if (!opts.snapshot) return undefined;
  let bytes;
  try {
    bytes = await Deno.readFile(opts.snapshot);
  } catch (error) {
    fatal(EXIT_SNAPSHOT_INVALID, `cannot read snapshot: ${error.message}`);
  }
  // Pyodide has no checksum and some corruptions load silently; the host checks the sha256 once
  // per bridge start, the size here on every start (free).
  if (opts['snapshot-size'] && bytes.length !== Number(opts['snapshot-size'])) {
    fatal(EXIT_SNAPSHOT_INVALID, `snapshot size ${bytes.length} != ${opts['snapshot-size']}`);
  }
  return bytes;
}

let [snapshot, runtimeFiles, { loadPyodide }] = await Promise.all([
  makeSnapshot ? undefined : loadSnapshotBytes(),
  readTree(opts.runtime),
  import(new URL('pyodide.mjs', `file://${pyodideDir}`).href),
]);

let pyodide;
try {
  pyodide = await loadPyodide({
    indexURL: pyodideDir,
    // Pyodide creates HOME in its in-memory FS and starts there on every load (the FS is not part
    // of a snapshot); Python's os.environ comes from the snapshot, made with this same env. So the
    // program starts in /workspace, its HOME, as in a container; it vanishes with the worker.
    env: { HOME: '/workspace' },
    stdout: () => {}, // start-up chatter never reaches the protocol channel
    stderr: () => {},
    _makeSnapshot: makeSnapshot,
    _loadSnapshot: snapshot,
  });
} catch (error) {
  if (snapshot) fatal(EXIT_SNAPSHOT_INVALID, `snapshot rejected: ${error?.message ?? error}`);
  throw error;
}
// MEMFS contents are JS objects and not part of a snapshot: write the files on every start (a few
// kB), so lazy imports, linecache and tracebacks see them.
mountRuntime(pyodide, runtimeFiles);
runtimeFiles = undefined;
pyodide.setStdin({ stdin: () => null }); // input() raises EOFError; it never reads the protocol channel
// ~30 MB we no longer need: Pyodide keeps its options (ours among them) for the life of the process,
// so the snapshot bytes stay alive unless its reference goes too (measured: PSS ~196 → ~151 MB).
snapshot = undefined;
if (pyodide._api?.config) pyodide._api.config._loadSnapshot = undefined;

// ---------------------------------------------------------------- calls Deno refuses
// Emscripten's Node glue calls a few Node APIs that Deno refuses without permissions (NotCapable).
// Thrown inside WebAssembly, such an error is a fatal Pyodide error that kills the worker; here each
// refusal becomes what a browser build gets instead: an errno or a fixed value. The calls are still
// refused (the Deno flags are the boundary), only the shape of the refusal changes. JS state is not
// in the snapshot: this runs on every start.
function isRefusal(error) {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}
function softenRefusals({ FS, ERRNO_CODES }) {
  // What Emscripten's syscalls turn into -errno (they test `name` and read `errno`); an Error, so a JS
  // caller (FS.mount called from Python) still reads why.
  const errnoError = (errno, cause) =>
    Object.assign(new Error(errorLine(cause), { cause }), { name: 'ErrnoError', errno });
  // getuid() (os.getuid, ctypes) calls process.getuid(), which needs --allow-sys. Report uid 0, as
  // Emscripten does outside Node; getgid() is 0 already.
  const getuid = process.getuid;
  process.getuid = function () {
    try {
      return getuid.call(this);
    } catch (error) {
      if (isRefusal(error)) return 0;
      throw error;
    }
  };
  // system() (posix.system, ctypes) spawns a shell: the refusal reads like a shell that found nothing.
  const spawnSync = childProcess.spawnSync;
  childProcess.spawnSync = function (...args) {
    try {
      return spawnSync.apply(this, args);
    } catch (error) {
      if (!isRefusal(error)) throw error;
      return { pid: 0, output: [], stdout: null, stderr: null, status: 127, signal: null, error };
    }
  };
  // listen() (socket.listen, socket.socketpair) requires the npm `ws` package, which Deno may not
  // even look for. Pyodide's glue is the only user of require() in this process.
  const load = nodeModule._load;
  nodeModule._load = function (...args) {
    try {
      return load.apply(this, args);
    } catch (error) {
      throw errnoError(ERRNO_CODES.ENOTSUP, error);
    }
  };
  // A NODEFS mount (user code can make one through `pyodide_js`) reaches host paths with node:fs.
  const NODEFS = FS.filesystems.NODEFS;
  const tryFSOperation = NODEFS.tryFSOperation;
  NODEFS.tryFSOperation = function (operation) {
    try {
      return tryFSOperation.call(this, operation);
    } catch (error) {
      if (isRefusal(error)) throw errnoError(ERRNO_CODES.EACCES, error);
      throw error;
    }
  };
  // Emscripten's /dev/tty reads the process's stdin, which is the frame channel: a blocked read, or
  // stolen frames. There is no terminal here, so there is no /dev/tty (getpass then reads sys.stdin).
  for (const tty of ['/dev/tty', '/dev/tty1']) {
    if (FS.analyzePath(tty).exists) FS.unlink(tty);
  }
}
softenRefusals(pyodide);

// ---------------------------------------------------------------- how a run ends when Python cannot say
// Whatever ends this process early leaves one plain line on stderr (the host's diagnostics) or, when
// the program only ended itself, a `done` frame: never Pyodide's report or Deno's coloured dump.
const CRASH_HINTS = [
  [/Maximum call stack size exceeded/, 'recursion too deep for the WebAssembly stack, e.g. in C code'],
  [/^RuntimeError: unreachable/, 'a WebAssembly trap: abort() or a crash in C code'],
  [/^RuntimeError: memory access out of bounds/, 'a WebAssembly trap: a bad memory access in C code'],
];
/** One short plain line for an error: its first line (a Python traceback's last), no ANSI codes. */
function errorLine(error) {
  const text = typeof error?.message === 'string' ? `${error.name}: ${error.message}` : String(error);
  const lines = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes is the point
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
    .split('\n')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .map((line) => line.replace(/[\x00-\x1f\x7f]/g, '').trim())
    .filter(Boolean);
  const line = (error?.name === 'PythonError' ? lines.at(-1) : lines[0]) ?? 'unknown error';
  // Deno's advice to rerun with a permission flag is for Deno's user, not for this program.
  return line.replace(/, run again with the --allow-[a-z-]+ flag$/, '').slice(0, CRASH_LINE_CHARS);
}
function crash(error) {
  const line = errorLine(error);
  const hint = CRASH_HINTS.find(([pattern]) => pattern.test(line))?.[1];
  writeStderr(`the embedded sandbox's worker crashed: ${line}${hint ? ` (${hint})` : ''}`);
  exitWorker(EXIT_CRASHED);
}
function finishRun(done) {
  try {
    // `final`: this process ends here, so a session's sandbox is not kept for another program.
    sendFrame({ ...done, final: true });
  } finally {
    exitWorker(0); // even when the host is gone and stdout with it
  }
}
function flushPython() {
  try {
    entry.flush_std_streams();
  } catch {
    // Python may be unusable; what it had flushed has been sent
  }
}
// A fatal Pyodide error: a JS error thrown inside WebAssembly (a refusal not softened above, a stack
// overflow, a trap) or C's exit(). Pyodide cannot continue after either; Python state is not touched.
const pyodideApi = pyodide._api;
const NoGilError = pyodideApi.NoGilError;
pyodideApi.fatal_error = (error) => {
  if (NoGilError && error instanceof NoGilError) throw error; // not fatal: Pyodide rethrows it too
  if (error?.name === 'ExitStatus' && running) {
    // os._exit(n), or exit() through ctypes: the outcome of sys.exit(n). Flushed output is already
    // sent; like CPython's os._exit, unflushed buffers are dropped.
    const status = Number(error.status);
    if (status === 0) finishRun({ type: 'done', ok: true });
    finishRun({ type: 'done', ok: false, error: `SystemExit: ${status}`, traceback: '' });
  }
  crash(error);
};
// An error no one caught in a JS callback or promise: Deno would end the process with a coloured
// dump. End the run instead, as the same exception would at top level (asyncio's loop lets
// SystemExit and KeyboardInterrupt out of callbacks and tasks this way).
function uncaught(error) {
  if (!running) crash(error);
  flushPython();
  const line = errorLine(error);
  if (error?.name === 'PythonError') {
    if (/^SystemExit(: (0|None))?$/.test(line)) finishRun({ type: 'done', ok: true });
    const traceback = line.startsWith('SystemExit') ? '' : String(error.message).slice(-TRACEBACK_CHARS);
    finishRun({ type: 'done', ok: false, error: line, traceback });
  }
  finishRun({ type: 'done', ok: false, error: `Uncaught JavaScript error: ${line}`, traceback: '' });
}
addEventListener('error', (event) => {
  event.preventDefault();
  uncaught(event.error ?? event.message);
});
addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  uncaught(event.reason);
});
// Deno.exit()/process.exit() from user code: nothing to catch, but the host learns why in one line.
addEventListener('unload', () => {
  if (!exitingOnPurpose) {
    const why = 'the program exited it through JavaScript (Deno.exit or process.exit)';
    writeStderr(`the embedded sandbox's worker crashed: ${why}`);
  }
});

const entry = pyodide.runPython(`
import sys
if ${JSON.stringify(RUNTIME_MOUNT)} not in sys.path:
    sys.path.insert(0, ${JSON.stringify(RUNTIME_MOUNT)})
import importlib
importlib.import_module(${JSON.stringify(ENTRY_MODULE)})
`);

if (makeSnapshot) {
  entry.prepare();
  entry.destroy();
  writeAll(pyodide.makeMemorySnapshot());
  exitWorker(0);
}

// ---------------------------------------------------------------- warm-up, before `ready`
// A fresh worker's first program took ~20 ms where the next one took ~3: V8 compiles each
// WebAssembly function on its first call (compiled code is not in the snapshot), and a run's path was
// first called by that program. `warm_up` runs a fixed program of ours through it while the worker is
// still starting in the pool (embedded_main.py says what it leaves behind: nothing of its own).
// stdout still goes to the start-up sinks here, which discard.
try {
  await entry.warm_up();
} catch (error) {
  crash(error); // the runtime cannot run a program: a real one would fail the same way
}

// ---------------------------------------------------------------- one run
function outSink(stream) {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  return {
    isatty: false,
    write(buffer) {
      for (let start = 0; start < buffer.length; start += OUT_CHUNK_BYTES) {
        const data = decoder.decode(buffer.subarray(start, start + OUT_CHUNK_BYTES), { stream: true });
        if (data) sendFrame({ type: 'out', stream, data });
      }
      return buffer.length;
    },
  };
}
pyodide.setStdout(outSink('stdout'));
pyodide.setStderr(outSink('stderr'));

const transport = {
  send(text) {
    // Python builds the frame; re-serialising guarantees exactly one JSON line.
    const frame = JSON.parse(text);
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) {
      throw new TypeError('a frame must be a JSON object');
    }
    sendFrame(frame);
  },
  recv: nextLine,
};

sendFrame({ type: 'ready' });

// One program per process, unless its `run` frame says `keep` (a session): then `done` is sent and
// the next `run` frame is awaited in the same interpreter, until the host closes stdin.
let runLine = await nextLine();
for (;;) {
  if (runLine === null) exitWorker(0);
  let run;
  try {
    run = JSON.parse(runLine);
  } catch {
    fatal(EXIT_USAGE, 'the first frame is not JSON');
  }
  if (run?.type !== 'run' || typeof run.code !== 'string')
    fatal(EXIT_USAGE, 'the first frame must be a run frame');
  running = true;
  if (stdinClosed) exitWorker(0);

  let done;
  try {
    done = JSON.parse(await entry.main(runLine, transport));
  } catch (error) {
    const message = String(error?.message ?? error);
    const lastLine = message.trim().split('\n').at(-1) ?? message;
    done = {
      type: 'done',
      ok: false,
      error: `InternalError: ${lastLine}`.slice(0, 4000),
      traceback: message.slice(-16000),
    };
  }
  if (run.keep !== true) finishRun(done);
  // The program's reader of host frames is gone; a read it left waiting must not take the next frame.
  while (waiters.length) waiters.shift()(null);
  running = false;
  sendFrame(done);
  runLine = await nextLine();
}
