"""Embedded (Deno + Pyodide) side of the sandbox protocol (docs/architecture.md, "The frame protocol").

The JavaScript worker owns the Deno process's stdin/stdout. It turns everything Python writes to
fd 1/2 (print, os.write, sys.stdout) into `out` frames itself, so this module only has to:

* run one program, with the granted servers' tools in its namespace (a session's programs share
  one namespace: the worker calls `main` again for each);
* send `rpc`/`call` frames and receive `rpc_result` frames through the worker's `transport`;
* return the `done` frame.

`transport` is a JavaScript object the worker passes in:
    transport.send(frame_json: str) -> None       write one frame (the worker checks it is one JSON
                                                  object and appends the newline)
    await transport.recv() -> str | None          the next host frame after `run`, None on EOF

`prepare()` is called when the worker builds its memory snapshot: whatever this module has imported
by then is in the snapshot and costs nothing per run. It must not keep JavaScript objects alive (a
snapshot can only hold Python state).
"""
from __future__ import annotations

import _signal  # pyright: ignore[reportMissingImports] - the C half of `signal`, which typeshed does not describe
import asyncio
import errno
import functools
import gc
import json
import os
import posix
import signal
from typing import TYPE_CHECKING, NoReturn

from .channel import HostChannel
from .executor import done_frame, execute, flush_std_streams
from .namespace import SessionGlobals, program_globals

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from typing import Protocol

    from .frames import JsonObject, RunFrame

    class Transport(Protocol):
        """The worker's JavaScript object that carries frames (the module's docstring)."""

        def send(self, frame_json: str, /) -> None: ...

        def recv(self) -> Awaitable[str | None]: ...


def _dumps(frame: JsonObject) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def _no_processes(*_args: object, **_kwargs: object) -> NoReturn:
    raise OSError(errno.ENOSYS, "the embedded sandbox cannot start processes")


# Pyodide under Deno implements system() with node:child_process, which Deno refuses (no --allow-run);
# the worker turns the refusal into a shell that found nothing, but a program should get the same
# error as subprocess gives it.
os.system = posix.system = _no_processes

# Emscripten has no other process to signal (os.kill(other, n) fails with EPERM), and a signal it sends
# itself runs the Python handler or takes the default action: exit(128 + n) or abort(), which ends the
# worker in the middle of the run. Refuse those like any other unsupported call. Stop, continue and
# the signals ignored by default do nothing there and pass.
_HARMLESS_BY_DEFAULT = frozenset(
    getattr(signal, name)
    for name in ("SIGCHLD", "SIGURG", "SIGWINCH", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU")
    if hasattr(signal, name)
)


def _refuse_ending_signal(call: str, signalnum: object) -> None:
    if not isinstance(signalnum, int) or signalnum == 0 or signalnum in _HARMLESS_BY_DEFAULT:
        return
    try:
        handler = signal.getsignal(signalnum)
    except ValueError:
        return  # not a signal: the real call says so
    if handler in (None, signal.SIG_DFL):
        try:
            name = signal.Signals(signalnum).name
        except ValueError:
            name = "signal %d" % signalnum
        raise PermissionError(
            errno.EPERM,
            "%s: %s to the sandbox's own process is not available in the embedded sandbox (its default"
            " action would end the process)" % (call, name),
        )


_kill = posix.kill
_raise_signal = signal.raise_signal  # `signal` re-exports _signal's: the same function


@functools.wraps(_kill)
def _guarded_kill(pid: int, signalnum: int, /) -> None:
    if pid == posix.getpid():
        _refuse_ending_signal("os.kill", signalnum)
    return _kill(pid, signalnum)


@functools.wraps(_raise_signal)
def _guarded_raise_signal(signalnum: int, /) -> None:
    _refuse_ending_signal("signal.raise_signal", signalnum)
    return _raise_signal(signalnum)


os.kill = posix.kill = _guarded_kill
signal.raise_signal = _signal.raise_signal = _guarded_raise_signal

# Emscripten sets `_` to the path of the Deno worker script; the program has no use for it.
os.environ.pop("_", None)


def prepare() -> None:
    """Called before the snapshot is taken. Importing this module has imported everything a run needs
    (the executor, the namespace and through it `mcp.runtime`), so there is nothing left to do."""


# What `warm_up` runs: the common steps of a program (a definition, a comprehension, an f-string, an
# exception caught, an await, json, print, a final expression), and nothing of the host.
_WARM_UP_PROGRAM = """
import asyncio, json
def shape(rows):
    return {f"k{i}": [row * 2 for row in rows if row % 2] for i in range(3)}
try:
    raise ValueError("warm-up")
except ValueError as error:
    message = str(error)
await asyncio.sleep(0)
print(json.dumps(shape(range(10)))[:20], message)
len(message)
"""


class _Discard:
    """A transport that sends nowhere and receives end of file: `warm_up` talks to no host."""

    def send(self, _frame_json: str, /) -> None:
        pass

    async def recv(self) -> str | None:
        return None


async def warm_up() -> None:
    """Run `_WARM_UP_PROGRAM` once, before the worker says `ready`.

    V8 compiles each WebAssembly function on its first call, and compiled code is not part of the
    snapshot, so a fresh worker's first program paid for compiling the run path: ~20 ms where the
    next program took ~3. The warm-up pays for it while the worker waits in the pool. It is not a
    session's program: its namespace is dropped, and the garbage it leaves (its channel, its
    exception's frames) is collected, so the user's program finds no object of it, only an
    interpreter that has run this code, as a session's second program finds one.
    """
    await main(json.dumps({"type": "run", "code": _WARM_UP_PROGRAM, "servers": [], "catalog": []}), _Discard())
    gc.collect()


async def _pump(transport: Transport, channel: HostChannel) -> None:
    while True:
        line = await transport.recv()
        if line is None:
            channel.close(ConnectionError("the host closed the channel"))
            return
        channel.receive(line)


async def _cancel_leftover_tasks(pump: asyncio.Task[None]) -> None:
    """Between a session's programs nothing runs: tasks a program left behind are cancelled, as in containers."""
    current = asyncio.current_task()
    leftover = [task for task in asyncio.all_tasks() if task not in (current, pump) and not task.done()]
    for task in leftover:
        task.cancel()
    if leftover:
        await asyncio.wait(leftover, timeout=0.5)


class _Session:
    """What a session's program (`keep` in its `run` frame) leaves for the next one: its globals and its
    channel, so that functions the user kept (`f = mcp_x.tool`) still reach the host."""

    globals: SessionGlobals | None = None
    channel: HostChannel | None = None


_session = _Session()


async def main(run_json: str, transport: Transport) -> str:
    """Run the program of one `run` frame; return the `done` frame as JSON text."""
    run: RunFrame = json.loads(run_json)
    keep = run.get("keep") is True
    loop = asyncio.get_event_loop()
    channel = _session.channel if keep else None
    if channel is None:
        channel = HostChannel(lambda frame: transport.send(_dumps(frame)), loop)
    pump = loop.create_task(_pump(transport, channel))
    try:
        if keep and _session.globals is None:
            _session.globals, _session.channel = SessionGlobals(), channel
        namespace = program_globals(run, channel, _session.globals if keep else None)
        failure = await execute(run.get("code", ""), namespace)
        if keep:
            await _cancel_leftover_tasks(pump)
    finally:
        pump.cancel()
        flush_std_streams()
    return _dumps(done_frame(failure))
