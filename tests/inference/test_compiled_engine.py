"""The whole-network engine choice of the torch runtime: OpenVINO's compiled network or PyTorch's kernels,
decided by timing (here: by a stand-in timing), cached with the converted network, and the same labels either
way. Timings themselves are never asserted."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from eval_fixtures import RESIZE_RECIPE, save_checkpoint, tiny_config, write_photos

from humanparse.errors import ConfigError
from humanparse.inference.predictor import Predictor
from humanparse.inference.runtimes import ModelSpec, build_network, torch_runtime
from humanparse.inference.runtimes import compiled as compiled_module

pytest.importorskip("openvino")


@pytest.fixture
def weights(tmp_path):
    return save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path / "w.pth")


@pytest.fixture
def auto(monkeypatch):
    monkeypatch.delenv("HUMANPARSE_KERNELS", raising=False)


def _timing(winner: str):
    """A stand-in for `time_engines` in which `winner` is twice as fast."""

    def timed(forwards, input_shape, rounds=3):
        return {name: (0.01 if name == winner else 0.02) for name in forwards}

    return timed


def _network(weights, kernels=None, precision="fp32"):
    return build_network(
        ModelSpec(tiny_config(RESIZE_RECIPE), weights, kernels=kernels), "torch", "cpu", precision
    )


def test_the_compiled_network_computes_what_pytorch_computes(weights, tmp_path):
    config = tiny_config(RESIZE_RECIPE)
    compiled = _network(weights, "openvino")
    reference = _network(weights, "onednn")
    assert compiled.model is None and compiled.kernels.engine == "openvino"
    assert "forced by --kernels=openvino" in compiled.kernels.describe()
    assert reference.kernels.engine == "torch"
    images = torch.rand(2, 3, 64, 48)  # another batch and size than the one converted: the IR is dynamic
    with torch.inference_mode():
        ours, theirs = compiled.forward(images), reference.forward(images)
    assert ours.shape == theirs.shape
    assert float((ours - theirs).norm() / theirs.norm()) < 1e-4
    photos = write_photos(
        tmp_path / "photos", {"a.png": (70, 50), "b.png": (40, 64), "c.png": (64, 64)}, seed=3
    )
    for path in sorted(photos.iterdir()):
        labels = [Predictor(config, network=net).predict_batch([path])[0][0] for net in (compiled, reference)]
        assert np.mean(labels[0] == labels[1]) >= 0.999


def test_auto_measures_once_then_runs_the_cached_ir_without_loading_the_checkpoint(
    weights, auto, monkeypatch
):
    monkeypatch.setattr(compiled_module, "time_engines", _timing("openvino"))
    first = _network(weights)
    assert first.model is None and first.kernels.source == "measured"
    assert "OpenVINO kept: 10 ms OpenVINO vs 20 ms PyTorch" in first.kernels.describe()

    def never(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded, or the engines timed again")

    monkeypatch.setattr(torch_runtime, "load_for_inference", never)
    monkeypatch.setattr(compiled_module, "time_engines", never)
    again = _network(weights)
    assert again.model is None and again.kernels.source == "cache" and "network.xml" in again.kernels.reason
    image = torch.rand(1, 3, 64, 64)
    assert torch.equal(first.forward(image), again.forward(image))


def test_auto_keeps_pytorch_where_it_is_faster_and_converts_nothing_the_next_time(weights, auto, monkeypatch):
    monkeypatch.setattr(compiled_module, "time_engines", _timing("torch"))
    first = _network(weights)
    assert first.model is not None and first.kernels.engine == "torch"
    assert "PyTorch kept: 20 ms OpenVINO vs 10 ms PyTorch" in first.kernels.describe()

    def never(*args, **kwargs):
        raise AssertionError("converted although PyTorch was decided")

    monkeypatch.setattr(compiled_module, "convert", never)
    again = _network(weights)
    assert again.model is not None and "cache: PyTorch kept" in again.kernels.describe()


def test_a_changed_checkpoint_is_converted_again_and_the_old_ir_removed(weights, tmp_path, monkeypatch):
    from humanparse.cache import cache_dir

    _network(weights, "openvino")
    before = sorted(path.name for path in cache_dir("compiled").iterdir())
    save_checkpoint(tiny_config(RESIZE_RECIPE), weights, seed=1)  # retrained: other weights, same path
    changed = _network(weights, "openvino")
    after = sorted(path.name for path in cache_dir("compiled").iterdir())
    assert len(before) == len(after) == 1 and before != after
    reference = _network(weights, "onednn")  # the new weights, not the cached old ones
    image = torch.rand(1, 3, 64, 64)
    expected = reference.forward(image)
    assert float((changed.forward(image) - expected).norm() / expected.norm()) < 1e-4


def test_a_network_openvino_cannot_convert_stays_on_pytorch(weights, auto, monkeypatch, caplog):
    def fails(*args, **kwargs):
        raise RuntimeError("unsupported operation aten::weird\ndetails")

    monkeypatch.setattr(compiled_module, "convert", fails)
    with caplog.at_level(logging.WARNING):
        network = _network(weights)
    assert network.model is not None and network.kernels.engine == "torch"
    assert (
        "OpenVINO cannot convert the network, PyTorch runs it: unsupported operation aten::weird"
        in caplog.text
    )


def test_the_environment_forces_the_engine_and_a_bad_value_is_one_line(weights, monkeypatch):
    monkeypatch.setenv("HUMANPARSE_KERNELS", "openvino")
    assert _network(weights).kernels.engine == "openvino"
    monkeypatch.setenv("HUMANPARSE_KERNELS", "tpu")
    with pytest.raises(
        ConfigError, match="HUMANPARSE_KERNELS='tpu': choose one of auto, winograd, onednn, openvino"
    ):
        _network(weights)


def test_bf16_compiles_only_where_the_cpu_has_it(weights, auto, monkeypatch):
    monkeypatch.setattr(compiled_module, "cpu_bf16_support", lambda: (False, "no bf16"))
    assert not compiled_module.engine_candidate("auto", "bf16", torch.device("cpu"))
    assert compiled_module.engine_candidate("auto", "fp32", torch.device("cpu"))
    assert not compiled_module.engine_candidate("onednn", "fp32", torch.device("cpu"))
    assert not compiled_module.engine_candidate("auto", "fp32", torch.device("meta"))
    monkeypatch.setattr(compiled_module, "cpu_bf16_support", lambda: (True, "amx"))
    assert compiled_module.engine_candidate("auto", "bf16", torch.device("cpu"))


def test_a_given_module_stays_on_pytorch_unless_forced(auto, monkeypatch):
    from eval_fixtures import tiny_model

    config = tiny_config(RESIZE_RECIPE)

    def never(*args, **kwargs):
        raise AssertionError("a given module was converted (training's validation would pay it every epoch)")

    monkeypatch.setattr(compiled_module, "convert", never)
    network = build_network(ModelSpec(config, model=tiny_model(config)), "torch", "cpu")
    assert network.model is not None and network.kernels.engine == "torch"


def test_forcing_openvino_without_it_installed_is_one_line(weights, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now raises ImportError
    with pytest.raises(
        ConfigError, match=r"--kernels openvino needs openvino: pip install 'humanparse\[openvino\]'"
    ):
        _network(weights, "openvino")


def test_only_the_most_recently_used_irs_are_kept(tmp_path, monkeypatch):
    import json
    import os

    from humanparse.cache import cache_dir

    root = cache_dir("compiled")
    weights = []
    for index in range(4):
        path = tmp_path / f"w{index}.pth"
        path.write_bytes(b"x" * (index + 1))
        stat = path.stat()
        folder = root / f"ir{index}"
        folder.mkdir(parents=True)
        identity = {"weights": str(path), "size": str(stat.st_size), "modified_ns": str(stat.st_mtime_ns)}
        (folder / "identity.json").write_text(json.dumps(identity))
        os.utime(folder / "identity.json", (1000 + index, 1000 + index))  # ir3 used last
        weights.append(path)
    weights[0].unlink()  # ir0: its weights are gone
    assert compiled_module.remove_stale_irs(root, keep=2) == 2
    assert sorted(path.name for path in root.iterdir()) == ["ir2", "ir3"]
