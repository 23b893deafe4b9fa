"""What the host sends the runtime, as types: the `run` frame and the grants in it (src/sandbox/types.ts).

For the type checker only: modules import it under `if TYPE_CHECKING:`, so the sandbox never loads it
(test_imports.py holds that). JSON the runtime does not look into stays `Any`.
"""
from __future__ import annotations

from typing import Any, NotRequired, TypedDict

JsonObject = dict[str, Any]
"""A JSON object: a frame, a tool's JSON Schema, a doc the runtime returns."""


class ToolPolicy(TypedDict):
    """What the user's policy says of a tool (src/engine/policy/policy-gate.ts, `describe`)."""

    action: str
    rule: str
    reason: str


class ToolGrant(TypedDict):
    """One tool of a granted server. `inputSchema` is the upstream's, unchecked: read it defensively."""

    name: str
    alias: NotRequired[str]
    description: NotRequired[str]
    inputSchema: NotRequired[JsonObject]
    policy: NotRequired[ToolPolicy]


class ServerGrant(TypedDict):
    """A server granted to one run (or described by the host for one that is not)."""

    name: str
    alias: str
    description: NotRequired[str]
    cwd: NotRequired[str]
    tools: NotRequired[list[ToolGrant]]


class CatalogEntry(TypedDict):
    """A configured server as every run sees it, granted or not."""

    name: str
    alias: str
    description: NotRequired[str]


class SkillGrant(TypedDict):
    """A saved skill as a run receives it (its newest version); `error` says why the host cannot offer it."""

    name: str
    version: NotRequired[int]
    versions: NotRequired[list[int]]
    source: NotRequired[str]
    description: NotRequired[str]
    signature: NotRequired[str]
    parameters: NotRequired[list[str]]
    isAsync: NotRequired[bool]
    servers: NotRequired[list[str]]
    savedAt: NotRequired[str]
    error: NotRequired[str]


class RunFrame(TypedDict):
    """The host's `run` frame: one program and its grant; `keep` makes it a session's."""

    type: str
    code: NotRequired[str]
    servers: NotRequired[list[ServerGrant]]
    catalog: NotRequired[list[CatalogEntry]]
    skills: NotRequired[list[SkillGrant]]
    keep: NotRequired[bool]
