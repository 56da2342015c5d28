"""The auto runtime: a float ONNX file runs on ONNX Runtime or OpenVINO as timed (here by a stand-in timing) and
the decision is cached per file; int8 files, IRs and checkpoints go where they belong; the same labels either
way. Timings themselves are never asserted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eval_fixtures import RESIZE_RECIPE, save_checkpoint, tiny_config, tiny_model

from humanparse.errors import ConfigError
from humanparse.inference.backends import create_network
from humanparse.inference.runtimes import auto_runtime

pytest.importorskip("onnxruntime")
pytest.importorskip("openvino")


@pytest.fixture
def onnx_file(tmp_path):
    from humanparse.deploy.export import export_onnx

    config = tiny_config(RESIZE_RECIPE)
    return export_onnx(tiny_model(config), tmp_path / "tiny.onnx", (64, 64), dynamic=True, config=config)


@pytest.fixture
def measured(monkeypatch):
    monkeypatch.delenv("HUMANPARSE_FILE_RUNTIME", raising=False)


def _timing(winner: str, calls: list):
    def timed(forwards, input_shape, rounds=3):
        calls.append(sorted(forwards))
        return {name: (0.01 if name == winner else 0.02) for name in forwards}

    return timed


@pytest.mark.parametrize("winner", ["openvino", "onnxruntime"])
def test_a_float_file_runs_where_it_was_timed_faster_and_the_decision_is_kept(
    onnx_file, measured, monkeypatch, winner
):
    calls: list = []
    monkeypatch.setattr(auto_runtime, "time_engines", _timing(winner, calls))
    loaded = []
    for name in ("onnxruntime_forward", "openvino_forward"):
        real = getattr(auto_runtime, name)
        monkeypatch.setattr(
            auto_runtime, name, lambda *a, _real=real, _name=name, **k: loaded.append(_name) or _real(*a, **k)
        )
    first = create_network(None, onnx_file, backend="auto")
    assert calls == [["onnxruntime", "openvino"]] and sorted(loaded) == [
        "onnxruntime_forward",
        "openvino_forward",
    ]
    loaded.clear()
    again = create_network(None, onnx_file, backend="auto")  # cached: one runtime loaded, nothing timed
    assert calls == [["onnxruntime", "openvino"]] and loaded == [f"{winner}_forward"]
    image = torch.rand(1, 3, 64, 64)
    assert torch.allclose(first.forward(image), again.forward(image), rtol=1e-4, atol=1e-4)


def test_both_runtimes_give_the_same_labels(onnx_file):
    image = torch.rand(2, 3, 72, 56)
    ours = {
        name: create_network(None, onnx_file, backend=name).forward(image)
        for name in ("onnxruntime", "openvino")
    }
    assert float((ours["openvino"] - ours["onnxruntime"]).norm() / ours["onnxruntime"].norm()) < 1e-4
    labels = [logits.argmax(1).numpy() for logits in ours.values()]
    assert np.mean(labels[0] == labels[1]) >= 0.999


def test_an_int8_file_stays_on_onnx_runtime_untimed(onnx_file, measured, monkeypatch):
    calls: list = []
    monkeypatch.setattr(auto_runtime, "time_engines", _timing("openvino", calls))
    import humanparse.inference.metadata as metadata

    real = metadata.read_metadata
    monkeypatch.setattr(
        metadata, "read_metadata", lambda path: {**real(path), "humanparse.precision": "int8"}
    )
    create_network(None, onnx_file, backend="auto")
    assert calls == []


def test_the_environment_forces_a_runtime_and_a_bad_value_is_one_line(onnx_file, monkeypatch):
    calls: list = []
    monkeypatch.setattr(auto_runtime, "time_engines", _timing("openvino", calls))
    monkeypatch.setenv("HUMANPARSE_FILE_RUNTIME", "openvino")
    create_network(None, onnx_file, backend="auto")
    assert calls == []
    monkeypatch.setenv("HUMANPARSE_FILE_RUNTIME", "tensorrt")
    with pytest.raises(
        ConfigError, match="HUMANPARSE_FILE_RUNTIME='tensorrt': choose one of auto, onnxruntime"
    ):
        create_network(None, onnx_file, backend="auto")


def test_a_checkpoint_on_auto_is_the_torch_network(tmp_path):
    config = tiny_config(RESIZE_RECIPE)
    weights = save_checkpoint(config, tmp_path / "w.pth")
    network = create_network(config, weights, backend="auto")
    assert network.model is not None and network.kernels is not None


def test_kernels_on_a_model_file_is_one_line(onnx_file):
    from humanparse.inference.backends import create_predictor

    with pytest.raises(ConfigError, match="--kernels onednn applies to torch networks"):
        create_predictor(None, onnx_file, backend="auto", kernels="onednn")
