"""Embedded (Deno + Pyodide) side of the sandbox protocol (design §3).

The JavaScript worker owns the Deno process's stdin/stdout. It turns everything Python writes to
fd 1/2 (print, os.write, sys.stdout) into `out` frames itself, so this module only has to:

* run one program, with the granted servers' tools in its namespace;
* send `rpc`/`call` frames and receive `rpc_result` frames through the worker's `transport`;
* return the `done` frame.

`transport` is a JavaScript object the worker passes in:
    transport.send(frame_json: str) -> None       write one frame (the worker checks it is one JSON
                                                  object and appends the newline)
    await transport.recv() -> str | None          the next host frame after `run`, None on EOF

`prepare()` is called when the worker builds its memory snapshot, so whatever it imports is already
in the snapshot and costs nothing per run. It must not keep JavaScript objects alive (a snapshot
can only hold Python state).
"""
import asyncio
import errno
import json
import os

from .channel import HostChannel
from .executor import done_frame, execute, flush_std_streams
from .namespace import build_namespace


def _dumps(frame):
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _no_processes(*_args, **_kwargs):
    raise OSError(errno.ENOSYS, "the embedded sandbox cannot start processes")


# Pyodide under Deno implements system() with node:child_process. Deno refuses it (no --allow-run),
# but as a fatal error that kills the worker; fail like any other unsupported call instead.
# (posix.system is still reachable and still only kills this run's worker.)
os.system = _no_processes
# Emscripten sets `_` to the path of the Deno worker script; the program has no use for it.
os.environ.pop("_", None)


def prepare():
    # Import-only warm-up: everything a run needs, so the request path only parses and runs code.
    import ast  # noqa: F401
    import traceback  # noqa: F401

    import mcp.runtime  # noqa: F401  (build_namespace imports it on every run)


async def _pump(transport, channel):
    while True:
        line = await transport.recv()
        if line is None:
            channel.close(ConnectionError("the host closed the channel"))
            return
        channel.receive(line)


async def main(run_json, transport):
    """Run the program of one `run` frame; return the `done` frame as JSON text."""
    run = json.loads(run_json)
    loop = asyncio.get_event_loop()
    channel = HostChannel(lambda frame: transport.send(_dumps(frame)), loop)
    pump = loop.create_task(_pump(transport, channel))
    try:
        namespace = build_namespace(run.get("servers") or [], channel, run.get("catalog") or [])
        failure = await execute(run.get("code", ""), namespace)
    finally:
        pump.cancel()
        flush_std_streams()
    return _dumps(done_frame(failure))
