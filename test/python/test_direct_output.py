import fcntl
import io
import json
import os
import threading
import unittest
from typing import cast

from helpers import RUNTIME  # noqa: F401 - puts the runtime on sys.path

from codemode_runtime.container_main import READ_CHUNK_BYTES, FrameWriter, _DirectStream, _Drain, _Output


def read_all(fd):
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return b""


class DirectOutputTests(unittest.TestCase):
    """Python-level writes sent as frames at once, in order with what reached the fd's pipe first."""

    def setUp(self):
        # The stdout pipe (fd-level writes land here) and the protocol channel, both as plain pipes.
        self.pipe_read, self.pipe_write = os.pipe()
        self.frames_read, self.frames_write = os.pipe()
        for fd in (self.pipe_read, self.frames_read):
            os.set_blocking(fd, False)
        self.writer = FrameWriter(self.frames_write)
        self.drain = _Drain(self.pipe_read, "stdout", self.writer)
        self.to_pipe_calls = 0
        test = self

        class Output:
            fd = self.pipe_write
            drain = self.drain

            def to_pipe(self):
                test.to_pipe_calls += 1

        self.stream = _DirectStream(cast(_Output, Output()))  # the two parts of an output the stream uses

    def tearDown(self):
        for fd in (self.pipe_read, self.pipe_write, self.frames_read, self.frames_write):
            os.close(fd)

    def test_sends_what_the_pipe_holds_first_then_the_write(self):
        os.write(self.pipe_write, b"from C\n")
        self.assertTrue(self.drain.send_direct(b"from print\n"))
        self.assertEqual(
            read_all(self.frames_read),
            b'{"type":"out","stream":"stdout","data":"from C\\n"}\n'
            b'{"type":"out","stream":"stdout","data":"from print\\n"}\n',
        )
        self.assertEqual(read_all(self.pipe_read), b"")

    def test_a_busy_writer_leaves_the_write_and_the_pipe_alone(self):
        # As when a signal handler prints in the middle of a send on the same thread.
        os.write(self.pipe_write, b"earlier\n")
        with self.writer._lock:
            self.assertFalse(self.drain.send_direct(b"later\n"))
        self.assertEqual(read_all(self.frames_read), b"")
        self.assertEqual(read_all(self.pipe_read), b"earlier\n")

    def test_a_programs_first_writes_are_frames_and_the_rest_go_to_the_pipe(self):
        text = io.TextIOWrapper(cast(io.BufferedWriter, self.stream), encoding="utf-8", write_through=True)
        self.stream.left = 2
        print("one", file=text)  # two writes: "one" and "\n"
        self.assertEqual(
            read_all(self.frames_read),
            b'{"type":"out","stream":"stdout","data":"one"}\n{"type":"out","stream":"stdout","data":"\\n"}\n',
        )
        print("two", file=text)
        self.assertEqual(read_all(self.frames_read), b"")
        self.assertEqual(read_all(self.pipe_read), b"two\n")
        self.assertEqual(self.to_pipe_calls, 2)

    def test_a_write_too_big_for_one_frame_goes_to_the_pipe(self):
        self.stream.left = 2
        big = b"z" * (READ_CHUNK_BYTES + 1)
        threading.Thread(target=self.stream.write, args=(big,)).start()  # the pipe holds less than this
        received = b""
        while len(received) < len(big):
            received += read_all(self.pipe_read)
        self.assertEqual(received, big)
        self.assertEqual(read_all(self.frames_read), b"")

    def test_what_the_pipe_holds_goes_first_in_frames_of_bounded_size(self):
        fcntl.fcntl(self.pipe_write, fcntl.F_SETPIPE_SZ, 4 * READ_CHUNK_BYTES)  # as a program may
        fcntl.fcntl(self.frames_write, fcntl.F_SETPIPE_SZ, 4 * READ_CHUNK_BYTES)
        os.write(self.pipe_write, b"x" * (READ_CHUNK_BYTES + 10))
        self.assertTrue(self.drain.send_direct(b"after\n"))
        frames = [json.loads(line) for line in read_all(self.frames_read).splitlines()]
        self.assertEqual([len(frame["data"]) for frame in frames], [READ_CHUNK_BYTES, 10, 6])

    def test_fileno_is_the_pipe_so_child_processes_write_there(self):
        self.assertEqual(self.stream.fileno(), self.pipe_write)


if __name__ == "__main__":
    unittest.main()
