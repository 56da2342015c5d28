"""`load_for_inference` skips the random initialisation that the weights replace: same network, same outputs."""

from __future__ import annotations

import pytest
import torch

from humanparse.configs import get_config
from humanparse.models.builder import build_model
from humanparse.models.checkpoint_io import checkpoint_dict
from humanparse.models.weights import build_uninitialised, load_for_inference

TINY = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]


@pytest.mark.parametrize(
    "name",
    ["ce2p_resnet50os8_lip", "ce2p_official_resnet101_lip", "schp_resnet101_lip", "csenet_resnet101_lip"],
)
def test_a_network_loaded_for_inference_equals_the_built_one(name, tmp_path):
    config = get_config(name).override(TINY)
    torch.manual_seed(0)
    built = build_model(config).eval()
    torch.save(checkpoint_dict(built, config), tmp_path / "weights.pth")
    loaded = load_for_inference(config, tmp_path / "weights.pth")
    assert not any(tensor.is_meta for tensor in [*loaded.parameters(), *loaded.buffers()])
    images = torch.randn(1, 3, 65, 57)
    with torch.no_grad():
        expected, actual = built(images), loaded(images)
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


def test_the_uninitialised_build_has_the_same_entries_and_zeroed_counters():
    config = get_config("ce2p_tiny_synthetic")
    model = build_uninitialised(config)
    assert list(model.state_dict()) == list(build_model(config).state_dict())
    counters = [buffer for name, buffer in model.named_buffers() if name.endswith("num_batches_tracked")]
    assert counters and all(int(counter) == 0 for counter in counters)
