"""Container entry point: `python3 -I -B /opt/codemode/entry.py`.

`-I` keeps the script directory off sys.path, so the runtime adds its own directory explicitly.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# The channel and its watcher first, while the interpreter holds next to nothing (lifeline.py).
from codemode_runtime.lifeline import open_channel, watch_host  # noqa: E402

channel = open_channel(sys.argv[1:])
forked = watch_host(channel[0])

from codemode_runtime.container_main import main  # noqa: E402

main(channel, forked)
