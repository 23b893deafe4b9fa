"""Host operations of one run (skill saves, deletions, listings): `call` frames sent strictly in order.

`save_tool` does not wait for the host; the runtime waits for every operation before the run ends and
reports one that failed unobserved as the run's error.
"""
from __future__ import annotations

import asyncio
import traceback
from typing import TYPE_CHECKING, Any

from .sources import PROGRAM_NAME

if TYPE_CHECKING:
    from collections.abc import Generator

    from .channel import HostChannel
    from .frames import JsonObject

    Unobserved = tuple[str, BaseException, traceback.StackSummary]
    """An operation that failed and was never awaited: its label, its error, where it was asked for."""


class HostQueue:
    """Host operations of one run, sent strictly one after another, each waited for before the run ends."""

    def __init__(self, channel: HostChannel | None) -> None:
        self._channel = channel
        self._tail: asyncio.Task[Any] | None = None
        self._operations: list[PendingResult] = []

    def submit(self, op: str, args: JsonObject, label: str) -> PendingResult:
        """Starts `op` after the ones before it; returns its PendingResult (awaiting it is optional)."""
        if self._channel is None:
            raise RuntimeError("%s is only available inside run_python" % (label,))
        channel = self._channel
        previous = self._tail

        async def perform() -> Any:
            if previous is not None:
                try:
                    await previous
                except BaseException:  # noqa: BLE001 - its failure is reported on its own
                    pass
            return await channel.request({"type": "call", "op": op, "args": args})

        task = asyncio.get_event_loop().create_task(perform())
        self._tail = task
        pending = PendingResult(task, label, _caller_frames())
        self._operations.append(pending)
        return pending

    async def settle(self) -> Unobserved | None:
        """Waits for every operation; returns the first failure nobody awaited, as (label, error, frames)."""
        # An operation may submit more (none do today); the list is re-read until all are done.
        while not all(pending.task.done() for pending in self._operations):
            await asyncio.wait([pending.task for pending in self._operations if not pending.task.done()])
        for pending in self._operations:
            if pending.observed or not pending.task.done() or pending.task.cancelled():
                continue
            error = pending.task.exception()
            if error is not None:
                return pending.label, error, pending.frames
        return None


class PendingResult:
    """A host operation in flight. `await` it for its result (or error); otherwise the run waits for it."""

    def __init__(self, task: asyncio.Task[Any], label: str, frames: traceback.StackSummary) -> None:
        self.task = task
        self.label = label
        self.frames = frames
        self.observed = False

    def __await__(self) -> Generator[Any, None, Any]:
        self.observed = True
        return self.task.__await__()

    def __repr__(self) -> str:
        state = "done" if self.task.done() else "pending"
        return "<%s: %s; await it for the result>" % (self.label, state)


def _caller_frames() -> traceback.StackSummary:
    """Where the program asked for an operation, for the error report if it fails unawaited."""
    frames = [frame for frame in traceback.extract_stack() if frame.filename == PROGRAM_NAME]
    return traceback.StackSummary.from_list(frames[-3:])
