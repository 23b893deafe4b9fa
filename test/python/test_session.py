import os
import threading
import unittest

from codemode_runtime.container_main import _Drain
from codemode_runtime.namespace import SessionGlobals


class SessionGlobalsTests(unittest.TestCase):
    def test_user_names_survive_and_provided_names_follow_each_grant(self):
        session = SessionGlobals()
        tool = object()
        first = session.enter({"__name__": "__main__", "mcp": "m1", "mcp_memory": tool})
        first["x"] = 41
        first["kept"] = "mine"
        second = session.enter({"__name__": "__main__", "mcp": "m2"})
        self.assertIs(first, second)
        self.assertEqual(second["x"], 41)
        self.assertEqual(second["mcp"], "m2")
        # Not granted any more: gone, unless the user rebound the name.
        self.assertNotIn("mcp_memory", second)
        second["mcp_memory"] = "rebound"
        third = session.enter({"__name__": "__main__", "mcp": "m3", "mcp_other": tool})
        self.assertEqual(third["mcp_memory"], "rebound")
        self.assertIs(third["mcp_other"], tool)


class DrainTests(unittest.TestCase):
    def test_settle_returns_once_everything_written_has_been_sent(self):
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        sent = []
        lock = threading.Lock()

        class Writer:
            def send(self, frame):
                with lock:
                    sent.append(frame["data"])

        drain = _Drain(read_end, "stdout", Writer())
        thread = threading.Thread(target=drain.run, daemon=True)
        thread.start()
        for n in range(200):
            os.write(write_end, b"line %d\n" % n)
            if n % 50 == 0:
                drain.settle(5)
                with lock:
                    self.assertTrue("".join(sent).endswith("line %d\n" % n))
        drain.settle(5)
        with lock:
            self.assertEqual("".join(sent), "".join("line %d\n" % n for n in range(200)))
        os.close(write_end)
        thread.join(5)
        self.assertFalse(thread.is_alive())


if __name__ == "__main__":
    unittest.main()
