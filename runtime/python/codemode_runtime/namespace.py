"""Builds the globals a program runs in: every granted server's tools as async functions, saved skills by name.

Three ways to reach a tool, all the same function object (tool_functions.py builds it):
`mcp_servers["name"].tool`, `mcp_<alias>.tool`, and `from mcp.servers.<alias> import tool`.
"""
from __future__ import annotations

import builtins
import functools
import sys
import types
from typing import TYPE_CHECKING, Any, NoReturn

import mcp
import mcp.runtime
import mcp.servers

from . import run_state
from .host_queue import HostQueue
from .shapes import AwaitableList, server_metadata
from .skill_loader import NotGranted, SkillSet, SkillsModule
from .tool_functions import make_tool_function

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .channel import HostChannel
    from .frames import CatalogEntry, JsonObject, RunFrame, ServerGrant, SkillGrant, ToolGrant
    from .skill_loader import SkillHandle
    from .tool_functions import ToolFunction

    Globals = dict[str, Any]
    """A program's globals."""


class ServerModule(types.ModuleType):
    """A granted server: tools as attributes (by alias) and items (by original name).

    `TOOLS` and `TOOL_MAP` are mcp-server-code-execution-mode's: the tools' metadata (name, alias,
    description, input_schema) as a list, and by alias. A tool of that name takes the attribute's place.
    """

    def __init__(self, server: ServerGrant, tools: Sequence[tuple[ToolGrant, ToolFunction]]) -> None:
        super().__init__("mcp.servers." + server["alias"], server.get("description") or None)
        self.__server_name__ = server["name"]
        self.__server = server
        self.__tools_by_name: dict[str, ToolFunction] = {}
        for tool, function in tools:
            setattr(self, function.__name__, function)
            self.__tools_by_name[tool["name"]] = function
        self.__all__ = sorted(function.__name__ for _, function in tools)

    # Built on first use: most programs never read them, and a session rebuilds proxies per grant.
    @functools.cached_property
    def TOOLS(self) -> list[JsonObject]:  # noqa: N802 - the original's name
        return self.__tool_metadata()

    @functools.cached_property
    def TOOL_MAP(self) -> dict[str, JsonObject]:  # noqa: N802 - the original's name
        return {tool["alias"]: tool for tool in self.__tool_metadata()}

    def __tool_metadata(self) -> list[JsonObject]:
        return server_metadata(self.__server)["tools"]

    def __getitem__(self, tool_name: str) -> ToolFunction:
        try:
            return self.__tools_by_name[tool_name]
        except KeyError:
            raise KeyError(
                "server %r has no tool %r; it has: %s"
                % (self.__server_name__, tool_name, ", ".join(sorted(self.__tools_by_name)) or "none")
            ) from None

    def list_tools(self) -> AwaitableList:
        """This server's tools as MCP lists them (name, description, inputSchema) plus the Python alias.

        A list the run already holds: `await` is optional (mcp-server-code-execution-mode's proxies
        required it). A tool named `list_tools` takes this attribute's place.
        """
        return AwaitableList(
            {
                "name": tool["name"],
                "alias": tool.get("alias") or tool["name"],
                "description": tool.get("description") or "",
                "inputSchema": tool.get("inputSchema") or {},
            }
            for tool in self.__server.get("tools") or []
        )

    def __repr__(self) -> str:
        return "<MCP server %r: %d tools>" % (self.__server_name__, len(self.__all__))


class ServerMap(dict[str, ServerModule]):
    def __missing__(self, name: str) -> NoReturn:
        raise KeyError(
            "server %r is not granted to this run; granted: %s. Pass it in run_python's `servers`."
            % (name, ", ".join(sorted(self)) or "none")
        )


class Grant:
    """What the host gives a program: granted servers as proxies, saved skills, `mcp.runtime` wired to the host.

    Built once per grant; `install` makes it the runtime's current one for each program that gets it,
    so a session whose calls keep the same grant does not rebuild every proxy per call.
    """

    def __init__(
        self,
        servers: Sequence[ServerGrant],
        channel: HostChannel,
        catalog: Sequence[CatalogEntry] = (),
        skills: Sequence[SkillGrant] = (),
    ) -> None:
        # The grant as the run frame sent it: a later program with an equal one can reuse this.
        self.key = (servers, catalog, skills)
        self.channel = channel
        self._servers = servers
        self._catalog = catalog
        self._modules: list[tuple[str, ServerModule]] = []
        granted = ServerMap()
        provided: Globals = {"mcp": mcp, "mcp_servers": granted}
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

        def skill_globals(_name: str) -> Globals:
            return dict(handles, __builtins__=builtins, **not_granted, **provided)

        self._skill_set = SkillSet(skills, skill_globals)
        handles = self._skill_set.handles()
        self._skills_module = SkillsModule(self._skill_set)
        self._provided = provided
        self.skill_handles = handles

    def install(self) -> Globals:
        """Makes this grant current (modules, `mcp.runtime`, a fresh host-operation queue); returns the globals."""
        channel = self.channel
        for alias, module in self._modules:
            sys.modules[module.__name__] = module
            setattr(mcp.servers, alias, module)
        mcp.servers.__all__ = sorted(alias for alias, _ in self._modules)
        sys.modules["skills"] = self._skills_module
        state = run_state.RunState(
            channel, self._catalog, self._servers, self._skill_set, HostQueue(channel), self._provided
        )
        run_state.install(state)
        namespace: Globals = {"__name__": "__main__", "__builtins__": builtins}
        namespace.update(self.skill_handles)
        namespace.update(self._provided)
        return namespace


def build_namespace(
    servers: Sequence[ServerGrant],
    channel: HostChannel,
    catalog: Sequence[CatalogEntry] = (),
    skills: Sequence[SkillGrant] = (),
) -> Globals:
    """Globals for one program: granted servers as proxies, saved skills by name, `mcp.runtime` wired to the host."""
    return Grant(servers, channel, catalog, skills).install()


def program_globals(run: RunFrame, channel: HostChannel, session: SessionGlobals | None = None) -> Globals:
    """The globals for a `run` frame's program: its own, or (`session`) the session's, given its grant."""
    servers, catalog, skills = run.get("servers") or [], run.get("catalog") or [], run.get("skills") or []
    if session is None:
        return build_namespace(servers, channel, catalog, skills)
    return session.program(servers, channel, catalog, skills)


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
    or `import skills` again), which reads the newest (skill_loader.py, SkillsModule).
    """

    def __init__(self) -> None:
        self.namespace: Globals | None = None
        self._provided: Globals = {}
        self._grant: Grant | None = None

    def program(
        self,
        servers: Sequence[ServerGrant],
        channel: HostChannel,
        catalog: Sequence[CatalogEntry] = (),
        skills: Sequence[SkillGrant] = (),
    ) -> Globals:
        """The globals for the session's next program, given its grant."""
        grant = self._grant
        if grant is None or grant.channel is not channel or grant.key != (servers, catalog, skills):
            grant = self._grant = Grant(servers, channel, catalog, skills)
        return self.enter(grant.install(), grant.skill_handles)

    def enter(self, fresh: Globals, skill_handles: dict[str, SkillHandle] | None = None) -> Globals:
        """Carries the session's names into a program given `fresh` globals, of which `skill_handles`
        (name -> handle) are skills: those only fill names the session has not bound."""
        skill_handles = skill_handles or {}

        def is_skill(key: str, value: object) -> bool:
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
