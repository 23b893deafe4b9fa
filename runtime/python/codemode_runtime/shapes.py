"""Answers the run already holds, in the shapes `mcp.runtime` and the server modules give them.

A leaf shared by `mcp.runtime` and namespace.py: server metadata in mcp-server-code-execution-mode's
shape, and the list and dict whose `await` is optional.
"""


def server_metadata(server):
    """A server as `describe_server` returns it: name, alias, description, cwd, tools (input_schema each)."""
    return {
        "name": server["name"],
        "alias": server["alias"],
        "description": server.get("description") or "",
        "cwd": server.get("cwd"),
        "tools": [
            {
                "name": tool["name"],
                "alias": tool.get("alias") or tool["name"],
                "description": tool.get("description") or "",
                "input_schema": tool.get("inputSchema") or {},
                **({"policy": tool["policy"]} if tool.get("policy") else {}),
            }
            for tool in server.get("tools") or []
        ],
    }


class AwaitableDict(dict):
    """A dict the run already holds; `await` on it is allowed, so both call styles work."""

    def __await__(self):
        return self
        yield  # unreachable: makes __await__ a generator, as the protocol requires


class AwaitableList(list):
    """A list the run already holds; `await` on it is allowed, so both call styles work."""

    def __await__(self):
        return self
        yield  # unreachable: makes __await__ a generator, as the protocol requires
