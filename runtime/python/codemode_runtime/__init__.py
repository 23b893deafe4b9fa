"""The code-mode runtime that runs inside every sandbox (container and embedded alike).

Host code never imports this package; it is mounted read-only into the sandbox.
"""
