"""Loading skills: the host sends the newest version of every skill in the `run` frame.

A skill is compiled and executed only when a program first uses it (`SkillSet`), so a broken one
fails only where it is used, with an ImportError that says what is wrong. `import skills` is a
`SkillsModule`; a skill under its own name in a program's globals is a `SkillHandle`.
"""
import sys
import traceback
import types

import mcp

from .skill_names import name_problem
from .sources import remember_source, skill_filename


class SkillLoadError(ImportError):
    """A saved skill could not be loaded; the message says which, which version, and why."""


class NotGranted:
    """Stands for `mcp_<alias>` of a configured server this run was not granted (in skill modules)."""

    def __init__(self, server_name):
        self.__server_name__ = server_name

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise mcp.ToolError(
            "server %r is not granted to this run; pass it in run_python's `servers` to use %s"
            % (self.__server_name__, attribute),
            code="NOT_GRANTED",
            server=self.__server_name__,
        )

    def __repr__(self):
        return "<MCP server %r: not granted to this run>" % (self.__server_name__,)


class SkillHandle:
    """A skill under its own name in a program's globals: loaded on first use, then the real function."""

    __slots__ = ("_skills", "_name")

    def __init__(self, skills, name):
        self._skills = skills
        self._name = name

    def _function(self):
        return self._skills.load(self._name)

    def __call__(self, *args, **kwargs):
        return self._function()(*args, **kwargs)

    def __getattr__(self, attribute):
        return getattr(self._function(), attribute)

    @property
    def __wrapped__(self):
        return self._function()

    @property
    def __skill__(self):
        return self._name

    @property
    def __doc__(self):
        return self._skills.entry(self._name).get("description") or None

    def __repr__(self):
        entry = self._skills.entry(self._name)
        return "<skill %s%s, version %s>" % (self._name, entry.get("signature") or "(...)", entry.get("version"))


class SkillSet:
    """The skills of one run, from the `run` frame; each compiled on first use."""

    def __init__(self, entries, make_globals):
        self._entries = {}
        for entry in entries or ():
            if isinstance(entry, dict) and name_problem(entry.get("name")) is None:
                self._entries[entry["name"]] = entry
        self._make_globals = make_globals
        self._loaded = {}
        self._loading = set()

    def names(self):
        return sorted(self._entries)

    def entry(self, name):
        return self._entries.get(name) or {}

    def entries(self):
        return [self._entries[name] for name in self.names()]

    def handles(self):
        return {name: SkillHandle(self, name) for name in self._entries}

    def problem(self, name):
        """Why a skill cannot load (host-side problem or syntax error), without running it; or None."""
        entry = self.entry(name)
        if entry.get("error"):
            return entry["error"]
        try:
            compile(entry.get("source") or "", skill_filename(name), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            return _syntax_message(error)
        return None

    def load(self, name):
        if name in self._loaded:
            return self._loaded[name]
        entry = self._entries.get(name)
        if entry is None:
            raise AttributeError(
                "no skill named %r; saved skills: %s" % (name, ", ".join(self.names()) or "none")
            )
        label = "skill %r (version %s)" % (name, entry.get("version"))
        if entry.get("error"):
            raise SkillLoadError("%s cannot be loaded: %s" % (label, entry["error"]), name="skills." + name)
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
        function = module.__dict__.get(name)
        if not callable(function):
            raise SkillLoadError("%s does not define a function %r" % (label, name), name="skills." + name)
        try:
            function.__skill__ = name
        except (AttributeError, TypeError):
            pass
        self._loaded[name] = function
        return function


def _syntax_message(error):
    if isinstance(error, SyntaxError):
        return "SyntaxError: %s (line %s)" % (error.msg, error.lineno)
    return "SyntaxError: %s" % (error,)


def is_skill_binding(name, value):
    """Whether `value`, bound to `name`, is a skill (a handle, or a loaded skill's function) rather
    than something the program defined itself."""
    if isinstance(value, SkillHandle):
        return True
    return isinstance(value, types.FunctionType) and value.__module__ == "skills." + name


class SkillsModule(types.ModuleType):
    """`import skills` / `from skills import name`: every saved skill, each loaded on first use."""

    def __init__(self, skill_set):
        super().__init__("skills", "Functions saved with save_tool in earlier runs.")
        self.__dict__["_SkillsModule__skills"] = skill_set

    def __getattr__(self, name):
        skill_set = self.__dict__["_SkillsModule__skills"]
        if name == "__all__":
            return self.__loadable(sys._getframe(1))
        if name.startswith("__"):
            raise AttributeError(name)
        return skill_set.load(name)

    def __loadable(self, importer):
        """`from skills import *`: every skill that loads, except those whose name the importing
        namespace binds to something of its own; both kinds are reported on stderr.

        Which skills exist is up to every client that saves one, so a star import must not replace a
        name the program defined (`json`, a helper of its own). A name bound to a skill (an earlier
        version) is refreshed; importing a skill by name replaces whatever the name held.
        """
        skill_set = self.__dict__["_SkillsModule__skills"]
        namespace = importer.f_locals if importer is not None else {}
        names = []
        kept = []
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

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.__dict__["_SkillsModule__skills"].names()))

    def __repr__(self):
        return "<module 'skills': %d saved skills>" % (len(self.__dict__["_SkillsModule__skills"].names()),)
