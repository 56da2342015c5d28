"""Puts tests/ on sys.path so test modules can share helpers such as parity_recipe; keeps the kernel-choice cache
of the tests out of the user's."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

# kernel choices measured by tests go to a throw-away cache, never the user's (~/.cache/humanparse); subprocesses
# (CLI tests) inherit it
if "HUMANPARSE_CACHE_DIR" not in os.environ:
    os.environ["HUMANPARSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="humanparse-test-cache-")
    atexit.register(shutil.rmtree, os.environ["HUMANPARSE_CACHE_DIR"], ignore_errors=True)
