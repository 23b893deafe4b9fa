"""Skills: functions saved with `save_tool`, importable in every later run (`from skills import name`).

Saving (`capture`): the function's source is taken from the text of the program that defined it, kept
by the runtime when the run started, so it works for code typed into run_python (the original's
`inspect.getsource` could not see it). What the function needs from the program is written into the
skill: imports become import lines, literal constants become assignments; anything else is refused
with a message, because it would not exist in a later run. The sandbox compiles the result before
sending it; the host validates it again and writes the file (the sandbox never writes to the host).

Loading (`SkillSet`): the host sends the newest version of every skill in the `run` frame. A skill is
compiled and executed only when a program first uses it, so a broken one fails only where it is
used, with an ImportError that says what is wrong.

Host operations (`HostQueue`): save, delete and list travel as `call` frames, strictly in order.
`save_tool` does not wait for the host; the runtime waits for every operation before the run ends
and reports one that failed unobserved as the run's error.
"""
import ast
import asyncio
import builtins
import dis
import inspect
import keyword
import re
import sys
import textwrap
import traceback
import types

import mcp

MAX_NAME_CHARS = 64
MAX_SOURCE_BYTES = 64 * 1024
MAX_CONSTANT_CHARS = 4096
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
# Names the sandbox gives every program (and the names our docs import the runtime as).
RESERVED_NAMES = frozenset(
    {
        "LOADED_MCP_SERVERS",
        "call_tool",
        "delete_skill",
        "list_skills",
        "mcp",
        "mcp_servers",
        "rt",
        "runtime",
        "save_tool",
        "skills",
    }
)
_SAVE_DECORATORS = frozenset({"save_tool"})
_LITERAL_TYPES = (type(None), bool, int, float, complex, str, bytes)

# Program and skill sources by code filename, kept as they were when compiled: `save_tool` reads a
# function's text from here, whatever the program does to `linecache` afterwards.
_SOURCES = {}


def register_source(filename, text):
    _SOURCES[filename] = text.splitlines(True)


def skill_filename(name):
    return "<skill %s>" % name


def name_problem(name):
    """Why `name` cannot name a skill, or None. The host applies the same rules (skill-rules.ts)."""
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not NAME_PATTERN.match(name):
        return "a skill name is an ASCII identifier that starts with a letter, at most %d characters" % (
            MAX_NAME_CHARS,
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return "%r is a Python keyword" % (name,)
    if name in RESERVED_NAMES or name.startswith("mcp_"):
        return "%r is a name the sandbox gives every program" % (name,)
    if hasattr(builtins, name):
        return "%r would shadow the builtin of that name" % (name,)
    if name in getattr(sys, "stdlib_module_names", ()):
        return "%r is the name of a standard library module" % (name,)
    return None


# ---------------------------------------------------------------------------------------- capture


def _global_names(code):
    """Every global a code object (and the functions, lambdas and comprehensions in it) reads."""
    names = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"):
            names.add(instruction.argval)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


def _definition_names(node):
    """Names read at definition time (decorators, defaults, annotations): the program evaluated them."""
    parts = list(node.decorator_list) + list(node.args.defaults) + [d for d in node.args.kw_defaults if d]
    arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
    arguments += [a for a in (node.args.vararg, node.args.kwarg) if a]
    parts += [a.annotation for a in arguments if a.annotation is not None]
    if node.returns is not None:
        parts.append(node.returns)
    return {
        child.id
        for part in parts
        for child in ast.walk(part)
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load)
    }


def _is_save_decorator(expression):
    if isinstance(expression, ast.Call):
        expression = expression.func
    if isinstance(expression, ast.Name):
        return expression.id in _SAVE_DECORATORS
    return isinstance(expression, ast.Attribute) and expression.attr in _SAVE_DECORATORS


def _function_text(func):
    """The `def` of `func` (with its decorators) as it stood in the program, dedented."""
    code = func.__code__
    lines = _SOURCES.get(code.co_filename)
    if lines is None:
        try:
            lines = inspect.getsourcelines(func)[0]
            first = 0
        except (OSError, TypeError):
            raise ValueError(
                "save_tool(%s): its source is not available (functions made by exec() or eval() cannot "
                "be saved); define it with `def` in the program" % (func.__name__,)
            ) from None
    else:
        first = code.co_firstlineno - 1
    block = inspect.getblock(lines[first:])
    return textwrap.dedent("".join(block))


def _without_save_decorators(text, name):
    tree = ast.parse(text)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != name:
        raise ValueError("save_tool(%s): could not find its `def` in the program" % (name,))
    lines = text.splitlines(True)
    drop = set()
    for decorator in node.decorator_list:
        if _is_save_decorator(decorator):
            drop.update(range(decorator.lineno - 1, decorator.end_lineno))
    kept = "".join(line for index, line in enumerate(lines) if index not in drop)
    return kept, _definition_names(node)


def _literal_source(value):
    """`repr(value)` when it reads back as an equal literal (a constant worth copying), else None."""
    if not isinstance(value, _LITERAL_TYPES + (tuple, list, dict, set, frozenset)):
        return None
    try:
        text = repr(value)
        if len(text) > MAX_CONSTANT_CHARS or ast.literal_eval(text) != value:
            return None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return text


def _import_line(name, value):
    """An import that binds `name` to `value` in a fresh module, or None."""
    if isinstance(value, types.ModuleType):
        module = value.__name__
        if module == name:
            return "import %s" % module
        return "import %s as %s" % (module, name)
    module_name = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if not isinstance(module_name, str) or not isinstance(qualname, str) or "." in qualname:
        return None
    if module_name in ("__main__", "builtins") or module_name.startswith("skills."):
        return None
    module = sys.modules.get(module_name)
    if module is None or getattr(module, qualname, None) is not value:
        return None
    if qualname == name:
        return "from %s import %s" % (module_name, name)
    return "from %s import %s as %s" % (module_name, qualname, name)


def capture(func, provided):
    """What `save_tool(func)` sends to the host. Raises TypeError/ValueError/SyntaxError at once.

    `provided` maps the names the runtime gives every program (and skill) to their objects; the
    function may use those freely.
    """
    if not isinstance(func, types.FunctionType):
        raise TypeError("save_tool expects a function defined with `def`, not %s" % (type(func).__name__,))
    name = func.__name__
    if name == "<lambda>":
        raise ValueError("save_tool cannot save a lambda; define the function with `def`")
    problem = name_problem(name)
    if problem is not None:
        raise ValueError("save_tool(%s): %s; rename the function" % (name, problem))
    if func.__qualname__ != name or func.__code__.co_freevars:
        raise ValueError(
            "save_tool(%s): define the function at the top level of the program, not inside another "
            "function or class" % (name,)
        )
    definition, definition_names = _without_save_decorators(_function_text(func), name)
    header = []
    servers = []
    refused = []
    namespace = func.__globals__
    for used in sorted((_global_names(func.__code__) | definition_names) - {name}):
        if used not in namespace:
            continue  # a builtin, or a name the function defines for itself later
        value = namespace[used]
        if isinstance(value, (types.ModuleType, NotGranted)):
            if isinstance(value, types.ModuleType):
                server = value.__dict__.get("__server_name__")
            else:
                server = value.__server_name__
            if isinstance(server, str):
                servers.append(server)
        if (used in provided and provided[used] is value) or isinstance(value, NotGranted):
            continue
        if isinstance(value, SkillHandle) or (
            isinstance(value, types.FunctionType) and value.__dict__.get("__skill__") == used
        ):
            continue  # skills see every other skill by name, as programs do
        line = _import_line(used, value)
        if line is None:
            literal = _literal_source(value)
            if literal is not None:
                line = "%s = %s" % (used, literal)
        if line is None:
            refused.append(used)
        else:
            header.append(line)
    if refused:
        raise ValueError(
            "save_tool(%s): it uses %s, defined in this program, which a later run will not have. A skill "
            "must be self-contained: move what it needs into the function, or save a helper function "
            "first with save_tool (skills see each other by name)." % (name, ", ".join(map(repr, refused)))
        )
    imports = [line for line in header if line.startswith(("import ", "from "))]
    constants = [line for line in header if line not in imports]
    parts = [block for block in ("\n".join(imports), "\n".join(constants)) if block]
    source = "\n\n".join(parts + [definition.rstrip() + "\n"]) if parts else definition.rstrip() + "\n"
    size = len(source.encode("utf-8"))
    if size > MAX_SOURCE_BYTES:
        raise ValueError(
            "save_tool(%s): the source is %d bytes; a skill holds at most %d" % (name, size, MAX_SOURCE_BYTES)
        )
    compile(source, skill_filename(name), "exec", dont_inherit=True)
    signature = _signature_text(func)
    return {
        "name": name,
        "source": source,
        "description": inspect.getdoc(func) or "",
        "signature": signature,
        "parameters": list(inspect.signature(func).parameters) if signature else [],
        "isAsync": inspect.iscoroutinefunction(func),
        "servers": sorted(set(servers)),
    }


def _signature_text(func):
    try:
        return str(inspect.signature(func))
    except (TypeError, ValueError):
        return ""


# ---------------------------------------------------------------------------------------- loading


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
        register_source(filename, source)
        import linecache

        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
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


# ---------------------------------------------------------------------------------------- host operations


class HostQueue:
    """Host operations of one run, sent strictly one after another, each waited for before the run ends."""

    def __init__(self, channel):
        self._channel = channel
        self._tail = None
        self._operations = []

    def submit(self, op, args, label):
        """Starts `op` after the ones before it; returns its PendingResult (awaiting it is optional)."""
        if self._channel is None:
            raise RuntimeError("%s is only available inside run_python" % (label,))
        previous = self._tail

        async def perform():
            if previous is not None:
                try:
                    await previous
                except BaseException:  # noqa: BLE001 - its failure is reported on its own
                    pass
            return await self._channel.request({"type": "call", "op": op, "args": args})

        task = asyncio.get_event_loop().create_task(perform())
        self._tail = task
        pending = PendingResult(task, label, _caller_frames())
        self._operations.append(pending)
        return pending

    async def settle(self):
        """Waits for every operation; returns the first failure nobody awaited, as (label, error, frames)."""
        # An operation may submit more (none do today); the list is re-read until all are done.
        while not all(pending.task.done() for pending in self._operations):
            await asyncio.wait([pending.task for pending in self._operations if not pending.task.done()])
        for pending in self._operations:
            if pending.observed or not pending.task.done() or pending.task.cancelled():
                continue
            error = pending.task.exception()
            if error is not None:
                return pending.label, error, pending.frames
        return None


class PendingResult:
    """A host operation in flight. `await` it for its result (or error); otherwise the run waits for it."""

    def __init__(self, task, label, frames):
        self.task = task
        self.label = label
        self.frames = frames
        self.observed = False

    def __await__(self):
        self.observed = True
        return self.task.__await__()

    def __repr__(self):
        state = "done" if self.task.done() else "pending"
        return "<%s: %s; await it for the result>" % (self.label, state)


def _caller_frames():
    """Where the program asked for an operation, for the error report if it fails unawaited."""
    from .executor import PROGRAM_NAME

    frames = [frame for frame in traceback.extract_stack() if frame.filename == PROGRAM_NAME]
    return traceback.StackSummary.from_list(frames[-3:])


_QUEUE = {"queue": None}


def install_queue(channel):
    _QUEUE["queue"] = HostQueue(channel)
    return _QUEUE["queue"]


def queue():
    return _QUEUE["queue"] or HostQueue(None)


async def settle_pending():
    """After the program: waits for its host operations; (label, error, frames) of an unobserved failure."""
    current = _QUEUE["queue"]
    if current is None:
        return None
    return await current.settle()
