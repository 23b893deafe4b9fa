"""The current program's state: what its grant gave it, read by `mcp.runtime`, `save_tool` and the executor.

Private to the runtime. A grant installs a new state for each program it is given to (namespace.py,
`Grant.install`); before the first program, and in the runtime's own unit tests, the state is empty:
no channel, nothing granted, and host operations say they need run_python.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .host_queue import HostQueue

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .channel import HostChannel
    from .frames import CatalogEntry, ServerGrant
    from .skill_loader import SkillSet


class RunState:
    """One program's grant: the host channel, the configured servers (`catalog`), the granted ones
    (`servers`, with their tools), its saved skills, its queue of host operations, and the names the
    runtime gives every program (`provided`, which `save_tool` lets a skill use)."""

    __slots__ = ("channel", "catalog", "servers", "skills", "queue", "provided")

    def __init__(
        self,
        channel: HostChannel | None = None,
        catalog: Iterable[CatalogEntry] = (),
        servers: Iterable[ServerGrant] = (),
        skills: SkillSet | None = None,
        queue: HostQueue | None = None,
        provided: Mapping[str, object] | None = None,
    ) -> None:
        self.channel = channel
        self.catalog = tuple(catalog or ())
        self.servers = tuple(servers or ())
        self.skills = skills
        self.queue = queue if queue is not None else HostQueue(channel)
        self.provided = dict(provided or {})


_current = RunState()


def current() -> RunState:
    """The state of the program running now (or of the last one, between a session's programs)."""
    return _current


def install(state: RunState) -> None:
    """Makes `state` the current program's."""
    global _current
    _current = state
