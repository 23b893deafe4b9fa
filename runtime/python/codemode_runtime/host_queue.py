"""Host operations of one run (skill saves, deletions, listings): `call` frames sent strictly in order.

`save_tool` does not wait for the host; the runtime waits for every operation before the run ends and
reports one that failed unobserved as the run's error.
"""
import asyncio
import traceback

from .sources import PROGRAM_NAME


class HostQueue:
    """Host operations of one run, sent strictly one after another, each waited for before the run ends."""

    def __init__(self, channel):
        self._channel = channel
        self._tail = None
        self._operations = []

    def submit(self, op, args, label):
        """Starts `op` after the ones before it; returns its PendingResult (awaiting it is optional)."""
        if self._channel is None:
            raise RuntimeError("%s is only available inside run_python" % (label,))
        channel = self._channel
        previous = self._tail

        async def perform():
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

    async def settle(self):
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

    def __init__(self, task, label, frames):
        self.task = task
        self.label = label
        self.frames = frames
        self.observed = False

    def __await__(self):
        self.observed = True
        return self.task.__await__()

    def __repr__(self):
        state = "done" if self.task.done() else "pending"
        return "<%s: %s; await it for the result>" % (self.label, state)


def _caller_frames():
    """Where the program asked for an operation, for the error report if it fails unawaited."""
    frames = [frame for frame in traceback.extract_stack() if frame.filename == PROGRAM_NAME]
    return traceback.StackSummary.from_list(frames[-3:])
