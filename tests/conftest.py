"""Puts tests/ on sys.path so test modules can share helpers such as parity_recipe, and keeps the model cache
of every test private and their CPU kernels fixed."""

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(autouse=True)
def _private_model_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's model cache or mirror: the zoo's folder is a fresh temporary one."""
    monkeypatch.setenv("HUMANPARSE_CACHE", str(tmp_path_factory.mktemp("humanparse_cache")))
    monkeypatch.delenv("HUMANPARSE_MODEL_MIRROR", raising=False)
    # a measured kernel choice depends on timing, so outputs could vary between runs; the tests pin oneDNN
    # (the choice itself is tested in tests/models/test_kernel_choice.py, which clears this)
    monkeypatch.setenv("HUMANPARSE_KERNELS", "onednn")
