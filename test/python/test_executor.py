import unittest

from helpers import captured_stdout, run

from codemode_runtime.executor import Failure, done_frame, execute


def outcome(code, namespace=None):
    with captured_stdout() as out:
        failure = run(execute(code, namespace if namespace is not None else {"__name__": "__main__"}))
    return failure, out.getvalue()


def failed(code):
    """The failure of a program that must fail."""
    failure, _ = outcome(code)
    assert failure is not None, "the program succeeded"
    return failure


class ExecuteTests(unittest.TestCase):
    def test_prints_and_succeeds(self):
        failure, out = outcome("print('hi')")
        self.assertIsNone(failure)
        self.assertEqual(out, "hi\n")

    def test_shows_the_value_of_a_final_expression_like_a_notebook(self):
        self.assertEqual(outcome("x = 6\nx * 7")[1], "42\n")
        self.assertEqual(outcome("None")[1], "")

    def test_awaits_at_top_level(self):
        failure, out = outcome("import asyncio\nawait asyncio.sleep(0)\nawait asyncio.sleep(0, result='done')")
        self.assertIsNone(failure)
        self.assertEqual(out, "'done'\n")

    def test_reports_an_exception_with_a_short_traceback_of_the_program_only(self):
        failure = failed("def f():\n    return 1 / 0\nf()")
        self.assertEqual(failure.error, "ZeroDivisionError: division by zero")
        self.assertIn('File "<run_python>", line 3', failure.traceback)
        self.assertIn('File "<run_python>", line 2, in f', failure.traceback)
        self.assertNotIn("executor.py", failure.traceback)

    def test_reports_a_syntax_error_without_running_anything(self):
        failure, out = outcome("print('never')\ndef (")
        assert isinstance(failure, Failure)
        self.assertTrue(failure.error.startswith("SyntaxError"))
        self.assertEqual(out, "")

    def test_reports_a_nul_byte_as_a_syntax_error_on_every_python(self):
        failure = failed("print(1)\x00")
        self.assertTrue(failure.error.startswith("SyntaxError"), failure.error)
        self.assertIn("null bytes", failure.error)

    def test_treats_sys_exit_zero_as_success_and_other_codes_as_failure(self):
        self.assertIsNone(outcome("import sys\nsys.exit(0)")[0])
        self.assertIsNone(outcome("import sys\nsys.exit()")[0])
        self.assertEqual(failed("import sys\nsys.exit(3)").error, "SystemExit: 3")

    def test_builds_done_frames(self):
        self.assertEqual(done_frame(None), {"type": "done", "ok": True})
        failure = failed("raise ValueError('x')")
        self.assertEqual(
            done_frame(failure),
            {"type": "done", "ok": False, "error": "ValueError: x", "traceback": failure.traceback},
        )

    def test_cuts_a_huge_error_to_what_the_host_accepts_keeping_head_and_tail(self):
        failure, _ = outcome("raise ValueError('m' * 1_000_000 + 'END')")
        frame = done_frame(failure)
        self.assertTrue(frame["error"].startswith("ValueError: mmm"))
        self.assertTrue(frame["error"].endswith("END"))
        self.assertIn("characters elided", frame["error"])
        # The host's cap counts UTF-16 units: even astral characters (2 units each) stay under it.
        failure, _ = outcome("raise ValueError('\\U0001F600' * 100_000)")
        frame = done_frame(failure)
        for field in ("error", "traceback"):
            self.assertLessEqual(len(frame[field].encode("utf-16-le")) // 2, 64 * 1024)


if __name__ == "__main__":
    unittest.main()
