"""One submodule per granted server, installed by the runtime: `from mcp.servers.memory import read_graph`."""
from __future__ import annotations

__all__: list[str] = []
