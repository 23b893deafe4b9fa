import asyncio
import unittest

from helpers import run

import mcp
from codemode_runtime.channel import HostChannel


class ChannelTests(unittest.TestCase):
    def setUp(self):
        self.sent = []

    def channel(self):
        return HostChannel(self.sent.append, asyncio.get_event_loop())

    def test_numbers_requests_and_settles_each_with_its_own_reply(self):
        async def scenario():
            channel = self.channel()
            first = asyncio.ensure_future(channel.request({"type": "rpc", "server": "s", "tool": "a", "args": {}}))
            second = asyncio.ensure_future(channel.request({"type": "call", "op": "list_servers", "args": {}}))
            await asyncio.sleep(0)
            self.assertEqual([frame["id"] for frame in self.sent], [1, 2])
            channel.receive(b'{"type":"rpc_result","id":2,"ok":true,"value":"two"}')
            channel.receive(b'{"type":"rpc_result","id":1,"ok":true,"value":{"n":1}}')
            return await first, await second

        self.assertEqual(run(scenario()), ({"n": 1}, "two"))

    def test_raises_the_hosts_error_as_a_tool_error_with_its_code(self):
        async def scenario():
            channel = self.channel()
            pending = asyncio.ensure_future(channel.request({"type": "rpc"}))
            await asyncio.sleep(0)
            channel.deliver({"type": "rpc_result", "id": 1, "ok": False, "error": "nope", "code": "NOT_GRANTED"})
            return await pending

        with self.assertRaises(mcp.ToolError) as caught:
            run(scenario())
        self.assertEqual((str(caught.exception), caught.exception.code), ("nope", "NOT_GRANTED"))

    def test_raises_policy_refusals_as_policy_errors_naming_the_rule(self):
        async def scenario():
            channel = self.channel()
            pending = asyncio.ensure_future(channel.request({"type": "rpc"}))
            await asyncio.sleep(0)
            message = "fs.write_file is refused by the policy: matches write_*. [rule: servers.fs.deny[\"write_*\"]]"
            channel.deliver({"type": "rpc_result", "id": 1, "ok": False, "error": message, "code": "POLICY_DENIED"})
            return await pending

        with self.assertRaises(mcp.PolicyError) as caught:
            run(scenario())
        error = caught.exception
        self.assertIsInstance(error, mcp.ToolError)
        self.assertEqual((error.code, error.rule), ("POLICY_DENIED", 'servers.fs.deny["write_*"]'))
        self.assertIsNone(mcp.PolicyError("no rule here", code="POLICY_BUDGET").rule)

    def test_ignores_replies_nobody_waits_for_and_frames_of_other_types(self):
        async def scenario():
            channel = self.channel()
            channel.receive(b'{"type":"rpc_result","id":99,"ok":true,"value":1}')
            channel.receive(b'{"type":"run","id":"x"}')
            channel.receive(b"[1, 2]")

        run(scenario())

    def test_fails_the_waiting_requests_when_a_reply_cannot_be_decoded(self):
        async def scenario():
            channel = self.channel()
            pending = asyncio.ensure_future(channel.request({"type": "rpc"}))
            await asyncio.sleep(0)
            channel.receive(b"[" * 100000 + b"]" * 100000)
            return await pending

        with self.assertRaises(mcp.ToolError) as caught:
            run(scenario())
        self.assertIn("could not decode a reply", str(caught.exception))

    def test_close_fails_pending_and_later_requests(self):
        async def scenario():
            channel = self.channel()
            pending = asyncio.ensure_future(channel.request({"type": "rpc"}))
            await asyncio.sleep(0)
            channel.close(ConnectionError("gone"))
            with self.assertRaises(ConnectionError):
                await pending
            with self.assertRaises(ConnectionError):
                await channel.request({"type": "rpc"})

        run(scenario())


if __name__ == "__main__":
    unittest.main()
