"""Tool documentation at two levels of detail, rendered from the same signatures the proxies use."""
from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from .shapes import json_object
from .tool_functions import signature_and_docs, tool_docstring

if TYPE_CHECKING:
    from .frames import JsonObject, ServerGrant, SkillGrant, ToolGrant

DETAILS = ("summary", "full")


SUMMARY_CHARS = 200


def first_line(text: str | None) -> str:
    """The first non-empty line, cut to SUMMARY_CHARS: enough to choose a tool, cheap to print."""
    for line in (text or "").strip().splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1].rstrip() + "…"
    return ""


def check_detail(detail: object) -> None:
    if detail not in DETAILS:
        raise ValueError("detail must be 'summary' or 'full', not %r" % (detail,))


def _parameters(tool: ToolGrant) -> list[JsonObject]:
    schema = tool.get("inputSchema") or {}
    properties: dict[str, object] = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    result: list[JsonObject] = []
    for name, value in properties.items():
        prop = json_object(value)
        entry: JsonObject = {
            "name": name,
            "type": prop.get("type", "any"),
            "required": name in required,
            "description": " ".join(str(prop.get("description") or "").split()),
        }
        if "default" in prop:
            entry["default"] = prop["default"]
        if "enum" in prop:
            entry["enum"] = prop["enum"]
        result.append(entry)
    return result


def tool_doc(server: ServerGrant, tool: ToolGrant, detail: str = "summary") -> JsonObject:
    """One tool's documentation: `summary` is enough to call it; `full` adds every parameter's docs."""
    check_detail(detail)
    signature, _, _ = signature_and_docs(tool)
    alias = tool.get("alias") or tool["name"]
    doc: JsonObject = {
        "server": server["name"],
        "serverAlias": server["alias"],
        "tool": tool["name"],
        "toolAlias": alias,
        "description": first_line(tool.get("description")),
        "signature": "await mcp_%s.%s%s" % (server["alias"], alias, signature),
    }
    policy = tool.get("policy")
    if policy:
        doc["policy"] = policy
    if detail == "full":
        doc["description"] = (tool.get("description") or "").strip()
        doc["parameters"] = _parameters(tool)
        doc["inputSchema"] = tool.get("inputSchema") or {}
    return doc


def skill_doc(entry: SkillGrant, detail: str = "summary") -> JsonObject:
    """A saved skill in the shape of a tool doc (`server` is "skills"), so searches can mix the two."""
    check_detail(detail)
    name = entry["name"]
    doc: JsonObject = {
        "server": "skills",
        "serverAlias": "skills",
        "tool": name,
        "toolAlias": name,
        "description": first_line(entry.get("description")),
        "signature": "%s%s%s" % ("await " if entry.get("isAsync") else "", name, entry.get("signature") or "(...)"),
        "skill": True,
        "version": entry.get("version"),
        "import": "from skills import %s" % (name,),
    }
    servers = entry.get("servers")
    if servers:
        doc["servers"] = list(servers)
    if detail == "full":
        doc["description"] = (entry.get("description") or "").strip()
        doc["parameters"] = [{"name": parameter} for parameter in entry.get("parameters") or []]
    return doc


def stub(server: ServerGrant, tool: ToolGrant) -> str:
    """A Python stub for one tool, as `codemode-bridge stubs` prints it."""
    signature, param_docs, _ = signature_and_docs(tool)
    body = inspect.cleandoc(tool_docstring(server, tool, param_docs))
    indented = "\n".join(("    " + line) if line else "" for line in body.splitlines())
    return 'async def %s%s:\n    """\n%s\n    """\n' % (tool.get("alias") or tool["name"], signature, indented)
