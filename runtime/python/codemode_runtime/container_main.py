"""Container side of the sandbox protocol (docs/architecture.md, "The frame protocol").

The protocol channel is a Unix socket the host bind-mounted (`--channel PATH`), or else the process's
original stdin/stdout, opened by lifeline.py (which also starts the process that ends this one when
the host's end closes). Before any user code exists it lives on private, non-inheritable descriptors,
and fds 0/1/2 point at /dev/null and two pipes that reader threads turn into `out` frames, so
`print`, `os.write(1, ...)` and child processes all become data, never frames. The host still
validates every frame: user code shares this interpreter and could reach the private descriptors,
so this split prevents accidents, not forgery.
"""
import asyncio
import codecs
import fcntl
import io
import json
import operator
import os
import posix
import select
import struct
import sys
import termios
import threading
import time

import mcp.runtime  # noqa: F401 - imported before `ready`, not on the request path (build_namespace uses it)

from .channel import HostChannel
from .executor import Failure, done_frame, execute, flush_std_streams
from .namespace import SessionGlobals, program_globals

READ_CHUNK_BYTES = 65536
# How long to wait for output still in flight after the program ends; a detached child process
# that keeps the pipe open must not hold the run hostage.
DRAIN_GRACE_S = 0.5
# How many of a program's Python-level writes are sent as frames at once; the rest go through the
# pipe, where the drain thread batches them (see _DirectStream).
DIRECT_WRITES_PER_PROGRAM = 32
# After `done`, how long to wait for the host to close the channel; it does so at once, so this only
# bounds a host that is gone without closing it.
HOST_CLOSE_WAIT_S = 30
# How long tasks the program left running get to handle their cancellation.
LEFTOVER_TASKS_GRACE_S = 0.5
# The real exit, kept before `os._exit` is replaced for the program.
_REAL_EXIT = os._exit


def _write_all(fd, data):
    """Writes all of `data` to a blocking fd (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _encode(frame):
    return (json.dumps(frame, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


class FrameWriter:
    """Writes frames to the host, from any thread, in the order they are sent.

    Tool calls go through `send_soon`: the calls one step of the event loop makes (an
    `asyncio.gather` of 20) leave in one write at the end of that step, not one syscall each.
    Any other frame first writes what is batched, so the order of frames never changes.
    """

    def __init__(self, fd):
        self._fd = fd
        self._lock = threading.Lock()
        self._loop = None
        self._batch = []

    def use_loop(self, loop):
        """The event loop that `send_soon` flushes on (the one tool calls are made from)."""
        self._loop = loop

    def send(self, frame):
        data = _encode(frame)
        with self._lock:
            _write_all(self._fd, self._take_batch() + data)

    def send_soon(self, frame):
        data = _encode(frame)
        with self._lock:
            self._batch.append(data)
            if len(self._batch) > 1:
                return
        self._loop.call_soon(self.flush)

    def flush(self):
        with self._lock:
            _write_all(self._fd, self._take_batch())

    def try_send(self, frames):
        """Sends `frames()` unless another send holds the writer; False then, and nothing was sent.

        For output written on a thread that may already be inside `send`: a signal handler that
        prints, run between two bytecodes of a send, would wait for itself.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            _write_all(self._fd, self._take_batch() + b"".join(_encode(frame) for frame in frames()))
        finally:
            self._lock.release()
        return True

    def _take_batch(self):
        batch, self._batch = self._batch, []
        return b"".join(batch)


class _Drain:
    """Turns what a pipe receives into `out` frames; `settle` sends what it holds before a `done`.

    Each read and its frame happen under one lock, so once the pipe is empty while the lock is held,
    everything written to it before has been sent (a session's `done` must follow the call's output).
    """

    def __init__(self, fd, stream, writer):
        self._fd = fd
        self._stream = stream
        self._writer = writer
        self._lock = threading.Lock()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._direct_decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._waiting_buffer = bytearray(4)

    def run(self):
        while True:
            try:
                select.select([self._fd], [], [])
            except (OSError, ValueError):
                pass
            with self._lock:
                if not self._send_once():
                    return

    def _send_once(self):
        """One read of the pipe and its frame (the lock held); False once the pipe has ended."""
        try:
            chunk = os.read(self._fd, READ_CHUNK_BYTES)
        except BlockingIOError:
            return True
        except OSError:
            chunk = b""
        text = self._decoder.decode(chunk, final=not chunk)
        if text:
            self._writer.send({"type": "out", "stream": self._stream, "data": text})
        return bool(chunk)

    def send_direct(self, data):
        """Sends what Python code wrote as an `out` frame now, after what the pipe already holds.

        False when the drain or the writer is busy (another thread, or this one interrupted by a
        signal handler): the caller then writes to the pipe, and the drain thread sends it.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return self._writer.try_send(lambda: self._frames_for(data))
        finally:
            self._lock.release()

    def _waiting(self):
        """How many bytes the pipe holds now (the lock held)."""
        fcntl.ioctl(self._fd, termios.FIONREAD, self._waiting_buffer)
        return struct.unpack("i", bytes(self._waiting_buffer))[0]

    def _frames_for(self, data):
        frames = []
        waiting = self._waiting()
        # Written to the fd (C code, a child process) before this write: it goes first, in chunks
        # that keep each frame far below the host's cap.
        while waiting > 0:
            chunk = os.read(self._fd, min(waiting, READ_CHUNK_BYTES))
            if not chunk:
                break
            waiting -= len(chunk)
            text = self._decoder.decode(chunk)
            if text:
                frames.append({"type": "out", "stream": self._stream, "data": text})
        text = self._direct_decoder.decode(data)
        if text:
            frames.append({"type": "out", "stream": self._stream, "data": text})
        return frames

    def settle(self, timeout):
        """Sends what the pipe holds now (at most `timeout` s of it, if a thread keeps writing).

        The calling thread reads it itself rather than waiting for the drain thread to wake: on a
        small VM that wake-up is a good part of a session call's time.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._waiting() == 0 or not self._send_once():
                    return
            if time.monotonic() > deadline:
                return


class _DirectStream(io.RawIOBase):
    """The binary stream under a program's `sys.stdout`/`sys.stderr` at first: writes become frames at once.

    Through the pipe, each `print` woke the drain thread, which then contended with the program for
    the GIL: ~0.2 ms of a session call at agent pace. A program that goes on writing is moved to the
    pipe (`_Output.to_pipe`): there the drain thread batches what a loop prints, and the write path is
    C, where this one costs a loop ~40% more time. The fd stays the pipe (`fileno()`), so C code,
    `os.write` and child processes write there as before; a forked child does too, since only this
    process sends frames.
    """

    def __init__(self, output):
        self._output = output
        self._pid = os.getpid()
        self.left = 0

    def writable(self):
        return True

    def fileno(self):
        return self._output.fd

    def write(self, data):
        if not isinstance(data, bytes):
            data = bytes(data)  # `sys.stdout.buffer.write` takes any buffer; its length is in bytes
        self.left -= 1
        if (
            self.left >= 0
            and len(data) <= READ_CHUNK_BYTES  # a bigger one is cut into frames by the drain
            and os.getpid() == self._pid
            and self._output.drain.send_direct(data)
        ):
            return len(data)
        self._output.to_pipe()
        _write_all(self._output.fd, data)
        return len(data)


class _Output:
    """One of stdout/stderr: the pipe its fd points at, the thread draining it, and the two text streams.

    `sys.stdout` (or `sys.stderr`) is the direct stream for a program's first writes and the piped
    one after; a program that set its own stream keeps it. The direct stream is line-buffered (as
    on a terminal: a partial line waits for its newline, a flush, or the program's end); the piped
    one writes through.
    """

    def __init__(self, fd, name, writer):
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        os.dup2(write_end, fd)
        os.close(write_end)
        self.fd = fd
        self.name = name
        self.drain = _Drain(read_end, name, writer)
        self.thread = threading.Thread(target=self.drain.run, daemon=True)
        self.thread.start()
        self._direct = _DirectStream(self)
        # Line-buffered, so a `print` is one write, as it is one frame: two writes, each a frame,
        # leave time for a child process's output to land between a line and its newline.
        self.direct = io.TextIOWrapper(
            self._direct, encoding="utf-8", errors="backslashreplace", line_buffering=True
        )
        self.piped = io.TextIOWrapper(
            io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
        )

    def start(self):
        """A program starts: its first writes go straight out as frames."""
        self._direct.left = DIRECT_WRITES_PER_PROGRAM
        if getattr(sys, self.name) is self.piped:
            setattr(sys, self.name, self.direct)

    def to_pipe(self):
        if getattr(sys, self.name) is self.direct:
            setattr(sys, self.name, self.piped)

    def flush(self):
        """Sends a partial line the direct stream holds (the program may have kept a reference to it)."""
        try:
            self.direct.flush()
        except Exception:  # noqa: BLE001 - the program may have closed it
            pass


def _capture_std_streams(writer):
    """Point fds 0/1/2 at /dev/null and pipes; return the two outputs and the /dev/null fd."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    outputs = [_Output(1, "stdout", writer), _Output(2, "stderr", writer)]
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
    sys.stdout, sys.stderr = outputs[0].piped, outputs[1].piped
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    return outputs, devnull


def _flush_python_output(outputs):
    """Pushes what Python holds to the fds: `sys.stdout`/`sys.stderr` as they are now, and the direct
    streams (the program may keep a reference to one after `sys.stdout` moved on)."""
    flush_std_streams()
    for output in outputs:
        output.flush()


def _finish_output(outputs, devnull):
    _flush_python_output(outputs)
    # Replacing fds 1/2 drops the last write ends we hold, so the drain threads see EOF once any
    # child processes that inherited them are gone too.
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    for output in outputs:
        output.thread.join(DRAIN_GRACE_S)


class LineReader:
    """Newline-delimited frames from the host, read blocking for the run frame and then by the event loop.

    Linear in the size of a frame: chunks are collected and joined once, when their newline arrives
    (a tool result of tens of MB must not be copied once per chunk).
    """

    def __init__(self, fd):
        self._fd = fd
        self._chunks = []

    def _take_lines(self, chunk):
        lines = []
        start = 0
        newline = chunk.find(b"\n")
        while newline != -1:
            self._chunks.append(chunk[start:newline])
            lines.append(b"".join(self._chunks))
            self._chunks = []
            start = newline + 1
            newline = chunk.find(b"\n", start)
        if start < len(chunk):
            self._chunks.append(chunk[start:])
        return lines

    def read_line(self):
        """The next line, blocking; None at end of stream. Only used before the event loop runs."""
        while True:
            chunk = os.read(self._fd, READ_CHUNK_BYTES)
            if not chunk:
                return None
            lines = self._take_lines(chunk)
            if lines:
                # The host sends nothing after `run` until the program asks, so there is no second line.
                return lines[0]

    def pump(self, channel):
        """Reads what is available (called by the loop when the fd is readable) and delivers results."""
        chunk = os.read(self._fd, READ_CHUNK_BYTES)
        if not chunk:
            # The host closed the channel (it killed this run, or it is gone): nobody reads our output.
            _REAL_EXIT(0)
        for line in self._take_lines(chunk):
            channel.receive(line)

    def wait_for_close(self, timeout):
        """Discards what the host still sends until it closes the channel, or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([self._fd], [], [], remaining)
                if readable and not os.read(self._fd, READ_CHUNK_BYTES):
                    return
            except (OSError, ValueError):
                return


class Finisher:
    """Ends the run exactly once, whichever way the program ends: it returns, or calls `os._exit`.

    The order matters. Tasks the program left running (fire-and-forget calls, the rest of a failed
    `gather`) are cancelled; its output is drained; `done` is sent; then the runtime waits for the
    host to close the channel before the process exits. Exiting first would race the host's replies
    to calls still in flight: a write to a closed socket resets the connection, and a reset discards
    frames the host had not read yet — `done` among them.
    """

    def __init__(self, writer, reader, outputs, devnull):
        self._writer = writer
        self._reader = reader
        self._outputs = outputs
        self._devnull = devnull
        self._lock = threading.Lock()
        self._pid = os.getpid()
        # A session's program: after `done` nothing more is expected of this process, and the host
        # does not close the channel (it waits for the next program), so exit at once.
        self.keep = False

    def finish(self, failure):
        # A second thread ending the program while the first reports waits here until the process exits.
        self._lock.acquire()
        try:
            _finish_output(self._outputs, self._devnull)
            self._writer.send(dict(done_frame(failure), final=True) if self.keep else done_frame(failure))
            if not self.keep:
                self._reader.wait_for_close(HOST_CLOSE_WAIT_S)
        finally:
            # Skip interpreter shutdown: user atexit hooks and lingering threads must not delay or alter the end.
            _REAL_EXIT(0)

    def exit_now(self, status, /):
        """`os._exit` as the program sees it: what it printed still arrives, and the status is reported."""
        code = operator.index(status)
        if os.getpid() != self._pid:
            # A forked child (multiprocessing ends its children this way): only the program's own
            # process reports to the host.
            _REAL_EXIT(code)
        self.finish(None if code == 0 else Failure("SystemExit: %d" % code, ""))


def _cancel_leftover_tasks(loop):
    """Cancels tasks the program did not await, and lets them run their `finally` blocks briefly."""
    leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not leftover:
        return
    for task in leftover:
        task.cancel()
    loop.run_until_complete(asyncio.wait(leftover, timeout=LEFTOVER_TASKS_GRACE_S))


def main(channel, forked=None):
    """Serves runs over `channel`, the protocol fds (in, out) lifeline.open_channel returned.

    `forked`: the child lifeline.watch_host forked, to reap before `ready` (it has exited by then).
    """
    protocol_in, protocol_out = channel
    writer = FrameWriter(protocol_out)
    reader = LineReader(protocol_in)
    outputs, devnull = _capture_std_streams(writer)
    finisher = Finisher(writer, reader, outputs, devnull)
    os._exit = posix._exit = finisher.exit_now
    # Everything a run needs is prepared before `ready`, so the request path only parses and runs code.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    writer.use_loop(loop)
    if forked is not None:
        os.waitpid(forked, 0)
    writer.send({"type": "ready"})

    channel = HostChannel(writer.send, loop, writer.send_soon)
    # Results are read by the event loop itself: no thread hand-off on the tool-call round trip. The
    # reader stays registered between a session's programs (the loop only polls while one runs, and
    # the next `run` frame is read blocking, below): registering it per program cost ~0.1 ms a call.
    loop.add_reader(protocol_in, reader.pump, channel)
    session = SessionGlobals()
    while True:
        line = reader.read_line()
        if line is None:
            _REAL_EXIT(0)
        run = json.loads(line)
        keep = run.get("keep") is True
        finisher.keep = keep
        namespace = program_globals(run, channel, session if keep else None)
        for output in outputs:
            output.start()
        failure = loop.run_until_complete(execute(run.get("code", ""), namespace))
        try:
            _cancel_leftover_tasks(loop)
        except BaseException:  # noqa: BLE001 - a task that refuses to die must not cost the run its result
            pass
        if not keep:
            finisher.finish(failure)
        # A session's sandbox stays: the call's output must all be sent before its `done`, and the
        # next `run` frame is read where this one was.
        _flush_python_output(outputs)
        for output in outputs:
            output.drain.settle(DRAIN_GRACE_S)
        writer.send(done_frame(failure))
