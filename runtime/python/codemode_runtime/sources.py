"""The code filenames the runtime compiles programs and skills under, and the source kept for each.

A leaf: the executor, the skill loader and skill capture all read it, and it imports none of them.
"""
from __future__ import annotations

import linecache

PROGRAM_NAME = "<run_python>"

# Program and skill sources by code filename, kept as they were when compiled: `save_tool` reads a
# function's text from here, whatever the program does to `linecache` afterwards.
_SOURCES: dict[str, list[str]] = {}


def skill_filename(name: str) -> str:
    return "<skill %s>" % name


def remember_source(filename: str, text: str) -> None:
    """Keeps `text` as the source of `filename`, for `save_tool` and (through linecache) for tracebacks."""
    _SOURCES[filename] = text.splitlines(True)
    # A list of its own: a program may change linecache's, never the kept one.
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)


def source_lines(filename: str) -> list[str] | None:
    """The lines `remember_source` kept for `filename`, or None."""
    return _SOURCES.get(filename)
