"""Builds the globals a program runs in: every granted server's tools as async functions, saved skills by name.

Three ways to reach a tool, all the same function object:
`mcp_servers["name"].tool`, `mcp_<alias>.tool`, and `from mcp.servers.<alias> import tool`.
"""
import builtins
import functools
import inspect
import keyword
import sys
import types
import typing

import mcp
import mcp.servers

_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _annotation(schema):
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        types_ = [_JSON_TYPES[k] for k in kind if k in _JSON_TYPES]
        if not types_:
            return typing.Any
        return typing.Union[tuple(types_)] if len(types_) > 1 else types_[0]
    return _JSON_TYPES.get(kind, typing.Any)


def _type_name(annotation):
    if annotation is typing.Any:
        return "any"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def signature_and_docs(tool):
    """A tool's Python signature and per-parameter doc lines, from its JSON Schema.

    Returns (signature, doc_lines, extra) where `extra` names the `**kwargs` parameter that carries
    properties which are not Python identifiers (None when there are none). Upstream schemas are
    untrusted input: anything malformed degrades to fewer named parameters, never an exception.
    """
    schema = tool.get("inputSchema") if isinstance(tool.get("inputSchema"), dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    listed = schema.get("required") if isinstance(schema.get("required"), list) else []
    required = [name for name in listed if isinstance(name, str) and name in properties]
    optional = [name for name in properties if name not in required]
    parameters = []
    docs = []
    unnamed = []
    for name in required + optional:
        prop = properties.get(name) if isinstance(properties.get(name), dict) else {}
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


async def request_tool(channel, server_name, tool_name, arguments, raw=False):
    """One upstream call. `raw`: the host returns the MCP result dict untouched instead of unwrapping it."""
    frame = {"type": "rpc", "server": server_name, "tool": tool_name, "args": arguments}
    if raw:
        frame["raw"] = True
    try:
        return await channel.request(frame)
    except mcp.ToolError as error:
        error.server, error.tool = server_name, tool_name
        raise


def make_tool_function(server, tool, channel):
    signature, param_docs, extra = signature_and_docs(tool)
    server_name = server["name"]
    tool_name = tool["name"]
    alias = tool.get("alias") or tool_name

    named = frozenset(signature.parameters) - {extra}
    required = frozenset(
        name for name, parameter in signature.parameters.items() if parameter.default is inspect.Parameter.empty
    ) - {extra}

    def arguments_of(args, kwargs):
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

    async def call_tool(*args, **kwargs):
        return await request_tool(channel, server_name, tool_name, arguments_of(args, kwargs))

    async def call_tool_raw(*args, **kwargs):
        return await request_tool(channel, server_name, tool_name, arguments_of(args, kwargs), raw=True)

    description = (tool.get("description") or "").strip()
    doc = description or "Call %s on %s." % (tool_name, server_name)
    if param_docs:
        doc += "\n\nArgs:\n" + "\n".join(param_docs)
    doc += "\n\nMCP tool %r of server %r." % (tool_name, server_name)
    policy = tool.get("policy")
    if isinstance(policy, dict):
        doc += "\nPolicy: %s (rule %s: %s)." % (policy.get("action"), policy.get("rule"), policy.get("reason"))
    call_tool.__name__ = alias
    call_tool.__qualname__ = "%s.%s" % (server["alias"], alias)
    call_tool.__doc__ = doc
    call_tool.__signature__ = signature
    call_tool.__module__ = "mcp.servers." + server["alias"]
    call_tool_raw.__name__ = alias + ".raw"
    call_tool_raw.__qualname__ = "%s.%s.raw" % (server["alias"], alias)
    call_tool_raw.__doc__ = (
        "Like %s(...), but returns the MCP result dict as the server sent it "
        "({'content': [...], 'structuredContent': ..., 'isError': False})." % (alias,)
    )
    call_tool_raw.__signature__ = signature
    call_tool.raw = call_tool_raw
    return call_tool


class ServerModule(types.ModuleType):
    """A granted server: tools as attributes (by alias) and items (by original name).

    `TOOLS` and `TOOL_MAP` are mcp-server-code-execution-mode's: the tools' metadata (name, alias,
    description, input_schema) as a list, and by alias. A tool of that name takes the attribute's place.
    """

    def __init__(self, server, tools):
        super().__init__("mcp.servers." + server["alias"], server.get("description") or None)
        self.__server_name__ = server["name"]
        self.__server = server
        self.__tools_by_name = {}
        for tool, function in tools:
            setattr(self, function.__name__, function)
            self.__tools_by_name[tool["name"]] = function
        self.__all__ = sorted(function.__name__ for _, function in tools)

    # Built on first use: most programs never read them, and a session rebuilds proxies per grant.
    @functools.cached_property
    def TOOLS(self):  # noqa: N802 - the original's name
        return self.__tool_metadata()

    @functools.cached_property
    def TOOL_MAP(self):  # noqa: N802 - the original's name
        return {tool["alias"]: tool for tool in self.__tool_metadata()}

    def __tool_metadata(self):
        from mcp.runtime import _metadata

        return _metadata(self.__server)["tools"]

    def __getitem__(self, tool_name):
        try:
            return self.__tools_by_name[tool_name]
        except KeyError:
            raise KeyError(
                "server %r has no tool %r; it has: %s"
                % (self.__server_name__, tool_name, ", ".join(sorted(self.__tools_by_name)) or "none")
            ) from None

    def list_tools(self):
        """This server's tools as MCP lists them (name, description, inputSchema) plus the Python alias.

        A list the run already holds: `await` is optional (mcp-server-code-execution-mode's proxies
        required it). A tool named `list_tools` takes this attribute's place.
        """
        from mcp.runtime import _AwaitableList

        return _AwaitableList(
            {
                "name": tool["name"],
                "alias": tool.get("alias") or tool["name"],
                "description": tool.get("description") or "",
                "inputSchema": tool.get("inputSchema") or {},
            }
            for tool in self.__server.get("tools") or []
        )

    def __repr__(self):
        return "<MCP server %r: %d tools>" % (self.__server_name__, len(self.__all__))


class ServerMap(dict):
    def __missing__(self, name):
        raise KeyError(
            "server %r is not granted to this run; granted: %s. Pass it in run_python's `servers`."
            % (name, ", ".join(sorted(self)) or "none")
        )


class Grant:
    """What the host gives a program: granted servers as proxies, saved skills, `mcp.runtime` wired to the host.

    Built once per grant; `install` makes it the runtime's current one for each program that gets it,
    so a session whose calls keep the same grant does not rebuild every proxy per call.
    """

    def __init__(self, servers, channel, catalog=(), skills=()):
        import mcp.runtime

        from .skills import NotGranted, SkillSet, SkillsModule

        # The grant as the run frame sent it: a later program with an equal one can reuse this.
        self.key = (servers, catalog, skills)
        self.channel = channel
        self._servers = servers
        self._catalog = catalog
        self._modules = []
        granted = ServerMap()
        provided = {"mcp": mcp, "mcp_servers": granted}
        for server in servers:
            tools = [(tool, make_tool_function(server, tool, channel)) for tool in server.get("tools") or []]
            module = ServerModule(server, tools)
            self._modules.append((server["alias"], module))
            granted[server["name"]] = module
            provided["mcp_" + server["alias"]] = module
        provided["LOADED_MCP_SERVERS"] = tuple(server["name"] for server in servers)
        provided["save_tool"] = mcp.runtime.save_tool
        provided["delete_skill"] = mcp.runtime.delete_skill
        # Skills see what programs see; a server this run was not granted says so when a skill uses it.
        not_granted = {
            "mcp_" + entry["alias"]: NotGranted(entry["name"])
            for entry in catalog or ()
            if "mcp_" + entry["alias"] not in provided
        }

        def skill_globals(_name):
            return dict(handles, __builtins__=builtins, **not_granted, **provided)

        self._skill_set = SkillSet(skills, skill_globals)
        handles = self._skill_set.handles()
        self._skills_module = SkillsModule(self._skill_set)
        self._provided = provided
        self.skill_handles = handles

    def install(self):
        """Makes this grant current (modules, `mcp.runtime`, a fresh host-operation queue); returns the globals."""
        import mcp.runtime

        from .skills import install_queue

        channel = self.channel
        for alias, module in self._modules:
            sys.modules[module.__name__] = module
            setattr(mcp.servers, alias, module)
        mcp.servers.__all__ = sorted(alias for alias, _ in self._modules)
        sys.modules["skills"] = self._skills_module
        mcp.runtime._install(
            channel, self._catalog, self._servers, self._skill_set, install_queue(channel), self._provided
        )
        namespace = {"__name__": "__main__", "__builtins__": builtins}
        namespace.update(self.skill_handles)
        namespace.update(self._provided)
        return namespace


def build_namespace(servers, channel, catalog=(), skills=()):
    """Globals for one program: granted servers as proxies, saved skills by name, `mcp.runtime` wired to the host."""
    return Grant(servers, channel, catalog, skills).install()


def program_globals(run, channel, session=None):
    """The globals for a `run` frame's program: its own, or (`session`) the session's, given its grant."""
    grant = (run.get("servers") or [], channel, run.get("catalog") or [], run.get("skills") or [])
    return build_namespace(*grant) if session is None else session.program(*grant)


class SessionGlobals:
    """The globals a session's sandbox carries from one program to the next.

    The user's names survive; what the host provides (granted servers, `mcp`) is each program's
    own: a name the previous program was given and this one was not is removed, unless the user
    rebound it. The host checks every call against the current grant anyway. A program whose grant
    equals the previous one's gets the same proxies and skills (a skill already loaded stays loaded,
    as an imported module does), installed afresh.

    Skills are not the host's to replace: they are saved by any run of any client, so a skill
    handle only ever fills a name the session has not bound. A name the user bound (`def`, an
    assignment, an import) stays the user's, and a skill the session received keeps the version it
    received; a newer one reaches the session only through an import (`from skills import name`,
    or `import skills` again), which reads the newest (skills.py, SkillsModule).
    """

    def __init__(self):
        self.namespace = None
        self._provided = {}
        self._grant = None

    def program(self, servers, channel, catalog=(), skills=()):
        """The globals for the session's next program, given its grant."""
        grant = self._grant
        if grant is None or grant.channel is not channel or grant.key != (servers, catalog, skills):
            self._grant = Grant(servers, channel, catalog, skills)
        return self.enter(self._grant.install(), self._grant.skill_handles)

    def enter(self, fresh, skill_handles=None):
        """Carries the session's names into a program given `fresh` globals, of which `skill_handles`
        (name -> handle) are skills: those only fill names the session has not bound."""
        skill_handles = skill_handles or {}

        def is_skill(key, value):
            return skill_handles.get(key) is value

        if self.namespace is None:
            self.namespace = fresh
        else:
            namespace = self.namespace
            for key, value in self._provided.items():
                if key not in fresh and namespace.get(key) is value:
                    del namespace[key]
            for key, value in fresh.items():
                if is_skill(key, value):
                    namespace.setdefault(key, value)
                else:
                    namespace[key] = value
        self._provided = {
            k: v for k, v in fresh.items() if k not in ("__name__", "__builtins__") and not is_skill(k, v)
        }
        return self.namespace
