#!/usr/bin/env bash
# Lints the Python that runs inside the sandbox. flake8 comes from Debian (apt-get install flake8);
# where it is missing the check says so and passes, except under CI, which installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v flake8 >/dev/null 2>&1; then
  exec flake8 runtime/python test/python
elif python3 -m flake8 --version >/dev/null 2>&1; then
  exec python3 -m flake8 runtime/python test/python
elif [ "${CI:-}" = "true" ]; then
  echo "lint-python: flake8 is not installed (apt-get install flake8)" >&2
  exit 1
else
  echo "lint-python: flake8 is not installed; the Python runtime was not linted (apt-get install flake8)" >&2
fi
