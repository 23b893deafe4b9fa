"""Request/response bookkeeping over the host channel, independent of how frames travel.

Backends call `deliver` with each `rpc_result` frame, on the event loop's thread: the container
backend from a loop reader on its protocol fd, the embedded backend from JavaScript.
"""
from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any, cast

import mcp

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from .frames import JsonObject


class HostChannel:
    def __init__(
        self,
        send: Callable[[JsonObject], None],
        loop: asyncio.AbstractEventLoop,
        send_request: Callable[[JsonObject], None] | None = None,
    ) -> None:
        """`send` writes a frame now; `send_request` (default `send`) may batch requests until the loop's next step."""
        self._send = send
        self._send_request = send_request or send
        self._loop = loop
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._closed: BaseException | None = None

    async def request(self, frame: JsonObject) -> Any:
        """Send `frame` with a fresh id and wait for the host's `rpc_result`."""
        if self._closed is not None:
            raise self._closed
        request_id = next(self._ids)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[request_id] = future
        try:
            self._send_request(dict(frame, id=request_id))
            return await future
        finally:
            self._pending.pop(request_id, None)

    def receive(self, line: str | bytes) -> None:
        """Handles one line from the host: an `rpc_result` settles its request; anything else is ignored.

        The host bounds what it sends (depth, size), so an undecodable line means a host bug: the
        requests waiting right now fail with the reason instead of waiting for the run's timeout.
        """
        try:
            frame = json.loads(line)
        except (ValueError, RecursionError, MemoryError) as error:
            self._fail_pending(mcp.ToolError("the sandbox could not decode a reply from the host: %s" % (error,)))
            return
        if isinstance(frame, dict) and cast("JsonObject", frame).get("type") == "rpc_result":
            self.deliver(cast("JsonObject", frame))

    def deliver(self, frame: JsonObject) -> None:
        request_id: int | None = frame.get("id")
        future = self._pending.get(request_id) if request_id is not None else None
        if future is None or future.done():
            return
        if frame.get("ok"):
            future.set_result(frame.get("value"))
        else:
            future.set_exception(mcp.error_for(frame.get("error") or "tool call failed", frame.get("code")))

    def close(self, error: BaseException) -> None:
        """Fails every pending and future request with `error` (the host went away)."""
        self._closed = error
        self._fail_pending(error)

    def _fail_pending(self, error: BaseException) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
