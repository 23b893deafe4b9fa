import asyncio
import os
import unittest

from helpers import RUNTIME  # noqa: F401 - puts the runtime on sys.path

from codemode_runtime.container_main import FrameWriter


class FrameWriterTests(unittest.TestCase):
    def setUp(self):
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)
        self.loop = asyncio.new_event_loop()
        self.writer = FrameWriter(self.write_end)
        self.writer.use_loop(self.loop)

    def tearDown(self):
        self.loop.close()
        os.close(self.read_end)
        os.close(self.write_end)

    def written(self):
        try:
            return os.read(self.read_end, 65536)
        except BlockingIOError:
            return b""

    def test_sends_the_requests_of_one_loop_step_in_one_write(self):
        async def gather_step():
            for i in range(3):
                self.writer.send_soon({"type": "rpc", "id": i})
            self.assertEqual(self.written(), b"")  # nothing yet: they wait for the end of the step

        self.loop.run_until_complete(gather_step())
        self.loop.run_until_complete(asyncio.sleep(0))
        self.assertEqual(self.written(), b'{"type":"rpc","id":0}\n{"type":"rpc","id":1}\n{"type":"rpc","id":2}\n')

    def test_writes_batched_requests_before_any_later_frame(self):
        self.writer.send_soon({"type": "rpc", "id": 1})
        self.writer.send({"type": "done", "ok": True})
        self.assertEqual(self.written(), b'{"type":"rpc","id":1}\n{"type":"done","ok":true}\n')
        self.loop.run_until_complete(asyncio.sleep(0))  # the scheduled flush finds nothing left
        self.assertEqual(self.written(), b"")


if __name__ == "__main__":
    unittest.main()
