"""The `mcp` package user code sees inside the sandbox.

`mcp.ToolError` is raised when an upstream tool reports an error or cannot be reached.
"""


class ToolError(Exception):
    """An MCP tool call failed; `str(err)` is the server's (or the bridge's) message."""

    def __init__(self, message, code=None, server=None, tool=None):
        super().__init__(message)
        self.code = code
        self.server = server
        self.tool = tool


__all__ = ["ToolError"]
