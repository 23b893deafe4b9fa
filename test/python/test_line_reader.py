import os
import unittest

from helpers import RUNTIME  # noqa: F401 - puts the runtime on sys.path

from codemode_runtime.container_main import LineReader


class LineReaderTests(unittest.TestCase):
    def test_splits_lines_across_chunks_without_losing_a_partial_one(self):
        reader = LineReader(-1)
        self.assertEqual(reader._take_lines(b'{"a":'), [])
        self.assertEqual(reader._take_lines(b'1}\n{"b":2}\n{"c"'), [b'{"a":1}', b'{"b":2}'])
        self.assertEqual(reader._take_lines(b":3}\n"), [b'{"c":3}'])

    def test_reads_the_first_line_blocking_from_a_pipe(self):
        read_end, write_end = os.pipe()
        os.write(write_end, b'{"type":"run"}\n')
        os.close(write_end)
        reader = LineReader(read_end)
        self.assertEqual(reader.read_line(), b'{"type":"run"}')
        self.assertIsNone(reader.read_line())
        os.close(read_end)

    def test_gathers_a_large_line_in_one_join(self):
        reader = LineReader(-1)
        chunk = b"x" * 65536
        for _ in range(64):
            self.assertEqual(reader._take_lines(chunk), [])
        (line,) = reader._take_lines(b"\n")
        self.assertEqual(len(line), 64 * 65536)


if __name__ == "__main__":
    unittest.main()
