"""The one factory of the forward function: runtimes registered by module, the device checked once, the
network shared by a Predictor's test-time variants, and nothing patched from outside."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from eval_fixtures import RESIZE_RECIPE, save_checkpoint, tiny_config, tiny_model

from humanparse.errors import ConfigError
from humanparse.inference.predictor import Predictor
from humanparse.inference.runtimes import ModelSpec, backends, build_network


def test_the_runtimes_register_themselves_torch_first():
    from humanparse.cli.options import BACKENDS

    assert backends() == ("torch", "onnxruntime", "openvino", "auto") == BACKENDS
    with pytest.raises(
        ConfigError, match="unknown backend 'tpu'; choose from torch, onnxruntime, openvino, auto"
    ):
        build_network(ModelSpec(tiny_config(RESIZE_RECIPE)), "tpu")


def test_the_torch_runtime_names_its_weights_and_checks_the_device_once(tmp_path, monkeypatch):
    config = tiny_config(RESIZE_RECIPE)
    weights = save_checkpoint(config, tmp_path / "w.pth")
    calls = []
    import humanparse.inference.runtimes.torch_runtime as torch_runtime

    real = torch_runtime.resolve_device
    monkeypatch.setattr(torch_runtime, "resolve_device", lambda name: calls.append(name) or real(name))
    network = build_network(ModelSpec(config, weights), "torch", "cpu")
    assert calls == ["cpu"] and network.device == torch.device("cpu") and network.source == str(weights)
    build_network(ModelSpec(config, weights), "torch", torch.device("cpu"))  # already checked: not again
    assert calls == ["cpu"]
    predictor = Predictor(config, network=network)
    assert predictor.tta.source == str(weights) and predictor.model is network.model


def test_a_given_model_is_copied_not_changed():
    config = tiny_config(RESIZE_RECIPE)
    model = tiny_model(config)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    network = build_network(ModelSpec(config, model=model))
    assert network.model is not model and network.source == "the model"
    assert all(torch.equal(before[key], value) for key, value in model.state_dict().items())


def test_variants_share_the_network_and_match_a_fresh_predictor():
    config = tiny_config(RESIZE_RECIPE)
    model = tiny_model(config)
    base = Predictor(config, model=model)
    variant = base.with_tta(scales=[0.75, 1.25], flip=True)
    assert variant.network is base.network and variant.tta.scales == [0.75, 1.25] and variant.tta.flip
    image = np.random.default_rng(0).integers(0, 255, (50, 40, 3), dtype=np.uint8)
    fresh = Predictor(config, model=model, scales=[0.75, 1.25], flip=True)
    np.testing.assert_array_equal(variant(image), fresh(image))


def test_model_files_refuse_a_precision_of_their_own(tmp_path):
    with pytest.raises(ConfigError, match="--precision bf16 applies to --backend torch"):
        build_network(
            ModelSpec(tiny_config(RESIZE_RECIPE), tmp_path / "m.onnx"), "onnxruntime", "cpu", "bf16"
        )
