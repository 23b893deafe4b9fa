"""Progressive discovery inside the sandbox: find the right tool without loading every schema.

Sync helpers read what the run already holds; async helpers ask the host, which connects to a server
on demand and caches its tool list. None of them needs the server to be granted; calling a tool does.
The `*_sync` helpers (from mcp-server-code-execution-mode) read only the servers granted to this run:
a synchronous call cannot wait for the host from inside the running event loop.

    import mcp.runtime as runtime
    runtime.discovered_servers()                      # ('everything', 'memory', ...)
    await runtime.search_tool_docs("read a file")     # ranked, with signatures (and saved skills)
    await runtime.query_tool_docs("memory", detail="full")

Skills: `save_tool(func)` keeps a function for every later run (`from skills import name`; `shared=True`
publishes it to everyone on a bridge for a team);
`delete_skill(name)` removes it; `list_skills()` lists them.
"""
# Programs call these helpers, and no type checker sees programs: each checks its arguments at run
# time, whatever its annotations say.
# pyright: reportUnnecessaryIsInstance=false
from __future__ import annotations

import asyncio
import base64
import functools
import json  # already loaded: the channel frames with it
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Generic, NoReturn, TypeVar

import mcp
from codemode_runtime import run_state
from codemode_runtime.docs import check_detail, first_line, skill_doc, stub, tool_doc
from codemode_runtime.shapes import AwaitableDict, AwaitableList, json_object, server_metadata
from codemode_runtime.skill_capture import capture
from codemode_runtime.skill_loader import SkillSet
from codemode_runtime.tool_functions import request_tool

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Generator, Iterable

    from codemode_runtime.frames import JsonObject, ServerGrant, SkillGrant, ToolGrant
    from codemode_runtime.host_queue import PendingResult

_T = TypeVar("_T")

MCPError = mcp.ToolError

__all__ = [
    "MCPError",
    "attach",
    "call_tool",
    "capability_summary",
    "delete_saved",
    "delete_skill",
    "describe_server",
    "discovered_servers",
    "list_loaded_server_metadata",
    "list_servers",
    "list_servers_sync",
    "list_skills",
    "list_tools",
    "list_saved",
    "list_sessions",
    "list_tools_sync",
    "load",
    "query_tool_docs",
    "query_tool_docs_sync",
    "read_output",
    "reset_session",
    "save",
    "save_tool",
    "search_tool_docs",
    "search_tool_docs_sync",
    "server_stubs",
]

MAX_SEARCH_LIMIT = 50
SUMMARY_SKILLS = 30


class NotFoundError(mcp.ToolError, KeyError):
    """No such server or tool: a KeyError, and an MCPError as the original's lookups raised."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


async def _ask(op: str, **args: object) -> Any:
    channel = run_state.current().channel
    if channel is None:
        raise RuntimeError("mcp.runtime is only available inside run_python")
    return await channel.request({"type": "call", "op": op, "args": args})


def _known(name: object) -> None:
    names = discovered_servers()
    if name not in names:
        # The host's wording (src/shared/errors.ts unknownServerError), so the model sees one message.
        configured = "Configured servers: %s." % ", ".join(names) if names else "No MCP servers are configured."
        raise NotFoundError("Unknown MCP server %r. %s" % (name, configured))


def discovered_servers(detailed: bool = False) -> tuple[Any, ...]:
    """Names of every configured server, granted or not (a tuple).

    detailed=True: a tuple of dicts with `name`, `alias` and `description` (the config entry's
    `description`, else the server's own for a granted one, else "").
    """
    if not detailed:
        return tuple(entry["name"] for entry in run_state.current().catalog)
    result: list[JsonObject] = []
    for entry in run_state.current().catalog:
        loaded = _loaded(entry["name"])
        description = entry.get("description") or (loaded and loaded.get("description")) or ""
        result.append({"name": entry["name"], "alias": entry["alias"], "description": description})
    return tuple(result)


async def list_servers() -> tuple[str, ...]:
    """Names of every configured server (a tuple), from the catalog the run came with."""
    return discovered_servers()


def list_servers_sync() -> tuple[str, ...]:
    """Names of the servers granted to this run (a tuple); `discovered_servers()` names every one."""
    return tuple(server["name"] for server in run_state.current().servers)


def list_loaded_server_metadata() -> tuple[JsonObject, ...]:
    """Metadata of the servers granted to this run: name, alias, description, cwd, tools (a tuple of dicts)."""
    return tuple(server_metadata(server) for server in run_state.current().servers)


class _FromHost(Generic[_T]):
    """A result only the host has: it must be awaited, and says so if it is used without `await`."""

    def __init__(self, call: str, coroutine: Coroutine[Any, Any, _T]) -> None:
        self._call = call
        self._coroutine = coroutine
        self._awaited = False

    def __await__(self) -> Generator[Any, None, _T]:
        self._awaited = True
        return self._coroutine.__await__()

    def _refuse(self, *_args: object, **_kwargs: object) -> NoReturn:
        self._coroutine.close()
        raise TypeError("runtime.%s asks the host: use `await runtime.%s`" % (self._call, self._call))

    __getitem__ = __iter__ = __len__ = __contains__ = get = keys = items = _refuse

    def __repr__(self) -> str:
        return "<runtime.%s: not awaited; use `await runtime.%s`>" % (self._call, self._call)

    def __del__(self) -> None:
        # Dropped without `await`: close quietly instead of a "never awaited" warning. (An awaited
        # one may be collected mid-await, while its coroutine runs on: leave that alone.)
        if not self._awaited:
            self._coroutine.close()


def describe_server(name: str) -> AwaitableDict | _FromHost[JsonObject]:
    """One server's metadata (name, alias, description, cwd, tools with input_schema), granted or not.

    A granted server's dict comes back at once (`await` optional); for any other server the host
    connects to it, so use `await runtime.describe_server(name)`.
    """
    _known(name)
    local = _loaded(name)
    if local is not None:
        return AwaitableDict(server_metadata(local))

    async def remote() -> JsonObject:
        return server_metadata(await _ask("describe_server", name=name))

    return _FromHost("describe_server(%r)" % (name,), remote())


def _loaded(name: object) -> ServerGrant | None:
    for server in run_state.current().servers:
        if server["name"] == name:
            return server
    return None


def _granted(server: object, helper: str) -> ServerGrant:
    """A granted server by name or alias, for the helpers that read only what the run holds."""
    for candidate in run_state.current().servers:
        if server in (candidate["name"], candidate["alias"]):
            return candidate
    _known(server)
    raise NotFoundError(
        "%s(%r): that server is not granted to this run, and %s reads only granted ones; grant it in "
        "run_python's `servers`, or use the async helper (`await runtime.%s(...)`), which asks the host"
        % (helper, server, helper, helper[: -len("_sync")])
    )


async def _server(name: str) -> ServerGrant:
    _known(name)
    return _loaded(name) or await _ask("describe_server", name=name)


def _tool_list(described: ServerGrant) -> AwaitableList:
    return AwaitableList(_tool_summary(tool) for tool in described.get("tools") or [])


def _tool_summary(tool: ToolGrant) -> JsonObject:
    summary: JsonObject = {
        "name": tool["name"],
        "alias": tool.get("alias") or tool["name"],
        "description": first_line(tool.get("description")),
    }
    policy = tool.get("policy")
    if policy:
        summary["policy"] = policy["action"]
    return summary


def list_tools(server: str) -> AwaitableList | _FromHost[AwaitableList]:
    """The tools of one server: name, alias and one-line description each (a list of dicts).

    Immediate for a granted server (`await` optional); otherwise `await runtime.list_tools(server)`.
    """
    _known(server)
    local = _loaded(server)
    if local is not None:
        return _tool_list(local)

    async def remote() -> AwaitableList:
        return _tool_list(await _ask("describe_server", name=server))

    return _FromHost("list_tools(%r)" % (server,), remote())


def list_tools_sync(server: str | None = None) -> tuple[JsonObject, ...]:
    """The tools of a granted server, as this run holds them: a tuple of dicts (name, alias,
    description, input_schema). Answered from the run's own metadata, never the host."""
    if server is None:
        granted = ", ".join(entry["name"] for entry in run_state.current().servers) or "none"
        raise mcp.ToolError("list_tools_sync(server) requires a server name; granted to this run: %s" % (granted,))
    return tuple(server_metadata(_granted(server, "list_tools_sync"))["tools"])


def _select_tools(described: ServerGrant, tool: object) -> list[ToolGrant]:
    tools = described.get("tools") or []
    if tool is None:
        return tools
    wanted = str(tool).lower()
    selected = [t for t in tools if wanted in (t["name"].lower(), str(t.get("alias") or "").lower())]
    if not selected:
        names = ", ".join(t.get("alias") or t["name"] for t in tools)
        raise NotFoundError("server %r has no tool %r; it has: %s" % (described["name"], tool, names or "none"))
    return selected[:1]


async def query_tool_docs(
    server: str, tool: str | None = None, detail: str = "summary"
) -> JsonObject | list[JsonObject]:
    """Docs of one tool (by name or alias, any case): one dict; of every tool of `server`: a list.

    detail="summary": name, alias, one-line description, call signature.
    detail="full": also the whole description, every parameter's docs and the JSON Schema.
    """
    check_detail(detail)
    described = await _server(server)
    docs = [tool_doc(described, t, detail) for t in _select_tools(described, tool)]
    return docs[0] if tool is not None else docs


def query_tool_docs_sync(server: str, tool: str | None = None, detail: str = "summary") -> list[JsonObject]:
    """Docs of a granted server's tools, from what this run holds: always a list (of one when a tool
    is named), as mcp-server-code-execution-mode's was. It never asks the host, so it reads only the
    servers granted to this run; `await query_tool_docs(...)` reads any server."""
    check_detail(detail)
    described = _granted(server, "query_tool_docs_sync")
    return [tool_doc(described, t, detail) for t in _select_tools(described, tool)]


async def search_tool_docs(query: str, limit: int = 5, detail: str = "summary") -> list[JsonObject]:
    """Tools of every configured server, and saved skills, ranked for `query` (a list of docs with a `score`).

    A skill's doc has `server` "skills", `skill` True, its `version` and the `import` line.
    Servers that cannot be reached are reported on stderr and skipped.
    """
    check_detail(detail)
    if not isinstance(limit, int) or limit < 1:
        raise ValueError("limit must be a positive integer")
    answer: JsonObject = await _ask("search_tool_docs", query=str(query), limit=limit)
    unavailable: list[JsonObject] = answer.get("unavailable") or []
    for problem in unavailable:
        print("search_tool_docs: server %r skipped: %s" % (problem["server"], problem["error"]), file=sys.stderr)
    results: list[JsonObject] = []
    hits: list[JsonObject] = answer.get("hits") or []
    for hit in hits:
        doc = skill_doc(hit["skill"], detail) if "skill" in hit else tool_doc(hit["server"], hit["tool"], detail)
        doc["score"] = hit["score"]
        results.append(doc)
    return results


_STOP_WORDS = frozenset("a an and are as at be by for from get in is it of on or the to with".split())


def _words(text: object) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(text or ""))
    return re.findall(r"[a-z0-9]+", spaced.lower())


def _sync_score(terms: list[str], name_words: set[str], text_words: set[str], haystack: str) -> float:
    total = 0.0
    matched = 0
    for term in terms:
        score = 0.0
        if term in name_words:
            score += 3
        elif len(term) >= 3 and any(word.startswith(term) for word in name_words):
            score += 1.5
        if term in text_words:
            score += 1
        if score == 0 and term in haystack:
            score = 0.5  # a substring anywhere, as the original's search matched
        if score:
            matched += 1
            total += score
    return round(total * matched / len(terms), 3) if matched else 0


def search_tool_docs_sync(query: str, limit: int = 5, detail: str = "summary") -> list[JsonObject]:
    """Ranks the tools of the servers granted to this run, and the saved skills, for `query`.

    Answered from what the run already holds (a synchronous call cannot wait for the host inside the
    event loop), with a simple word-overlap ranking: `await search_tool_docs(query)` searches every
    configured server, connecting as needed, with the better ranking. Returns a list of docs with a
    `score`, best first.
    """
    check_detail(detail)
    try:
        limit = max(1, min(MAX_SEARCH_LIMIT, int(limit)))
    except (TypeError, ValueError):
        limit = 5
    terms = [word for word in _words(query) if word not in _STOP_WORDS] or _words(query)
    if not terms:
        return []
    scored: list[tuple[float, int, Callable[[], JsonObject]]] = []
    order = 0
    for server in run_state.current().servers:
        for tool in server.get("tools") or []:
            properties = json_object(json_object(tool.get("inputSchema")).get("properties"))
            name_words = set(_words(tool["name"]) + _words(tool.get("alias")))
            text = " ".join([tool.get("description") or ""] + list(properties))
            haystack = " ".join([server["name"], tool["name"], text]).lower()
            score = _sync_score(terms, name_words, set(_words(text)), haystack)
            if score:
                scored.append((score, order, functools.partial(tool_doc, server, tool, detail)))
            order += 1
    skills = run_state.current().skills
    for entry in skills.entries() if skills is not None else ():
        name_words = set(_words(entry["name"]))
        text = " ".join([entry.get("description") or ""] + list(entry.get("parameters") or []))
        score = _sync_score(terms, name_words, set(_words(text)), (entry["name"] + " " + text).lower())
        if score:
            scored.append((score, order, functools.partial(skill_doc, entry, detail)))
        order += 1
    scored.sort(key=lambda item: (-item[0], item[1]))
    results: list[JsonObject] = []
    for score, _, render in scored[:limit]:
        doc = render()
        doc["score"] = score
        results.append(doc)
    return results


async def call_tool(server: str, tool: str, arguments: dict[str, Any] | None = None, *, raw: bool = False) -> Any:
    """Calls `tool` (name or alias) of a granted `server` (name or alias) with a dict of arguments.

    Returns the unwrapped result, as `await mcp_<alias>.<tool>(...)` does; raw=True returns the MCP
    result dict the server sent (`result["content"][0]["text"]`), as mcp-server-code-execution-mode's
    call_tool did. A tool that reports an error raises mcp.ToolError (MCPError) either way.
    """
    channel = run_state.current().channel
    if channel is None:
        raise RuntimeError("mcp.runtime is only available inside run_python")
    if arguments is not None and not isinstance(arguments, dict):
        raise TypeError("call_tool: arguments must be a dict, not %s" % (type(arguments).__name__,))
    for granted in run_state.current().servers:
        if server in (granted["name"], granted["alias"]):
            break
    else:
        _known(server)
        raise mcp.ToolError(
            "server %r is not granted to this run; pass it in run_python's `servers`" % (server,),
            code="NOT_GRANTED",
            server=server,
        )
    name = tool
    for candidate in granted.get("tools") or []:
        if tool in (candidate["name"], candidate.get("alias")):
            name = candidate["name"]
            break
    return await request_tool(channel, granted["name"], name, dict(arguments or {}), raw=raw)


async def server_stubs(server: str) -> str:
    """Python stubs (signatures and docstrings) of every tool of `server`, as one string."""
    described = await _server(server)
    header = "# MCP server %r: mcp_%s\n" % (described["name"], described["alias"])
    return header + "\n".join(stub(described, tool) for tool in described.get("tools") or [])


# ---------------------------------------------------------------------------------------- skills


def save_tool(func: object = None, shared: bool = False) -> Any:
    """Saves `func` as a skill every later run can use: `from skills import name`, or `name(...)`.

    Also a decorator (`@save_tool`, or `@save_tool(shared=True)`, above the `def`); returns the
    function unchanged. The source is the function's text in this program; the modules and literal
    constants it uses from the program are written into the skill, anything else must be inside it
    (or saved first). Saving a name again makes a new version and keeps the earlier ones. The sandbox
    checks the skill, the host checks it again and stores it under MCP_BRIDGE_STATE_DIR/skills.

    On a bridge for a team a skill is yours alone; `shared=True` publishes it for everyone (only you
    and admins may change it after). This call does not wait for the host; the run does, and fails
    with the reason if the host refused (`await runtime.list_skills()` shows it).
    """
    if not isinstance(shared, bool):
        raise TypeError("save_tool: shared must be True or False, not %r" % (shared,))
    if func is None:
        return functools.partial(save_tool, shared=shared)
    state = run_state.current()
    payload = capture(func, state.provided)
    setattr(func, "__skill__", payload["name"])  # noqa: B010 - capture checked it is a function
    if shared:
        payload["shared"] = True
    label = "save_tool(%s%s)" % (payload["name"], ", shared=True" if shared else "")
    state.queue.submit("save_skill", payload, label)
    return func


def delete_skill(name: str, version: int | None = None, shared: bool = False) -> PendingResult:
    """Removes a saved skill (every version), or one `version` of it (the newest left becomes current).

    `shared=True` removes a published skill instead of your own (its author and admins only).
    Returns a pending result: `await delete_skill(name)` gives {'name', 'deleted': [versions]} or raises
    MCPError for an unknown skill; without `await` the run still waits for it and fails if it failed.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("delete_skill: the name must be a non-empty string, not %r" % (name,))
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise ValueError("delete_skill: version must be a positive integer")
    if not isinstance(shared, bool):
        raise TypeError("delete_skill: shared must be True or False, not %r" % (shared,))
    args: JsonObject = {"name": name} if version is None else {"name": name, "version": version}
    if shared:
        args["shared"] = True
    return run_state.current().queue.submit("delete_skill", args, "delete_skill(%r)" % (name,))


def _skill_listing(entry: SkillGrant, skills: SkillSet | None) -> JsonObject:
    item: JsonObject = {
        "name": entry["name"],
        "version": entry.get("version"),
        "signature": entry.get("signature") or "",
        "description": first_line(entry.get("description")),
        "servers": list(entry.get("servers") or []),
    }
    versions = entry.get("versions")
    if versions:
        item["versions"] = list(versions)
    saved_at = entry.get("savedAt")
    if saved_at:
        item["savedAt"] = saved_at
    for key in ("savedBy", "origin", "author", "shadows"):
        value = entry.get(key)
        if value:
            item[key] = value
    problem = entry.get("error") or (skills.problem(entry["name"]) if skills is not None else None)
    if problem:
        item["error"] = problem
    return item


class _SkillListing(list["JsonObject"]):
    """The skills this run started with; `await` it for the host's current list (after this run's saves)."""

    def __await__(self) -> Generator[Any, None, list[JsonObject]]:
        return self._fresh().__await__()

    async def _fresh(self) -> list[JsonObject]:
        pending = run_state.current().queue.submit("list_skills", {}, "list_skills()")
        entries: Iterable[object] | None = await pending
        checker = SkillSet(entries, lambda _name: {})
        return [_skill_listing(entry, checker) for entry in checker.entries()]


def list_skills() -> _SkillListing:
    """Saved skills: name, version, signature, one-line description, servers it uses, and `error`
    when it cannot load (checked by compiling it here, without running it).

    Without `await`: the skills this run started with. `await runtime.list_skills()` asks the host,
    after this run's own saves and deletions.
    """
    skills = run_state.current().skills
    entries = skills.entries() if skills is not None else []
    return _SkillListing(_skill_listing(entry, skills) for entry in entries)


# Values travel in slices that fit one frame each way (the host takes at most 8 MiB per frame from a
# sandbox, base64 grows a slice by a third).
_SAVE_SLICE_BYTES = 3 * 1024 * 1024
_JSON_VALUE_MARKER = b"\x00codemode-json\n"


def _value_name(helper: str, name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 256:
        raise ValueError("%s: the name must be a non-empty string of at most 256 characters" % (helper,))
    return name


async def save(name: str, value: object) -> Any:
    """Keeps a picklable `value` on the host under `name`, for any later run of this client.

    Saved values outlive sandboxes and sessions (not the bridge): `await load(name)` in a fresh run or
    another session gets a copy. Size is capped (MCP_BRIDGE_SAVE_MAX_SIZE); saving a name again
    replaces it. Returns {'name', 'bytes'}. Classes defined in the program itself cannot be loaded
    elsewhere (pickle stores them by reference): save plain data, arrays, frames.
    """
    # pickle is imported on first use: few programs save a value, and importing it before `ready`
    # would cost every sandbox's start (asyncio does not import it).
    import pickle

    _value_name("save", name)
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    parts = max(1, -(-len(data) // _SAVE_SLICE_BYTES))
    result = None
    for part in range(parts):
        piece = data[part * _SAVE_SLICE_BYTES:(part + 1) * _SAVE_SLICE_BYTES]
        result = await _ask(
            "save_value",
            name=name,
            part=part,
            parts=parts,
            size=len(data),
            data=base64.b64encode(piece).decode("ascii"),
        )
    return result


async def load(name: str) -> Any:
    """The value `save(name, value)` kept (a fresh copy); raises mcp.ToolError if there is none."""
    import pickle  # on first use, as in `save`

    _value_name("load", name)
    pieces: list[bytes] = []
    offset = 0
    # One load at a time: the host sends each page as it is asked, so loads gathered together would
    # have it send pages faster than this interpreter decodes them (and end the run for not reading).
    async with _load_lock():
        while True:
            reply = await _ask("load_value", name=name, offset=offset)
            piece = base64.b64decode(reply["data"])
            pieces.append(piece)
            offset += len(piece)
            if offset >= reply["size"] or not piece:
                break
    data = b"".join(pieces)
    # What a TypeScript program saved: JSON behind this marker (runtime/typescript/sandbox.js).
    if data.startswith(_JSON_VALUE_MARKER):
        return json.loads(data[len(_JSON_VALUE_MARKER):].decode("utf-8"))
    return pickle.loads(data)


_load_lock_held: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None


def _load_lock() -> asyncio.Lock:
    """The lock `load` holds, one per event loop (a session runs each program in a loop of its own)."""
    global _load_lock_held
    loop = asyncio.get_running_loop()
    held = _load_lock_held
    if held is None or held[0] is not loop:
        held = (loop, asyncio.Lock())
        _load_lock_held = held
    return held[1]


async def list_saved() -> list[JsonObject]:
    """Values this client saved: [{'name', 'bytes', 'savedAt'}]."""
    return await _ask("list_values")


async def delete_saved(name: str) -> bool:
    """Forgets the value saved under `name`; True if there was one."""
    return await _ask("delete_value", name=_value_name("delete_saved", name))


async def read_output(handle: str, offset: int = 0, length: int = 10000) -> JsonObject:
    """A page of a run's stdout that the output cap elided: the text from `offset`, `length` characters.

    The handle is in that run's result (`[full stdout kept as out-N ...]`); handles expire (after
    15 minutes unless the bridge is set otherwise). Returns {'text', 'offset', 'keptChars', 'totalChars'}.
    """
    return await _ask("read_output", handle=handle, offset=offset, length=length)


_ATTACH_MAX_BYTES = 5 * 1024 * 1024


async def attach(
    data: bytes | bytearray | memoryview | str | os.PathLike[str], mime_type: str | None = None, name: str | None = None
) -> Any:
    """Returns a file to the client with this call's result: a PNG, JPEG, GIF or WebP image (its bytes
    checked) as MCP image content, anything else as an embedded resource; types a client could render
    as active content (SVG, HTML, ...) arrive as application/octet-stream. `data` is bytes or a path
    (e.g. a plot saved to /workspace); `mime_type` is guessed from the path when omitted. At most 8
    files, 5 MiB together.
    """
    # mimetypes is imported on first use: only `attach` needs it, and it reads the system's type tables.
    import mimetypes

    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        with open(path, "rb") as handle:
            content = handle.read()
        mime_type = mime_type or mimetypes.guess_type(path)[0]
        name = name or os.path.basename(path)
    elif isinstance(data, (bytes, bytearray, memoryview)):
        content = bytes(data)
    else:
        raise TypeError("attach: data must be bytes or a path, not %s" % (type(data).__name__,))
    if not mime_type:
        raise ValueError("attach: pass mime_type, e.g. 'image/png'")
    if len(content) > _ATTACH_MAX_BYTES:
        raise ValueError("attach: %d bytes; a run returns at most 5 MiB of files together" % (len(content),))
    args: JsonObject = {"mimeType": mime_type, "data": base64.b64encode(content).decode("ascii")}
    if name:
        args["name"] = str(name)
    return await _ask("attach", **args)


async def list_sessions() -> list[JsonObject]:
    """This client's live sessions: [{'name', 'runs', 'createdAt', 'lastUsedAt', 'expiresInS', 'busy'}]."""
    return await _ask("list_sessions")


async def reset_session(name: str) -> bool:
    """Ends the session `name` (its sandbox, globals and files are gone); True if it existed."""
    return await _ask("reset_session", name=name)


def capability_summary() -> str:
    """A short digest of what this sandbox offers; print it instead of exploring."""
    state = run_state.current()
    loaded = {server["name"] for server in state.servers}
    lines = ["MCP servers (granted ones are callable as mcp_<alias>):"]
    for entry in state.catalog:
        mark = "granted" if entry["name"] in loaded else "not granted"
        about = first_line(entry.get("description"))
        lines.append("  %s (mcp_%s, %s)%s" % (entry["name"], entry["alias"], mark, " - " + about if about else ""))
    if not state.catalog:
        lines.append("  none configured")
    skills = state.skills
    entries = skills.entries() if skills is not None else []
    lines.append("Saved skills (call by name, or `from skills import <name>`):")
    for skill in entries[:SUMMARY_SKILLS]:
        about = first_line(skill.get("description"))
        problem = skills.problem(skill["name"]) if skills is not None else None
        broken = " [cannot load: %s]" % (problem,) if problem else ""
        signature = skill.get("signature") or "(...)"
        lines.append("  %s%s%s%s" % (skill["name"], signature, " - " + about if about else "", broken))
    if len(entries) > SUMMARY_SKILLS:
        lines.append("  ... and %d more (runtime.list_skills())" % (len(entries) - SUMMARY_SKILLS,))
    if not entries:
        lines.append("  none yet: save_tool(func) keeps a function for later runs")
    lines += [
        "Helpers (import mcp.runtime as runtime):",
        "  runtime.discovered_servers(detailed=False), runtime.list_loaded_server_metadata(),"
        " runtime.capability_summary()",
        "  await runtime.list_servers(), await runtime.describe_server(name), await runtime.list_tools(server)",
        "  await runtime.query_tool_docs(server, tool=None, detail='summary'|'full')",
        "  await runtime.search_tool_docs(query, limit=5, detail='summary'|'full')  (tools and skills)",
        "  granted servers only, no await: list_servers_sync(), list_tools_sync(s), query_tool_docs_sync(s),"
        " search_tool_docs_sync(q)",
        "  await runtime.call_tool(server, tool, args, raw=False)",
        "  save_tool(func, shared=False) or @save_tool, delete_skill(name), runtime.list_skills()",
        "  await runtime.save(name, value), await runtime.load(name), list_saved(), delete_saved(name)",
        "  await runtime.list_sessions(), await runtime.reset_session(name)",
        "Call a granted tool: await mcp_<alias>.<tool>(...); failures raise mcp.ToolError (alias MCPError).",
    ]
    if any(tool.get("policy") for server in state.servers for tool in server.get("tools") or []):
        lines.append(
            "A user policy governs tool calls (each tool doc has a `policy`); refused calls raise"
            " mcp.PolicyError (a ToolError; err.rule names the rule)."
        )
    return "\n".join(lines)
