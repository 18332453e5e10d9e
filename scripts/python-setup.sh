#!/usr/bin/env bash
# Sets up the Python servers (python-asyncio, python-uvloop, python-threads): a virtual environment
# at .venv/ with the pinned packages of python/requirements.txt. Run it once from anywhere in the
# checkout; run it again after requirements.txt changes. loadgen and echo-server find .venv/ by
# themselves (ECHO_BENCH_PYTHON=/path/to/python overrides it).
#
#   PYTHON=python3.12 scripts/python-setup.sh   # pick the interpreter (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null; then
    echo "python-setup.sh: '$python' not found; install Python 3.11 or newer, or set PYTHON" >&2
    exit 1
fi
# asyncio.to_thread needs 3.9; uvloop.run and the pinned packages need 3.8+; 3.11 is what the
# README's figures were measured with.
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
    echo "python-setup.sh: $("$python" --version 2>&1) is too old; need Python 3.9 or newer" >&2
    exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r python/requirements.txt
.venv/bin/python -c 'import uvloop, aiofiles, aiosqlite' 
echo "Python servers ready: $(.venv/bin/python --version) in .venv/ (uvloop, aiofiles, aiosqlite)"
