"""Progressive discovery inside the sandbox: find the right tool without loading every schema.

Sync helpers read what the run already holds; async helpers ask the host, which connects to a server
on demand and caches its tool list. None of them needs the server to be granted; calling a tool does.

    import mcp.runtime as runtime
    runtime.discovered_servers()                      # ('everything', 'memory', ...)
    await runtime.search_tool_docs("read a file")     # ranked, with signatures
    await runtime.query_tool_docs("memory", detail="full")
"""
from codemode_runtime.docs import check_detail, first_line, stub, tool_doc

__all__ = [
    "capability_summary",
    "describe_server",
    "discovered_servers",
    "list_loaded_server_metadata",
    "list_servers",
    "list_tools",
    "query_tool_docs",
    "search_tool_docs",
    "server_stubs",
]

_state = {"channel": None, "catalog": (), "loaded": ()}


def _install(channel, catalog, loaded):
    _state["channel"] = channel
    _state["catalog"] = tuple(catalog or ())
    _state["loaded"] = tuple(loaded or ())


async def _ask(op, **args):
    channel = _state["channel"]
    if channel is None:
        raise RuntimeError("mcp.runtime is only available inside run_python")
    return await channel.request({"type": "call", "op": op, "args": args})


def _metadata(server):
    return {
        "name": server["name"],
        "alias": server["alias"],
        "description": server.get("description") or "",
        "tools": [
            {
                "name": tool["name"],
                "alias": tool.get("alias") or tool["name"],
                "description": tool.get("description") or "",
                "input_schema": tool.get("inputSchema") or {},
            }
            for tool in server.get("tools") or []
        ],
    }


def _known(name):
    names = discovered_servers()
    if name not in names:
        raise KeyError("unknown MCP server %r; discovered: %s" % (name, ", ".join(names) or "none"))


def discovered_servers():
    """Names of every configured server, granted or not (a tuple)."""
    return tuple(entry["name"] for entry in _state["catalog"])


async def list_servers():
    """Names of every configured server, asked of the host (a tuple)."""
    servers = await _ask("list_servers")
    return tuple(server["name"] for server in servers)


def list_loaded_server_metadata():
    """Metadata of the servers granted to this run: name, alias, description, tools (a tuple of dicts)."""
    return tuple(_metadata(server) for server in _state["loaded"])


class _AwaitableDict(dict):
    """A dict the run already holds; `await` on it is allowed, so both call styles work."""

    def __await__(self):
        return self
        yield  # unreachable: makes __await__ a generator, as the protocol requires


class _AwaitableList(list):
    """A list the run already holds; `await` on it is allowed, so both call styles work."""

    def __await__(self):
        return self
        yield  # unreachable: makes __await__ a generator, as the protocol requires


class _FromHost:
    """A result only the host has: it must be awaited, and says so if it is used without `await`."""

    def __init__(self, call, coroutine):
        self._call = call
        self._coroutine = coroutine
        self._awaited = False

    def __await__(self):
        self._awaited = True
        return self._coroutine.__await__()

    def _refuse(self, *_args, **_kwargs):
        self._coroutine.close()
        raise TypeError("runtime.%s asks the host: use `await runtime.%s`" % (self._call, self._call))

    __getitem__ = __iter__ = __len__ = __contains__ = get = keys = items = _refuse

    def __repr__(self):
        return "<runtime.%s: not awaited; use `await runtime.%s`>" % (self._call, self._call)

    def __del__(self):
        # Dropped without `await`: close quietly instead of a "never awaited" warning. (An awaited
        # one may be collected mid-await, while its coroutine runs on: leave that alone.)
        if not self._awaited:
            self._coroutine.close()


def describe_server(name):
    """One server's metadata (name, alias, description, tools with input_schema), granted or not.

    A granted server's dict comes back at once (`await` optional); for any other server the host
    connects to it, so use `await runtime.describe_server(name)`.
    """
    _known(name)
    local = _loaded(name)
    if local is not None:
        return _AwaitableDict(_metadata(local))

    async def remote():
        return _metadata(await _ask("describe_server", name=name))

    return _FromHost("describe_server(%r)" % (name,), remote())


def _loaded(name):
    for server in _state["loaded"]:
        if server["name"] == name:
            return server
    return None


async def _server(name):
    _known(name)
    return _loaded(name) or await _ask("describe_server", name=name)


def _tool_list(described):
    return _AwaitableList(
        {"name": tool["name"], "alias": tool.get("alias") or tool["name"], "description": first_line(tool.get("description"))}
        for tool in described.get("tools") or []
    )


def list_tools(server):
    """The tools of one server: name, alias and one-line description each (a list of dicts).

    Immediate for a granted server (`await` optional); otherwise `await runtime.list_tools(server)`.
    """
    _known(server)
    local = _loaded(server)
    if local is not None:
        return _tool_list(local)

    async def remote():
        return _tool_list(await _ask("describe_server", name=server))

    return _FromHost("list_tools(%r)" % (server,), remote())


async def query_tool_docs(server, tool=None, detail="summary"):
    """Docs of one tool (by name or alias) or of all tools of `server`; always a list.

    detail="summary": name, alias, one-line description, call signature.
    detail="full": also the whole description, every parameter's docs and the JSON Schema.
    """
    check_detail(detail)
    described = await _server(server)
    tools = described.get("tools") or []
    if tool is not None:
        tools = [t for t in tools if tool in (t["name"], t.get("alias"))]
        if not tools:
            names = ", ".join(t.get("alias") or t["name"] for t in described.get("tools") or [])
            raise KeyError("server %r has no tool %r; it has: %s" % (server, tool, names or "none"))
    return [tool_doc(described, t, detail) for t in tools]


async def search_tool_docs(query, limit=5, detail="summary"):
    """Tools of every configured server ranked for `query` (a list of docs with a `score`).

    Servers that cannot be reached are reported on stderr and skipped.
    """
    import sys

    check_detail(detail)
    if not isinstance(limit, int) or limit < 1:
        raise ValueError("limit must be a positive integer")
    answer = await _ask("search_tool_docs", query=str(query), limit=limit)
    for problem in answer.get("unavailable") or []:
        print("search_tool_docs: server %r skipped: %s" % (problem["server"], problem["error"]), file=sys.stderr)
    results = []
    for hit in answer.get("hits") or []:
        doc = tool_doc(hit["server"], hit["tool"], detail)
        doc["score"] = hit["score"]
        results.append(doc)
    return results


async def server_stubs(server):
    """Python stubs (signatures and docstrings) of every tool of `server`, as one string."""
    described = await _server(server)
    header = "# MCP server %r: mcp_%s\n" % (described["name"], described["alias"])
    return header + "\n".join(stub(described, tool) for tool in described.get("tools") or [])


def capability_summary():
    """A short digest of what this sandbox offers; print it instead of exploring."""
    loaded = {server["name"] for server in _state["loaded"]}
    lines = ["MCP servers (granted ones are callable as mcp_<alias>):"]
    for entry in _state["catalog"]:
        mark = "granted" if entry["name"] in loaded else "not granted"
        lines.append("  %s (mcp_%s, %s)" % (entry["name"], entry["alias"], mark))
    if not _state["catalog"]:
        lines.append("  none configured")
    lines += [
        "Helpers (import mcp.runtime as runtime):",
        "  runtime.discovered_servers(), runtime.list_loaded_server_metadata(), runtime.capability_summary()",
        "  await runtime.list_servers(), await runtime.describe_server(name), await runtime.list_tools(server)",
        "  await runtime.query_tool_docs(server, tool=None, detail='summary'|'full')",
        "  await runtime.search_tool_docs(query, limit=5, detail='summary'|'full')",
        "Call a granted tool: await mcp_<alias>.<tool>(...); failures raise mcp.ToolError.",
    ]
    return "\n".join(lines)
