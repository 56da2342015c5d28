"""`humanparse serve`: options reach the app and uvicorn (loopback by default); bad limits exit 2."""

from __future__ import annotations

import pytest
from serve_fixtures import RECIPE, require

require("fastapi", "uvicorn")
from humanparse.cli import main as cli_main  # noqa: E402
from humanparse.serve.app import default_request_threads  # noqa: E402


def test_serve_binds_loopback_and_passes_its_limits(tiny_checkpoint, monkeypatch):
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(app=app, **kwargs))
    monkeypatch.delenv("HUMANPARSE_API_KEY", raising=False)
    argv = ["serve", RECIPE, str(tiny_checkpoint), "--max-batch", "3", "--max-queue", "5", "--api-key", "k"]
    assert cli_main(argv + ["--max-upload-mb", "2", "--flip", "--port", "8123"]) == 0
    assert (started["host"], started["port"]) == ("127.0.0.1", 8123)
    state = started["app"].state
    assert (state.batcher.max_batch, state.batcher.max_queue) == (3, 5)
    assert state.service.predictor.tta.flip is True
    assert state.service.model_info()["name"] == RECIPE
    assert state.request_threads == default_request_threads("cpu")


def test_request_threads_leave_the_model_its_cores(tiny_checkpoint, monkeypatch):
    import os

    import torch
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.update(app=app))
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 6)
    assert (default_request_threads("cpu"), default_request_threads("cuda:0")) == (2, 8)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    assert default_request_threads("cpu") == 1  # never none
    assert cli_main(["serve", RECIPE, str(tiny_checkpoint), "--request-threads", "3"]) == 0
    assert started["app"].state.request_threads == 3


@pytest.mark.parametrize(
    "option",
    [["--max-batch", "0"], ["--max-queue", "0"], ["--max-pixels", "0"], ["--request-threads", "0"]],
)
def test_bad_limits_exit_2_with_a_message(tiny_checkpoint, option, capsys):
    assert cli_main(["serve", RECIPE, str(tiny_checkpoint), *option]) == 2
    assert option[0] in capsys.readouterr().err


_TORCH_IMPORT_WATCH = """
import os, sys
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not seen:
            seen.append(os.environ.get("OMP_WAIT_POLICY"))
sys.meta_path.insert(0, Watch())
import uvicorn
uvicorn.run = lambda app, **kwargs: None
from humanparse.cli import main
assert main(["serve", sys.argv[1], sys.argv[2]]) == 0
print("OMP_WAIT_POLICY when torch loaded:", seen[0])
"""


def test_serve_lets_idle_openmp_threads_sleep_before_torch_loads(tiny_checkpoint):
    import os
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    result = subprocess.run(
        [sys.executable, "-c", _TORCH_IMPORT_WATCH, RECIPE, str(tiny_checkpoint)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "OMP_WAIT_POLICY when torch loaded: PASSIVE" in result.stdout


def test_serve_keeps_a_wait_policy_the_user_set(tiny_checkpoint, monkeypatch):
    import os

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: None)
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert cli_main(["serve", RECIPE, str(tiny_checkpoint)]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
