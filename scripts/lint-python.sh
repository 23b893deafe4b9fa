#!/usr/bin/env bash
# Lints and type-checks the Python that runs inside the sandbox (runtime/python) and its unit tests
# (test/python). flake8 comes from Debian (apt-get install flake8); where it is missing the lint says
# so and passes, except under CI, which installs it. basedpyright is a devDependency: it always runs,
# with the settings in pyrightconfig.json (strict on the runtime, standard on the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v flake8 >/dev/null 2>&1; then
  flake8 runtime/python test/python
elif python3 -m flake8 --version >/dev/null 2>&1; then
  python3 -m flake8 runtime/python test/python
elif [ "${CI:-}" = "true" ]; then
  echo "lint-python: flake8 is not installed (apt-get install flake8)" >&2
  exit 1
else
  echo "lint-python: flake8 is not installed; the Python runtime was not linted (apt-get install flake8)" >&2
fi

basedpyright=node_modules/.bin/basedpyright
# Against the container image's Python (pyrightconfig.json: 3.11), then the runtime alone against
# Pyodide's, read from the pyodide package, so that neither sandbox meets a module or call it lacks.
"$basedpyright" --project pyrightconfig.json
pyodide_python=$(node -p 'require("pyodide/pyodide-lock.json").info.python.split(".").slice(0, 2).join(".")')
"$basedpyright" --project pyrightconfig.json --pythonversion "$pyodide_python" runtime/python
