"""The container runtime ends when the host's end of its channel closes, even when the program never reads it."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

from helpers import RUNTIME

# A runtime stand-in: the watcher on one end of a socket pair (or a pipe), then a program that
# never reads it.
PROGRAM = """
import os, sys, time
sys.path.insert(0, %r)
from codemode_runtime.lifeline import watch_host
os.waitpid(watch_host(int(sys.argv[1])), 0)
print("watching", flush=True)
%s
"""


class HostWatchTests(unittest.TestCase):
    def start(self, fd, busy):
        child = subprocess.Popen(
            [sys.executable, "-c", PROGRAM % (os.path.abspath(RUNTIME), busy), str(fd)],
            pass_fds=(fd,),
            stdout=subprocess.PIPE,
        )
        self.addCleanup(lambda: child.poll() is None and child.kill())
        self.assertEqual(child.stdout.readline(), b"watching\n")
        return child

    def assertEndsWithin(self, child, seconds):
        deadline = time.monotonic() + seconds
        while child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(child.poll(), -signal.SIGKILL)

    def test_a_busy_program_ends_when_the_host_closes_the_socket(self):
        host, sandbox = socket.socketpair()
        child = self.start(sandbox.fileno(), "while True:\n    pass")
        sandbox.close()
        host.sendall(b'{"type":"rpc_result","id":1,"ok":true,"value":1}\n')
        time.sleep(0.3)
        self.assertIsNone(child.poll(), "data on the channel is not a hang-up")
        host.close()
        self.assertEndsWithin(child, 5)

    def test_a_sleeping_program_ends_when_the_host_half_closes_the_socket(self):
        host, sandbox = socket.socketpair()
        child = self.start(sandbox.fileno(), "time.sleep(1e9)")
        sandbox.close()
        host.shutdown(socket.SHUT_WR)
        self.assertEndsWithin(child, 5)
        host.close()

    def test_a_program_on_stdio_ends_when_the_host_closes_the_pipe(self):
        read_end, write_end = os.pipe()
        child = self.start(read_end, "time.sleep(1e9)")
        os.close(read_end)
        os.close(write_end)
        self.assertEndsWithin(child, 5)


if __name__ == "__main__":
    unittest.main()
