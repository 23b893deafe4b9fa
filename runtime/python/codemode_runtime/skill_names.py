"""Which names can name a skill: the rules capture applies before saving and the loader before loading.

The host applies the same rules (src/engine/skills/skill-rules.ts).
"""
from __future__ import annotations

import builtins
import keyword
import re
import sys

MAX_NAME_CHARS = 64
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


def name_problem(name: object) -> str | None:
    """Why `name` cannot name a skill, or None."""
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
