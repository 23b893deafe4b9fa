"""Runs one user program: top-level await, REPL-style display of a final expression, short tracebacks."""
from __future__ import annotations

import ast
import inspect
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

from . import run_state
from .sources import PROGRAM_NAME, remember_source

if TYPE_CHECKING:
    import types

    from .frames import JsonObject

_RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TRACEBACK_FRAMES = 12
_TOP_LEVEL_AWAIT = getattr(ast, "PyCF_ALLOW_TOP_LEVEL_AWAIT", 0x2000)


class Failure:
    """How a program failed: `error` is one line (`Type: message`), `traceback` the user-facing frames."""

    def __init__(self, error: str, traceback_text: str) -> None:
        self.error = error
        self.traceback = traceback_text


async def _evaluate(code_object: types.CodeType, namespace: dict[str, Any]) -> Any:
    result = eval(code_object, namespace)
    if code_object.co_flags & inspect.CO_COROUTINE:
        result = await result
    return result


async def execute(code: str, namespace: dict[str, Any]) -> Failure | None:
    """Run `code` in `namespace`, then wait for the host operations it started (skill saves).

    Returns None on success or a Failure: the program's own, else that of an operation it did not
    await (a save the host refused).
    """
    failure = await _execute(code, namespace)
    unobserved = await run_state.current().queue.settle()
    if failure is None and unobserved is not None:
        label, error, frames = unobserved
        lines: list[str] = ["Traceback (most recent call last):\n"] + frames.format() if frames else []
        summary = "%s: %s failed: %s" % (type(error).__name__, label, error)
        return Failure(summary, "".join(lines) + summary + "\n")
    return failure


async def _execute(code: str, namespace: dict[str, Any]) -> Failure | None:
    remember_source(PROGRAM_NAME, code)
    try:
        tree = ast.parse(code, PROGRAM_NAME, "exec")
        final_expression = None
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            tree.body.pop()
            final_expression = ast.Expression(last.value)
        body = compile(tree, PROGRAM_NAME, "exec", flags=_TOP_LEVEL_AWAIT, dont_inherit=True)
        tail = None
        if final_expression is not None:
            tail = compile(final_expression, PROGRAM_NAME, "eval", flags=_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as error:
        lines = traceback.format_exception_only(type(error), error)
        return Failure(lines[-1].strip(), "".join(lines))
    except ValueError as error:
        # Python < 3.12 refuses a NUL byte in source with ValueError, not SyntaxError; report both alike.
        message = "SyntaxError: %s" % (error,)
        return Failure(message, message + "\n")

    try:
        await _evaluate(body, namespace)
        if tail is not None:
            value = await _evaluate(tail, namespace)
            # Like a notebook cell: a final expression's value is shown, so `await tool()` needs no print.
            if value is not None:
                print(repr(value))
        return None
    except SystemExit as error:
        if error.code in (None, 0):
            return None
        return Failure("SystemExit: %s" % (error.code,), "")
    except BaseException as error:  # noqa: BLE001 - every failure of user code is reported, never raised
        return describe_failure(error)


def describe_failure(error: BaseException) -> Failure:
    tb = error.__traceback__
    # Drop the runtime's own frames: the user only needs frames from their program and below.
    while tb is not None and tb.tb_frame.f_code.co_filename != PROGRAM_NAME:
        tb = tb.tb_next
    # ...and the runtime's frames below them (tool proxies), which say nothing about the user's bug.
    own = [f for f in traceback.extract_tb(tb) if not f.filename.startswith(_RUNTIME_DIR)]
    frames = traceback.StackSummary.from_list(own[-TRACEBACK_FRAMES:])
    summary = traceback.format_exception_only(type(error), error)[-1].strip()
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += frames.format()
    lines += traceback.format_exception_only(type(error), error)
    return Failure(summary, "".join(lines))


# The host refuses a `done` frame whose error or traceback is over 64 KiB (UTF-16 units); a character
# beyond the BMP counts twice there, so these caps stay under it for any text.
ERROR_CHARS = 16_000
TRACEBACK_CHARS = 32_000


def _elide(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, its head and tail kept, with how much was dropped between."""
    if len(text) <= limit:
        return text
    marker = "\n... [%d characters elided] ...\n" % (len(text) - limit)
    head = (limit - len(marker)) * 2 // 3
    tail = limit - len(marker) - head
    return text[:head] + marker + text[len(text) - tail:]


def done_frame(failure: Failure | None) -> JsonObject:
    """The `done` frame for a program's outcome (None: success)."""
    if failure is None:
        return {"type": "done", "ok": True}
    return {
        "type": "done",
        "ok": False,
        "error": _elide(failure.error, ERROR_CHARS),
        "traceback": _elide(failure.traceback, TRACEBACK_CHARS),
    }


def flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - user code may have replaced or closed the stream
            pass
