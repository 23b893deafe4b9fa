"""The `mcp` package user code sees inside the sandbox.

`mcp.ToolError` is raised when an upstream tool reports an error or cannot be reached, and when a
discovery helper is asked about a server or tool that does not exist. `mcp.MCPError` is the same
class, under the name mcp-server-code-execution-mode used. `mcp.PolicyError`, a ToolError, is raised
when the user's policy refuses a call.
"""
from __future__ import annotations


class ToolError(RuntimeError):
    """An MCP tool call failed; `str(err)` is the server's (or the bridge's) message.

    A RuntimeError, as the errors of mcp-server-code-execution-mode's proxies were, so code written
    for it (`except RuntimeError`) still catches it.
    """

    def __init__(
        self, message: object, code: str | None = None, server: str | None = None, tool: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.server = server
        self.tool = tool


class PolicyError(ToolError):
    """The user's policy refused the call (a deny rule, read-only mode, a budget, a rate limit, an
    approval that was declined, or a placeholder from another run); `err.rule` names the rule,
    `err.code` is POLICY_DENIED, POLICY_DECLINED, POLICY_BUDGET, POLICY_RATE_LIMIT or
    POLICY_PLACEHOLDER. Retrying the same call will not help.
    """

    def __init__(
        self, message: object, code: str | None = None, server: str | None = None, tool: str | None = None
    ) -> None:
        super().__init__(message, code=code, server=server, tool=tool)
        marker = " [rule: "
        text = str(message)
        self.rule = text[text.rindex(marker) + len(marker):-1] if text.endswith("]") and marker in text else None


def error_for(message: object, code: str | None = None) -> ToolError:
    """The exception a failed host call raises: PolicyError for the host's POLICY_* codes."""
    if isinstance(code, str) and code.startswith("POLICY_"):
        return PolicyError(message, code=code)
    return ToolError(message, code=code)


MCPError = ToolError

__all__ = ["MCPError", "PolicyError", "ToolError"]
