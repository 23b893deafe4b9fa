"""Container entry point: `python3 -I -B /opt/codemode/entry.py`.

`-I` keeps the script directory off sys.path, so the runtime adds its own directory explicitly.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from codemode_runtime.container_main import main  # noqa: E402

main()
