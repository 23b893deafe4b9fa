"""One async function per upstream tool: its signature and docstring from the tool's JSON Schema.

namespace.py puts them in a program's globals; docs.py renders the same signatures as tool docs and
stubs; `mcp.runtime.call_tool` sends its calls through `request_tool`.
"""
from __future__ import annotations

import inspect
import keyword
import typing
from typing import TYPE_CHECKING, Any, cast

import mcp

from .shapes import json_object

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .channel import HostChannel
    from .frames import JsonObject, ServerGrant, ToolGrant

    class ToolFunction(typing.Protocol):
        """A tool as a program calls it: `await f(...)` for the unwrapped result, `await f.raw(...)`
        for the MCP result dict."""

        __name__: str
        __signature__: inspect.Signature
        raw: RawToolFunction

        async def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

    class RawToolFunction(typing.Protocol):
        __signature__: inspect.Signature

        async def __call__(self, *args: Any, **kwargs: Any) -> Any: ...


_JSON_TYPES: dict[str, object] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _json_type(kind: object) -> object | None:
    """The Python type of one JSON Schema type name; None for anything else (an object, a list: unhashable)."""
    return _JSON_TYPES.get(kind) if isinstance(kind, str) else None


def _annotation(schema: JsonObject) -> object:
    """The Python annotation for a property's JSON Schema `type` (a union for a list of types)."""
    kind: object = schema.get("type")
    if isinstance(kind, list):
        found = [_json_type(k) for k in cast("list[object]", kind)]
        types_ = [found_type for found_type in found if found_type is not None]
        if not types_:
            return typing.Any
        return typing.Union[tuple(types_)] if len(types_) > 1 else types_[0]
    return _json_type(kind) or typing.Any


def _type_name(annotation: object) -> str:
    if annotation is typing.Any:
        return "any"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def signature_and_docs(tool: ToolGrant | JsonObject) -> tuple[inspect.Signature, list[str], str | None]:
    """A tool's Python signature and per-parameter doc lines, from its JSON Schema.

    Returns (signature, doc_lines, extra) where `extra` names the `**kwargs` parameter that carries
    properties which are not Python identifiers (None when there are none). Upstream schemas are
    untrusted input: anything malformed degrades to fewer named parameters, never an exception.
    """
    schema: JsonObject = json_object(tool.get("inputSchema"))
    properties = json_object(schema.get("properties"))
    listed: object = schema.get("required")
    listed = cast("list[object]", listed) if isinstance(listed, list) else []
    required = [name for name in listed if isinstance(name, str) and name in properties]
    optional = [name for name in properties if name not in required]
    parameters: list[inspect.Parameter] = []
    docs: list[str] = []
    unnamed: list[str] = []
    for name in required + optional:
        prop = json_object(properties.get(name))
        if not name.isidentifier() or keyword.iskeyword(name):
            unnamed.append(name)
            continue
        annotation = _annotation(prop)
        is_required = name in required
        if is_required:
            parameter = inspect.Parameter(
                name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation
            )
        else:
            parameter = inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=prop.get("default")
            )
        parameters.append(parameter)
        line = "    %s (%s%s)" % (name, _type_name(annotation), "" if is_required else ", optional")
        description = " ".join(str(prop.get("description") or "").split())
        docs.append(line + (": " + description if description else ""))
    # Keyword-only parameters must follow positional ones; required names were listed first.
    parameters.sort(key=lambda p: p.kind)
    extra = None
    if unnamed:
        # Properties that are not Python identifiers are still reachable, as **extra keyword arguments.
        extra = "arguments" if "arguments" not in properties else "more_arguments"
        parameters.append(inspect.Parameter(extra, inspect.Parameter.VAR_KEYWORD))
        docs.append("    **%s: %s" % (extra, ", ".join(unnamed)))
    return inspect.Signature(parameters), docs, extra


async def request_tool(
    channel: HostChannel, server_name: str, tool_name: str, arguments: Mapping[str, object], raw: bool = False
) -> Any:
    """One upstream call. `raw`: the host returns the MCP result dict untouched instead of unwrapping it."""
    frame: JsonObject = {"type": "rpc", "server": server_name, "tool": tool_name, "args": arguments}
    if raw:
        frame["raw"] = True
    try:
        return await channel.request(frame)
    except mcp.ToolError as error:
        error.server, error.tool = server_name, tool_name
        raise


def tool_docstring(server: ServerGrant, tool: ToolGrant, param_docs: list[str]) -> str:
    """A tool function's docstring: the tool's description, its parameters, and where it comes from."""
    tool_name = tool["name"]
    description = (tool.get("description") or "").strip()
    doc = description or "Call %s on %s." % (tool_name, server["name"])
    if param_docs:
        doc += "\n\nArgs:\n" + "\n".join(param_docs)
    doc += "\n\nMCP tool %r of server %r." % (tool_name, server["name"])
    policy: object = tool.get("policy")
    if isinstance(policy, dict):
        shown = cast("JsonObject", policy)
        doc += "\nPolicy: %s (rule %s: %s)." % (shown.get("action"), shown.get("rule"), shown.get("reason"))
    return doc


def make_tool_function(server: ServerGrant, tool: ToolGrant, channel: HostChannel) -> ToolFunction:
    """The function a program calls for `tool`, with the tool's signature and docstring."""
    signature, param_docs, extra = signature_and_docs(tool)
    server_name = server["name"]
    tool_name = tool["name"]
    alias = tool.get("alias") or tool_name

    named = frozenset(signature.parameters) - {extra}
    required = frozenset(
        name for name, parameter in signature.parameters.items() if parameter.default is inspect.Parameter.empty
    ) - {extra}

    def arguments_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        # The common call, keywords only and all known: what `bind` would return, without its cost
        # (~9 us, a tenth of a tool call's round trip). Anything else goes through `bind` and its errors.
        if not args and kwargs.keys() <= named and required <= kwargs.keys():
            return kwargs
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError("%s.%s(): %s" % (server["alias"], alias, error)) from None
        # Only what the caller passed is sent: omitted optional arguments keep the server's defaults.
        arguments = dict(bound.arguments)
        if extra is not None:
            arguments.update(arguments.pop(extra, {}))
        return arguments

    async def call_tool(*args: Any, **kwargs: Any) -> Any:
        return await request_tool(channel, server_name, tool_name, arguments_of(args, kwargs))

    async def call_tool_raw(*args: Any, **kwargs: Any) -> Any:
        return await request_tool(channel, server_name, tool_name, arguments_of(args, kwargs), raw=True)

    doc = tool_docstring(server, tool, param_docs)
    function = cast("ToolFunction", call_tool)
    raw_function = cast("RawToolFunction", call_tool_raw)
    call_tool.__name__ = alias
    call_tool.__qualname__ = "%s.%s" % (server["alias"], alias)
    call_tool.__doc__ = doc
    function.__signature__ = signature
    call_tool.__module__ = "mcp.servers." + server["alias"]
    call_tool_raw.__name__ = alias + ".raw"
    call_tool_raw.__qualname__ = "%s.%s.raw" % (server["alias"], alias)
    call_tool_raw.__doc__ = (
        "Like %s(...), but returns the MCP result dict as the server sent it "
        "({'content': [...], 'structuredContent': ..., 'isError': False})." % (alias,)
    )
    raw_function.__signature__ = signature
    function.raw = raw_function
    return function
