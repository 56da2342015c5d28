"""Every named config builds (at a tiny width) and runs an eval forward with the output contract."""

import pytest
import torch

import humanparse

TINY = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]


@pytest.mark.parametrize("name", humanparse.list_configs())
def test_every_config_builds_and_runs(name):
    config = humanparse.get_config(name).override(TINY)
    torch.manual_seed(0)
    model = humanparse.build_model(config).eval()
    assert model.config is config
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 65, 65))
    assert isinstance(outputs, dict) and "seg" in outputs
    seg = outputs["seg"]
    assert seg.shape[:2] == (1, config.model.num_classes)
    assert all(16 <= side <= 18 for side in seg.shape[2:]), seg.shape  # about 1/4 of 65
    assert torch.isfinite(seg).all()


@pytest.mark.parametrize("depth, params", [(50, 48_569_336), (101, 67_561_464)])
def test_full_size_ce2p_parameter_count(depth, params):
    with torch.device("meta"):
        model = humanparse.build_model(f"ce2p_resnet{depth}os8_lip")
    assert sum(p.numel() for p in model.parameters()) == params
