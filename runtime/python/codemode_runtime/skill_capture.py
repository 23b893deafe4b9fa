"""Saving a skill: what `save_tool(func)` sends to the host.

The function's source is taken from the text of the program that defined it, kept by the runtime
when the run started (sources.py), so it works for code typed into run_python (the original's
`inspect.getsource` could not see it). What the function needs from the program is written into the
skill: imports become import lines, literal constants become assignments; anything else is refused
with a message, because it would not exist in a later run. The sandbox compiles the result before
sending it; the host validates it again and writes the file (the sandbox never writes to the host).
"""
from __future__ import annotations

import ast
import dis
import inspect
import sys
import textwrap
import types
from typing import TYPE_CHECKING

from .skill_loader import NotGranted, SkillHandle
from .skill_names import name_problem
from .sources import skill_filename, source_lines

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .frames import JsonObject

MAX_SOURCE_BYTES = 64 * 1024
MAX_CONSTANT_CHARS = 4096
_SAVE_DECORATORS = frozenset({"save_tool"})
# The types whose values `repr` may write back as literals (declared loosely: a value stays an object).
_LITERAL_TYPES: tuple[type, ...] = (
    type(None), bool, int, float, complex, str, bytes, tuple, list, dict, set, frozenset
)


def _global_names(code: types.CodeType) -> set[str]:
    """Every global a code object (and the functions, lambdas and comprehensions in it) reads."""
    names: set[str] = set()
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"):
            names.add(instruction.argval)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _global_names(constant)
    return names


def _definition_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Names read at definition time (decorators, defaults, annotations): the program evaluated them."""
    parts: list[ast.expr] = (
        list(node.decorator_list) + list(node.args.defaults) + [d for d in node.args.kw_defaults if d]
    )
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


def _is_save_decorator(expression: ast.expr) -> bool:
    if isinstance(expression, ast.Call):
        expression = expression.func
    if isinstance(expression, ast.Name):
        return expression.id in _SAVE_DECORATORS
    return isinstance(expression, ast.Attribute) and expression.attr in _SAVE_DECORATORS


def _function_text(func: types.FunctionType) -> str:
    """The `def` of `func` (with its decorators) as it stood in the program, dedented."""
    code = func.__code__
    lines = source_lines(code.co_filename)
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


def _without_save_decorators(text: str, name: str) -> tuple[str, set[str]]:
    tree = ast.parse(text)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != name:
        raise ValueError("save_tool(%s): could not find its `def` in the program" % (name,))
    lines = text.splitlines(True)
    drop: set[int] = set()
    for decorator in node.decorator_list:
        if _is_save_decorator(decorator):
            drop.update(range(decorator.lineno - 1, decorator.end_lineno or decorator.lineno))
    kept = "".join(line for index, line in enumerate(lines) if index not in drop)
    return kept, _definition_names(node)


def _literal_source(value: object) -> str | None:
    """`repr(value)` when it reads back as an equal literal (a constant worth copying), else None."""
    if not isinstance(value, _LITERAL_TYPES):
        return None
    try:
        text = repr(value)
        if len(text) > MAX_CONSTANT_CHARS or ast.literal_eval(text) != value:
            return None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return text


def _import_line(name: str, value: object) -> str | None:
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


def capture(func: object, provided: Mapping[str, object]) -> JsonObject:
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
    header: list[str] = []
    servers: list[str] = []
    refused: list[str] = []
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


def _signature_text(func: types.FunctionType) -> str:
    try:
        return str(inspect.signature(func))
    except (TypeError, ValueError):
        return ""
