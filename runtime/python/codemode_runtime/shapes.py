"""Answers the run already holds, in the shapes `mcp.runtime` and the server modules give them.

A leaf shared by `mcp.runtime` and namespace.py: server metadata in mcp-server-code-execution-mode's
shape, and the list and dict whose `await` is optional.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Generator

    from typing import Self

    from .frames import JsonObject, ServerGrant, ToolGrant


def json_object(value: object) -> JsonObject:
    """`value` if it is a JSON object, else an empty one: for what the upstreams wrote (schemas), unchecked."""
    return cast("JsonObject", value) if isinstance(value, dict) else {}


def server_metadata(server: ServerGrant) -> JsonObject:
    """A server as `describe_server` returns it: name, alias, description, cwd, tools (input_schema each)."""
    return {
        "name": server["name"],
        "alias": server["alias"],
        "description": server.get("description") or "",
        "cwd": server.get("cwd"),
        "tools": [_tool_metadata(tool) for tool in server.get("tools") or []],
    }


def _tool_metadata(tool: ToolGrant) -> JsonObject:
    metadata: JsonObject = {
        "name": tool["name"],
        "alias": tool.get("alias") or tool["name"],
        "description": tool.get("description") or "",
        "input_schema": tool.get("inputSchema") or {},
    }
    policy = tool.get("policy")
    if policy:
        metadata["policy"] = policy
    return metadata


class AwaitableDict(dict[str, Any]):
    """A dict the run already holds; `await` on it is allowed, so both call styles work."""

    def __await__(self) -> Generator[Any, None, Self]:
        return self
        yield  # unreachable: makes __await__ a generator, as the protocol requires


class AwaitableList(list["JsonObject"]):
    """A list the run already holds; `await` on it is allowed, so both call styles work."""

    def __await__(self) -> Generator[Any, None, Self]:
        return self
        yield  # unreachable: makes __await__ a generator, as the protocol requires
