"""One submodule per granted server, installed by the runtime: `from mcp.servers.memory import read_graph`."""
