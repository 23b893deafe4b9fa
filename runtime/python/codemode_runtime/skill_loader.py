"""Loading skills: the host sends the newest version of every skill in the `run` frame.

A skill is compiled and executed only when a program first uses it (`SkillSet`), so a broken one
fails only where it is used, with an ImportError that says what is wrong. `import skills` is a
`SkillsModule`; a skill under its own name in a program's globals is a `SkillHandle`.
"""
from __future__ import annotations

import sys
import traceback
import types
from typing import TYPE_CHECKING, Any, NoReturn, cast

import mcp

from .skill_names import name_problem
from .sources import remember_source, skill_filename

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .frames import SkillGrant

    MakeGlobals = Callable[[str], dict[str, Any]]
    """The globals a skill's module starts with, given the skill's name."""


class SkillLoadError(ImportError):
    """A saved skill could not be loaded; the message says which, which version, and why."""


class NotGranted:
    """Stands for `mcp_<alias>` of a configured server this run was not granted (in skill modules)."""

    def __init__(self, server_name: str) -> None:
        self.__server_name__ = server_name

    def __getattr__(self, attribute: str) -> NoReturn:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise mcp.ToolError(
            "server %r is not granted to this run; pass it in run_python's `servers` to use %s"
            % (self.__server_name__, attribute),
            code="NOT_GRANTED",
            server=self.__server_name__,
        )

    def __repr__(self) -> str:
        return "<MCP server %r: not granted to this run>" % (self.__server_name__,)


class SkillHandle:
    """A skill under its own name in a program's globals: loaded on first use, then the real function."""

    __slots__ = ("_skills", "_name")

    def __init__(self, skills: SkillSet, name: str) -> None:
        self._skills = skills
        self._name = name

    def _function(self) -> Callable[..., Any]:
        return self._skills.load(self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function()(*args, **kwargs)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._function(), attribute)

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self._function()

    @property
    def __skill__(self) -> str:
        return self._name

    @property
    def __doc__(self) -> str | None:  # pyright: ignore[reportIncompatibleVariableOverride] - read from the entry
        return self._skills.entry(self._name).get("description") or None

    def __repr__(self) -> str:
        entry = self._skills.entry(self._name)
        return "<skill %s%s, version %s>" % (self._name, entry.get("signature") or "(...)", entry.get("version"))


class SkillSet:
    """The skills of one run, from the `run` frame; each compiled on first use."""

    def __init__(self, entries: Iterable[object] | None, make_globals: MakeGlobals) -> None:
        """`entries` come from the host (the `run` frame, a listing): anything but a skill is skipped."""
        self._entries: dict[str, SkillGrant] = {}
        for entry in entries or ():
            if isinstance(entry, dict):
                skill = cast("SkillGrant", entry)
                if name_problem(skill.get("name")) is None:
                    self._entries[skill["name"]] = skill
        self._make_globals = make_globals
        self._loaded: dict[str, Callable[..., Any]] = {}
        self._loading: set[str] = set()

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, name: str) -> SkillGrant | dict[str, Any]:
        return self._entries.get(name) or {}

    def entries(self) -> list[SkillGrant]:
        return [self._entries[name] for name in self.names()]

    def handles(self) -> dict[str, SkillHandle]:
        return {name: SkillHandle(self, name) for name in self._entries}

    def problem(self, name: str) -> str | None:
        """Why a skill cannot load (host-side problem or syntax error), without running it; or None."""
        entry = self.entry(name)
        unavailable = entry.get("error")
        if unavailable:
            return unavailable
        try:
            compile(entry.get("source") or "", skill_filename(name), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            return _syntax_message(error)
        return None

    def load(self, name: str) -> Callable[..., Any]:
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries.get(name)
        if entry is None:
            raise AttributeError(
                "no skill named %r; saved skills: %s" % (name, ", ".join(self.names()) or "none")
            )
        label = "skill %r (version %s)" % (name, entry.get("version"))
        unavailable = entry.get("error")
        if unavailable:
            raise SkillLoadError("%s cannot be loaded: %s" % (label, unavailable), name="skills." + name)
        if name in self._loading:
            raise SkillLoadError("%s imports itself while loading" % (label,), name="skills." + name)
        filename = skill_filename(name)
        source = entry.get("source") or ""
        remember_source(filename, source)
        try:
            code = compile(source, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            raise SkillLoadError(
                "%s cannot be loaded: %s" % (label, _syntax_message(error)), name="skills." + name
            ) from None
        module = types.ModuleType("skills." + name, entry.get("description") or None)
        module.__dict__.update(self._make_globals(name))
        module.__file__ = filename
        sys.modules[module.__name__] = module
        self._loading.add(name)
        try:
            exec(code, module.__dict__)
        except Exception as error:  # noqa: BLE001 - reported as the skill's load error
            raise SkillLoadError(
                "%s failed while loading: %s"
                % (label, traceback.format_exception_only(type(error), error)[-1].strip()),
                name="skills." + name,
            ) from error
        finally:
            self._loading.discard(name)
        function: object = module.__dict__.get(name)
        if not callable(function):
            raise SkillLoadError("%s does not define a function %r" % (label, name), name="skills." + name)
        try:
            setattr(function, "__skill__", name)  # noqa: B010 - a mark on whatever callable the skill defined
        except (AttributeError, TypeError):
            pass
        self._loaded[name] = function
        return function


def _syntax_message(error: SyntaxError | ValueError) -> str:
    if isinstance(error, SyntaxError):
        return "SyntaxError: %s (line %s)" % (error.msg, error.lineno)
    return "SyntaxError: %s" % (error,)


def is_skill_binding(name: str, value: object) -> bool:
    """Whether `value`, bound to `name`, is a skill (a handle, or a loaded skill's function) rather
    than something the program defined itself."""
    if isinstance(value, SkillHandle):
        return True
    return isinstance(value, types.FunctionType) and value.__module__ == "skills." + name


class SkillsModule(types.ModuleType):
    """`import skills` / `from skills import name`: every saved skill, each loaded on first use."""

    def __init__(self, skill_set: SkillSet) -> None:
        super().__init__("skills", "Functions saved with save_tool in earlier runs.")
        self.__dict__["_SkillsModule__skills"] = skill_set

    def __skill_set(self) -> SkillSet:
        # Kept in __dict__ under its mangled name: `__getattr__` runs only for names missing there.
        return self.__dict__["_SkillsModule__skills"]

    def __getattr__(self, name: str) -> Any:
        skill_set = self.__skill_set()
        if name == "__all__":
            # The frame of the `from skills import *` (sys._getframe: CPython's way to read a caller's frame).
            return self.__loadable(sys._getframe(1))  # pyright: ignore[reportPrivateUsage]
        if name.startswith("__"):
            raise AttributeError(name)
        return skill_set.load(name)

    def __loadable(self, importer: types.FrameType | None) -> list[str]:
        """`from skills import *`: every skill that loads, except those whose name the importing
        namespace binds to something of its own; both kinds are reported on stderr.

        Which skills exist is up to every client that saves one, so a star import must not replace a
        name the program defined (`json`, a helper of its own). A name bound to a skill (an earlier
        version) is refreshed; importing a skill by name replaces whatever the name held.
        """
        skill_set = self.__skill_set()
        namespace = importer.f_locals if importer is not None else {}
        names: list[str] = []
        kept: list[str] = []
        for name in skill_set.names():
            if name in namespace and not is_skill_binding(name, namespace[name]):
                kept.append(name)
                continue
            try:
                skill_set.load(name)
                names.append(name)
            except ImportError as error:
                print("skills: %s" % (error,), file=sys.stderr)
        if kept:
            print(
                "skills: `from skills import *` kept the program's own %s (a skill of that name exists: "
                "`from skills import <name>` takes it)" % (", ".join(kept),),
                file=sys.stderr,
            )
        return names

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__skill_set().names()))

    def __repr__(self) -> str:
        return "<module 'skills': %d saved skills>" % (len(self.__skill_set().names()),)
