import contextlib
import io
import os
import sys
import threading
import unittest

import mcp.runtime
from codemode_runtime import skills
from codemode_runtime.container_main import _Drain
from codemode_runtime.namespace import SessionGlobals

SERVER = {"name": "notes", "alias": "notes", "tools": [{"name": "add", "inputSchema": {"type": "object"}}]}


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


class SessionGrantTests(unittest.TestCase):
    def test_an_unchanged_grant_keeps_its_proxies_and_gets_a_fresh_queue_and_its_names_back(self):
        session = SessionGlobals()
        channel = object()
        first = session.program([SERVER], channel, [], [])
        proxy = first["mcp_notes"].add
        queue = skills.queue()
        del first["mcp_notes"]
        del sys.modules["mcp.servers.notes"]
        first["x"] = 1
        second = session.program([dict(SERVER)], channel, [], [])
        self.assertIs(second, first)
        self.assertEqual(second["x"], 1)
        self.assertIs(second["mcp_notes"].add, proxy)
        self.assertIs(sys.modules["mcp.servers.notes"], second["mcp_notes"])
        # Host operations are each program's own: what one left is never reported by the next.
        self.assertIsNot(skills.queue(), queue)
        self.assertIs(mcp.runtime._state["queue"], skills.queue())

    def test_a_changed_grant_or_channel_builds_new_proxies(self):
        session = SessionGlobals()
        channel = object()
        proxy = session.program([SERVER], channel, [], [])["mcp_notes"].add
        renamed = dict(SERVER, tools=[{"name": "add", "description": "new", "inputSchema": {"type": "object"}}])
        self.assertIsNot(session.program([renamed], channel, [], [])["mcp_notes"].add, proxy)
        self.assertNotIn("mcp_notes", session.program([], channel, [], []))
        again = session.program([SERVER], channel, [], [])["mcp_notes"].add
        self.assertIsNot(session.program([SERVER], object(), [], [])["mcp_notes"].add, again)


def skill(name, version, returns):
    return {"name": name, "version": version, "source": "def %s():\n    return %r\n" % (name, returns)}


def execute(namespace, code):
    """Runs a (synchronous) program in `namespace`; returns what it wrote to stderr."""
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        exec(compile(code, "<program>", "exec"), namespace)
    return errors.getvalue()


class SessionSkillTests(unittest.TestCase):
    """Skills are saved by any run of any client: they never replace what a session bound itself."""

    def setUp(self):
        self.session = SessionGlobals()
        self.channel = object()

    def program(self, *skills_saved):
        return self.session.program([], self.channel, [], list(skills_saved))

    def test_a_skill_saved_meanwhile_never_replaces_a_name_the_session_bound(self):
        namespace = self.program()
        execute(namespace, "def helper():\n    return 'mine'\nimport json as fmt\ncount = 3")
        namespace = self.program(skill("helper", 1, "theirs"), skill("fmt", 1, "theirs"), skill("count", 1, "x"))
        execute(namespace, "result = (helper(), fmt.__name__, count)")
        self.assertEqual(namespace["result"], ("mine", "json", 3))
        # Asked for by name, the skill takes the name.
        execute(namespace, "from skills import helper\nresult = helper()")
        self.assertEqual(namespace["result"], "theirs")

    def test_a_session_keeps_the_version_it_received_until_it_imports_again(self):
        namespace = self.program(skill("helper", 1, "v1"), skill("other", 1, "o1"))
        execute(namespace, "import skills\nresult = (helper(), skills.other())")
        self.assertEqual(namespace["result"], ("v1", "o1"))
        namespace = self.program(skill("helper", 2, "v2"), skill("other", 2, "o2"), skill("new", 1, "n1"))
        # By its name and through the module imported before: the versions received; a skill the
        # session has not seen fills its free name.
        execute(namespace, "result = (helper(), skills.other(), new())")
        self.assertEqual(namespace["result"], ("v1", "o1", "n1"))
        execute(namespace, "import skills\nfrom skills import helper\nresult = (helper(), skills.other())")
        self.assertEqual(namespace["result"], ("v2", "o2"))

    def test_a_star_import_refreshes_skills_but_keeps_the_programs_own_names(self):
        namespace = self.program(skill("helper", 1, "v1"), skill("other", 1, "o1"))
        execute(namespace, "def other():\n    return 'mine'")
        namespace = self.program(skill("helper", 2, "v2"), skill("other", 2, "o2"))
        errors = execute(namespace, "from skills import *\nresult = (helper(), other())")
        self.assertEqual(namespace["result"], ("v2", "mine"))
        self.assertIn("kept the program's own other", errors)

    def test_a_star_import_in_a_fresh_program_keeps_its_names_too(self):
        from codemode_runtime.namespace import build_namespace

        namespace = build_namespace([], object(), [], [skill("helper", 1, "theirs"), skill("tool", 1, "t")])
        execute(namespace, "def helper():\n    return 'mine'\nfrom skills import *\nresult = (helper(), tool())")
        self.assertEqual(namespace["result"], ("mine", "t"))


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
