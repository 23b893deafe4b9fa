"""Shared pieces of the runtime's unit tests: the runtime on sys.path, output capture, a host stand-in."""
from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from codemode_runtime.channel import HostChannel

RUNTIME = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "runtime", "python")
if RUNTIME not in sys.path:
    sys.path.insert(0, os.path.abspath(RUNTIME))


def run(coroutine):
    """Runs a coroutine on a fresh loop and returns its result."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coroutine)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@contextlib.contextmanager
def captured_stdout():
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield buffer


def idle_channel() -> HostChannel:
    """A stand-in for a channel that nothing calls through (grants whose tools the test never calls)."""
    return cast("HostChannel", object())


class RecordingHost:
    """Stands in for the host at the channel's `send`: records frames, answers from a table."""

    def __init__(self):
        self.frames = []
        self.channel: HostChannel | None = None
        self.answers = {}

    def send(self, frame):
        assert self.channel is not None, "set `channel` to the channel this host answers"
        self.frames.append(frame)
        answer = self.answers.get((frame.get("server"), frame.get("tool")), {"ok": True, "value": frame.get("args")})
        reply = dict(answer, type="rpc_result", id=frame["id"])
        asyncio.get_event_loop().call_soon(self.channel.deliver, reply)
