import asyncio
import inspect
import unittest

from helpers import RecordingHost, run

import mcp
from codemode_runtime.channel import HostChannel
from codemode_runtime.docs import first_line, tool_doc
from codemode_runtime.namespace import build_namespace, signature_and_docs

WRITE = {
    "name": "write-file",
    "alias": "write_file",
    "description": "Write a file.\nMore detail.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Where"},
            "content": {"type": "string"},
            "mode": {"type": ["string", "null"], "default": "w"},
            "dry-run": {"type": "boolean"},
        },
        "required": ["content", "path"],
    },
}
SERVERS = [{"name": "my.files", "alias": "my_files", "description": "Files", "tools": [WRITE]}]
CATALOG = [{"name": "my.files", "alias": "my_files"}, {"name": "other", "alias": "other"}]


class SignatureTests(unittest.TestCase):
    def test_builds_a_real_signature_from_the_schema(self):
        signature, docs, extra = signature_and_docs(WRITE)
        self.assertEqual(str(signature), "(content: str, path: str, *, mode: Optional[str] = 'w', **arguments)")
        self.assertEqual(extra, "arguments")
        self.assertIn("    path (str): Where", docs)
        self.assertIn("    **arguments: dry-run", docs)

    def test_degrades_on_a_malformed_schema_instead_of_failing(self):
        signature, _, extra = signature_and_docs({"name": "x", "inputSchema": {"properties": [1], "required": 7}})
        self.assertEqual(str(signature), "()")
        self.assertIsNone(extra)


class ProxyTests(unittest.TestCase):
    def namespace(self):
        host = RecordingHost()
        host.channel = HostChannel(host.send, asyncio.get_event_loop())
        return host, build_namespace(SERVERS, host.channel, CATALOG)

    def test_offers_one_function_three_ways(self):
        async def scenario():
            _, namespace = self.namespace()
            from mcp.servers.my_files import write_file

            same = namespace["mcp_my_files"].write_file is namespace["mcp_servers"]["my.files"]["write-file"]
            return same and write_file is namespace["mcp_my_files"].write_file

        self.assertTrue(run(scenario()))

    def test_sends_only_the_arguments_given_by_keyword_or_position_alike(self):
        async def scenario():
            host, namespace = self.namespace()
            write = namespace["mcp_my_files"].write_file
            await write(path="/a", content="x")
            await write("y", "/b", mode="a", **{"dry-run": True})
            return host.frames

        frames = run(scenario())
        self.assertEqual(
            [(frame["server"], frame["tool"], frame["args"]) for frame in frames],
            [
                ("my.files", "write-file", {"path": "/a", "content": "x"}),
                ("my.files", "write-file", {"content": "y", "path": "/b", "mode": "a", "dry-run": True}),
            ],
        )

    def test_checks_arguments_before_calling_and_names_the_tool(self):
        async def scenario():
            host, namespace = self.namespace()
            with self.assertRaises(TypeError) as caught:
                await namespace["mcp_my_files"].write_file(path="/a")
            return host.frames, str(caught.exception)

        frames, message = run(scenario())
        self.assertEqual(frames, [])
        self.assertTrue(message.startswith("my_files.write_file(): missing a required argument"), message)

    def test_raises_tool_errors_naming_server_and_tool(self):
        async def scenario():
            host, namespace = self.namespace()
            host.answers[("my.files", "write-file")] = {"ok": False, "error": "disk full", "code": "TOOL_ERROR"}
            try:
                await namespace["mcp_my_files"].write_file(path="/a", content="x")
            except mcp.ToolError as error:
                return error

        error = run(scenario())
        self.assertEqual((str(error), error.server, error.tool), ("disk full", "my.files", "write-file"))

    def test_says_which_servers_are_granted_when_one_is_not(self):
        async def scenario():
            _, namespace = self.namespace()
            with self.assertRaises(KeyError) as caught:
                namespace["mcp_servers"]["other"]
            return str(caught.exception)

        self.assertIn("not granted to this run; granted: my.files", run(scenario()))

    def test_gives_the_function_its_docstring_and_signature(self):
        async def scenario():
            _, namespace = self.namespace()
            return namespace["mcp_my_files"].write_file

        function = run(scenario())
        self.assertTrue(function.__doc__.startswith("Write a file."))
        self.assertEqual(list(inspect.signature(function).parameters)[:2], ["content", "path"])

    def test_lists_every_configured_server_from_the_catalog_without_asking_the_host(self):
        async def scenario():
            host, _ = self.namespace()
            import mcp.runtime as runtime

            return host, await runtime.list_servers()

        host, servers = run(scenario())
        self.assertEqual(servers, ("my.files", "other"))
        self.assertEqual(host.frames, [])


class ReferenceShapeTests(unittest.TestCase):
    """What mcp-server-code-execution-mode's sandbox offered, in its shapes."""

    def test_a_server_module_has_tools_and_tool_map_of_the_tools_metadata(self):
        namespace = build_namespace(SERVERS, object(), CATALOG)
        from mcp.servers.my_files import TOOL_MAP, TOOLS

        expected = {
            "name": "write-file",
            "alias": "write_file",
            "description": "Write a file.\nMore detail.",
            "input_schema": WRITE["inputSchema"],
        }
        self.assertEqual(TOOLS, [expected])
        self.assertEqual(TOOL_MAP, {"write_file": expected})
        self.assertIs(namespace["mcp_my_files"].TOOLS, TOOLS)
        self.assertNotIn("TOOLS", namespace["mcp_my_files"].__all__)

    def test_a_tool_named_tools_takes_the_attribute(self):
        tool = {"name": "TOOLS", "inputSchema": {"type": "object"}}
        namespace = build_namespace([dict(SERVERS[0], tools=[WRITE, tool])], object(), CATALOG)
        module = namespace["mcp_my_files"]
        self.assertTrue(callable(module.TOOLS))
        self.assertEqual(sorted(module.TOOL_MAP), ["TOOLS", "write_file"])

    def test_list_tools_sync_without_a_server_raises_mcp_error(self):
        import mcp.runtime

        build_namespace(SERVERS, object(), CATALOG)
        with self.assertRaises(mcp.runtime.MCPError) as caught:
            mcp.runtime.list_tools_sync()
        self.assertEqual(
            str(caught.exception), "list_tools_sync(server) requires a server name; granted to this run: my.files"
        )


class DocsTests(unittest.TestCase):
    def test_first_line_is_short(self):
        self.assertEqual(first_line("\n  one\ntwo"), "one")
        self.assertEqual(len(first_line("x" * 500)), 200)

    def test_tool_doc_at_both_details(self):
        summary = tool_doc(SERVERS[0], WRITE)
        self.assertEqual(summary["signature"], "await mcp_my_files.write_file" + str(signature_and_docs(WRITE)[0]))
        self.assertEqual(summary["description"], "Write a file.")
        full = tool_doc(SERVERS[0], WRITE, "full")
        names = [parameter["name"] for parameter in full["parameters"]]
        self.assertEqual(names, ["path", "content", "mode", "dry-run"])
        with self.assertRaises(ValueError):
            tool_doc(SERVERS[0], WRITE, "everything")


if __name__ == "__main__":
    unittest.main()
