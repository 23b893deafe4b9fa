"""The `mcp` package user code sees inside the sandbox.

`mcp.ToolError` is raised when an upstream tool reports an error or cannot be reached, and when a
discovery helper is asked about a server or tool that does not exist. `mcp.MCPError` is the same
class, under the name mcp-server-code-execution-mode used.
"""


class ToolError(RuntimeError):
    """An MCP tool call failed; `str(err)` is the server's (or the bridge's) message.

    A RuntimeError, as the errors of mcp-server-code-execution-mode's proxies were, so code written
    for it (`except RuntimeError`) still catches it.
    """

    def __init__(self, message, code=None, server=None, tool=None):
        super().__init__(message)
        self.code = code
        self.server = server
        self.tool = tool


MCPError = ToolError

__all__ = ["MCPError", "ToolError"]
