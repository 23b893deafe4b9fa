"""Tool documentation at two levels of detail, rendered from the same signatures the proxies use."""
import inspect

from .tool_functions import make_tool_function, signature_and_docs

DETAILS = ("summary", "full")


SUMMARY_CHARS = 200


def first_line(text):
    """The first non-empty line, cut to SUMMARY_CHARS: enough to choose a tool, cheap to print."""
    for line in (text or "").strip().splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1].rstrip() + "…"
    return ""


def check_detail(detail):
    if detail not in DETAILS:
        raise ValueError("detail must be 'summary' or 'full', not %r" % (detail,))


def _parameters(tool):
    schema = tool.get("inputSchema") or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    result = []
    for name, prop in properties.items():
        prop = prop if isinstance(prop, dict) else {}
        entry = {
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


def tool_doc(server, tool, detail="summary"):
    """One tool's documentation: `summary` is enough to call it; `full` adds every parameter's docs."""
    check_detail(detail)
    signature, _, _ = signature_and_docs(tool)
    alias = tool.get("alias") or tool["name"]
    doc = {
        "server": server["name"],
        "serverAlias": server["alias"],
        "tool": tool["name"],
        "toolAlias": alias,
        "description": first_line(tool.get("description")),
        "signature": "await mcp_%s.%s%s" % (server["alias"], alias, signature),
    }
    if tool.get("policy"):
        doc["policy"] = tool["policy"]
    if detail == "full":
        doc["description"] = (tool.get("description") or "").strip()
        doc["parameters"] = _parameters(tool)
        doc["inputSchema"] = tool.get("inputSchema") or {}
    return doc


def skill_doc(entry, detail="summary"):
    """A saved skill in the shape of a tool doc (`server` is "skills"), so searches can mix the two."""
    check_detail(detail)
    name = entry["name"]
    doc = {
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
    if entry.get("servers"):
        doc["servers"] = list(entry["servers"])
    if detail == "full":
        doc["description"] = (entry.get("description") or "").strip()
        doc["parameters"] = [{"name": parameter} for parameter in entry.get("parameters") or []]
    return doc


def stub(server, tool):
    """A Python stub for one tool, as `codemode-bridge stubs` prints it."""
    function = make_tool_function(server, tool, channel=None)
    body = inspect.cleandoc(function.__doc__ or "")
    indented = "\n".join(("    " + line) if line else "" for line in body.splitlines())
    return 'async def %s%s:\n    """\n%s\n    """\n' % (function.__name__, inspect.signature(function), indented)
