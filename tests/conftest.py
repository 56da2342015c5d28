"""Puts tests/ on sys.path so test modules can share helpers such as parity_recipe, and keeps the model cache
of every test private and their CPU kernels fixed."""

import ctypes
import gc
import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)


@pytest.fixture(autouse=True, scope="session")
def _pinned_session(tmp_path_factory):
    """The same pins and private cache as `_private_model_cache`, for the module- and session-wide fixtures,
    which are built before any per-test fixture runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUMANPARSE_CACHE", str(tmp_path_factory.mktemp("humanparse_session_cache")))
        patch.setenv("HUMANPARSE_KERNELS", "onednn")
        patch.setenv("HUMANPARSE_FILE_RUNTIME", "onnxruntime")
        yield


@pytest.fixture(autouse=True)
def _private_model_cache(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's model cache or mirror: the zoo's folder is a fresh temporary one."""
    monkeypatch.setenv("HUMANPARSE_CACHE", str(tmp_path_factory.mktemp("humanparse_cache")))
    monkeypatch.delenv("HUMANPARSE_MODEL_MIRROR", raising=False)
    # a measured kernel choice depends on timing, so outputs could vary between runs; the tests pin oneDNN
    # (the choice itself is tested in tests/models/test_kernel_choice.py, which clears this)
    monkeypatch.setenv("HUMANPARSE_KERNELS", "onednn")
    # likewise a float ONNX file's runtime (tested in tests/inference/test_auto_runtime.py, which clears this)
    monkeypatch.setenv("HUMANPARSE_FILE_RUNTIME", "onnxruntime")
    # the licence notice is shown once per process: each test starts with none shown
    monkeypatch.setattr("humanparse.zoo.licences._noticed", set())


class _SignalStack(ctypes.Structure):
    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


@pytest.fixture(scope="module", autouse=True)
def _keep_the_signal_stack():
    """Give the test process back its alternate signal stack after a module's OpenVINO models are gone.

    OpenVINO's CPU plugin installs its own alternate signal stack for each compiled model and puts the previous
    one back when the model is destroyed; several models destroyed out of creation order leave a freed stack
    installed, and the next signal handled on it (a child's SIGCHLD) kills the whole test process. A command
    builds one model, so only a process holding several (the test process) needs this.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    before = _SignalStack()
    libc.sigaltstack(None, ctypes.byref(before))
    yield
    gc.collect()
    libc.sigaltstack(ctypes.byref(before), None)
