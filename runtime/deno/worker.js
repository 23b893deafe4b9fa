// codemode-bridge embedded sandbox worker: Pyodide inside a permissionless Deno (design §5).
//
// Plain JavaScript on purpose: Deno then needs no type-check or transpile cache for it.
// The host (src/sandbox/embedded/) starts it as:
//   deno run --no-prompt --no-config --no-lock --no-npm --no-remote \
//     --allow-read=<pyodideDir>,<runtimeDir>[,<snapshotFile>] --v8-flags=--wasm-max-mem-pages=N,... \
//     worker.js --pyodide=<pyodideDir> --runtime=<runtimeDir> [--snapshot=<file> --snapshot-size=<bytes>]
//   stdout: newline-delimited JSON frames (ready, out, rpc, call, done); stdin: run, rpc_result.
//   One process = one run: exit 0 after `done` (or on stdin EOF). Exit 3 = the snapshot is unusable
//   (the host deletes and rebuilds it); exit 2 = bad invocation or first frame; anything else = crash.
//   Diagnostics go to stderr.
//
// Snapshot mode: same flags without --snapshot*, plus --make-snapshot. Runs no user code; stdout is
// the raw snapshot bytes and nothing else. No write permission is needed: the host stores the bytes.
//
// Python entry contract (runtime/python/codemode_runtime/embedded_main.py):
//   prepare()                          imports done before a snapshot is taken
//   async main(run_json, transport)    -> done frame JSON; transport = {send(str), recv() -> Promise<str|null>}
//
// User code can reach every JS object here through Pyodide's `js` module and can write anything to
// stdout. Deno's permissions are the security boundary and the host validates every frame.

const T0 = performance.now();
const RUNTIME_MOUNT = "/opt/codemode";
const ENTRY_MODULE = "codemode_runtime.embedded_main";
const EXIT_USAGE = 2;
const EXIT_SNAPSHOT_INVALID = 3;
/** Output is sliced before decoding so a 100 MB print never becomes one huge JS string or frame. */
const OUT_CHUNK_BYTES = 64 * 1024;

const opts = {};
for (const arg of Deno.args) {
  const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
  if (!match) fatal(EXIT_USAGE, `bad argument ${arg}`);
  opts[match[1]] = match[2] ?? true;
}
if (!opts.pyodide || !opts.runtime) fatal(EXIT_USAGE, "need --pyodide=DIR and --runtime=DIR");
const pyodideDir = opts.pyodide.endsWith("/") ? opts.pyodide : `${opts.pyodide}/`;
const makeSnapshot = opts["make-snapshot"] === true;

// ---------------------------------------------------------------- stdout: frames only
const encoder = new TextEncoder();
function writeAll(bytes) {
  let view = bytes;
  while (view.length > 0) view = view.subarray(Deno.stdout.writeSync(view));
}
function sendFrame(frame) {
  writeAll(encoder.encode(`${JSON.stringify(frame)}\n`));
}
function fatal(code, message) {
  try {
    Deno.stderr.writeSync(encoder.encode(`codemode-worker: ${message}\n`));
  } catch {
    // nothing left to tell
  }
  Deno.exit(code);
}

// ---------------------------------------------------------------- stdin: line reader
const lines = [];
const waiters = [];
let stdinClosed = false;
let running = false;
(async () => {
  const decoder = new TextDecoder();
  let buffered = "";
  const reader = Deno.stdin.readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim()) pushLine(line);
    }
  }
  stdinClosed = true;
  // The host is gone (or killed this run): nobody reads our output any more.
  if (running) Deno.exit(0);
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
async function readTree(dir, rel = "") {
  const files = [];
  for await (const entry of Deno.readDir(`${dir}/${rel}`)) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory) {
      if (entry.name !== "__pycache__") files.push(...(await readTree(dir, path)));
    } else if (entry.isFile && entry.name.endsWith(".py")) {
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
    const parts = `${RUNTIME_MOUNT}/${path}`.split("/").slice(1, -1);
    let dir = "";
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
  if (opts["snapshot-size"] && bytes.length !== Number(opts["snapshot-size"])) {
    fatal(EXIT_SNAPSHOT_INVALID, `snapshot size ${bytes.length} != ${opts["snapshot-size"]}`);
  }
  return bytes;
}

const timings = {};
let [snapshot, runtimeFiles, { loadPyodide }] = await Promise.all([
  makeSnapshot ? undefined : loadSnapshotBytes(),
  readTree(opts.runtime),
  import(new URL("pyodide.mjs", `file://${pyodideDir}`).href),
]);
timings.filesMs = Math.round(performance.now() - T0);

let pyodide;
try {
  pyodide = await loadPyodide({
    indexURL: pyodideDir,
    env: { HOME: "/home/pyodide" },
    stdout: () => {}, // start-up chatter never reaches the protocol channel
    stderr: () => {},
    _makeSnapshot: makeSnapshot,
    _loadSnapshot: snapshot,
  });
} catch (error) {
  if (snapshot) fatal(EXIT_SNAPSHOT_INVALID, `snapshot rejected: ${error?.message ?? error}`);
  throw error;
}
timings.loadPyodideMs = Math.round(performance.now() - T0 - timings.filesMs);
// MEMFS contents are JS objects and not part of a snapshot: write the files on every start (a few
// kB), so lazy imports, linecache and tracebacks see them.
mountRuntime(pyodide, runtimeFiles);
runtimeFiles = undefined;
pyodide.setStdin({ stdin: () => null }); // input() raises EOFError; it never reads the protocol channel
const fromSnapshot = Boolean(snapshot);
snapshot = undefined; // ~30 MB we no longer need

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
  Deno.exit(0);
}

// ---------------------------------------------------------------- one run
function outSink(stream) {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  return {
    isatty: false,
    write(buffer) {
      for (let start = 0; start < buffer.length; start += OUT_CHUNK_BYTES) {
        const data = decoder.decode(buffer.subarray(start, start + OUT_CHUNK_BYTES), { stream: true });
        if (data) sendFrame({ type: "out", stream, data });
      }
      return buffer.length;
    },
  };
}
pyodide.setStdout(outSink("stdout"));
pyodide.setStderr(outSink("stderr"));

const transport = {
  send(text) {
    // Python builds the frame; re-serialising guarantees exactly one JSON line.
    const frame = JSON.parse(text);
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
      throw new TypeError("a frame must be a JSON object");
    }
    sendFrame(frame);
  },
  recv: nextLine,
};

sendFrame({ type: "ready", loadMs: Math.round(performance.now() - T0), snapshot: fromSnapshot, ...timings });

const runLine = await nextLine();
if (runLine === null) Deno.exit(0);
let run;
try {
  run = JSON.parse(runLine);
} catch {
  fatal(EXIT_USAGE, "the first frame is not JSON");
}
if (run?.type !== "run" || typeof run.code !== "string") fatal(EXIT_USAGE, "the first frame must be a run frame");
running = true;
if (stdinClosed) Deno.exit(0);

let done;
try {
  done = JSON.parse(await entry.main(runLine, transport));
} catch (error) {
  const message = String(error?.message ?? error);
  const lastLine = message.trim().split("\n").at(-1) ?? message;
  done = { type: "done", ok: false, error: `InternalError: ${lastLine}`.slice(0, 4000), traceback: message.slice(-16000) };
}
sendFrame(done);
Deno.exit(0);
