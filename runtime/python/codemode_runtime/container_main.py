"""Container side of the sandbox protocol (design §3).

The protocol channel is a Unix socket the host bind-mounted (`--channel PATH`), or else the process's
original stdin/stdout. Before any user code exists it lives on private, non-inheritable descriptors,
and fds 0/1/2 point at /dev/null and two pipes that reader threads turn into `out` frames, so `print`, `os.write(1, ...)` and child processes all become data,
never frames. The host still validates every frame: user code shares this interpreter and could reach
the private descriptors, so this split prevents accidents, not forgery.
"""
import asyncio
import codecs
import io
import json
import os
import socket
import sys
import threading

import mcp.runtime  # noqa: F401 - imported before `ready`, not on the request path (build_namespace uses it)

from .channel import HostChannel
from .executor import done_frame, execute, flush_std_streams
from .namespace import build_namespace

READ_CHUNK_BYTES = 65536
# How long to wait for output still in flight after the program ends; a detached child process
# that keeps the pipe open must not hold the run hostage.
DRAIN_GRACE_S = 0.5


class FrameWriter:
    def __init__(self, fd):
        self._fd = fd
        self._lock = threading.Lock()

    def send(self, frame):
        data = (json.dumps(frame, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")
        with self._lock:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]


def _drain(fd, stream, writer):
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while True:
        try:
            chunk = os.read(fd, READ_CHUNK_BYTES)
        except OSError:
            chunk = b""
        text = decoder.decode(chunk, final=not chunk)
        if text:
            writer.send({"type": "out", "stream": stream, "data": text})
        if not chunk:
            return


def _capture_std_streams(writer):
    """Point fds 0/1/2 at /dev/null and pipes; return the drain threads and the /dev/null fd."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    threads = []
    for fd, stream in ((1, "stdout"), (2, "stderr")):
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        thread = threading.Thread(target=_drain, args=(read_end, stream, writer), daemon=True)
        thread.start()
        threads.append(thread)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(
        io.FileIO(1, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    return threads, devnull


def _finish_output(threads, devnull):
    flush_std_streams()
    # Replacing fds 1/2 drops the last write ends we hold, so the drain threads see EOF once any
    # child processes that inherited them are gone too.
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    for thread in threads:
        thread.join(DRAIN_GRACE_S)


class LineReader:
    """Newline-delimited frames from the host, read blocking for the run frame and then by the event loop."""

    def __init__(self, fd):
        self._fd = fd
        self._buffer = b""

    def read_line(self):
        while b"\n" not in self._buffer:
            chunk = os.read(self._fd, READ_CHUNK_BYTES)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def pump(self, channel):
        """Reads what is available (called by the loop when the fd is readable) and delivers results."""
        chunk = os.read(self._fd, READ_CHUNK_BYTES)
        if not chunk:
            # The host closed the channel: nobody is left to read our output.
            os._exit(0)
        self._buffer += chunk
        while b"\n" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\n")
            channel.receive(line)


def _open_channel(argv):
    """The protocol fds: a Unix socket the host bind-mounted (`--channel PATH`), else stdin/stdout."""
    if "--channel" in argv:
        path = argv[argv.index("--channel") + 1]
        channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        channel.connect(path)
        fd = channel.detach()
        return fd, os.dup(fd)
    return os.dup(0), os.dup(1)


def main(argv=None):
    protocol_in, protocol_out = _open_channel(sys.argv[1:] if argv is None else argv)
    writer = FrameWriter(protocol_out)
    reader = LineReader(protocol_in)
    threads, devnull = _capture_std_streams(writer)
    # Everything a run needs is prepared before `ready`, so the request path only parses and runs code.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    writer.send({"type": "ready"})

    line = reader.read_line()
    if line is None:
        os._exit(0)
    run = json.loads(line)
    channel = HostChannel(writer.send, loop)
    # Results are read by the event loop itself: no thread hand-off on the tool-call round trip.
    loop.add_reader(protocol_in, reader.pump, channel)

    namespace = build_namespace(run.get("servers") or [], channel, run.get("catalog") or [])
    failure = loop.run_until_complete(execute(run.get("code", ""), namespace))
    _finish_output(threads, devnull)
    writer.send(done_frame(failure))
    # Skip interpreter shutdown: user atexit hooks and lingering threads must not delay or alter the end.
    os._exit(0)
