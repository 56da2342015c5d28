"""CE2P (SSSegmentation layout): sizes, outputs per mode, and the key layout its converter maps onto."""

import pytest
import torch
from parity_recipe import FIXTURES, read_keys

import humanparse
from humanparse.models.ce2p import convert_checkpoint


def _meta_model(name):
    with torch.device("meta"):
        return humanparse.build_model(name)


@pytest.mark.parametrize(
    "name, params, entries",
    [("ce2p_resnet50os8_lip", 48_569_336, 416), ("ce2p_resnet101os8_lip", 67_561_464, 722)],
)
def test_parameter_and_entry_counts(name, params, entries):
    model = _meta_model(name)
    assert sum(p.numel() for p in model.parameters()) == params
    assert len(model.state_dict()) == entries


@pytest.mark.parametrize("name", ["ce2p_resnet50os8_lip", "ce2p_resnet101os8_lip"])
def test_converted_sssegmentation_keys_equal_ours(name):
    model = _meta_model(name)
    ssseg = {key: shape for key, shape, _ in read_keys(FIXTURES / f"{name}_keys.tsv")}
    converted = convert_checkpoint(dict.fromkeys(ssseg))
    ours = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    assert {key: ssseg[old] for key, old in zip(converted, ssseg)} == ours


def test_outputs_by_mode():
    model = humanparse.build_model("ce2p_tiny_synthetic").eval()
    images = torch.randn(2, 3, 65, 49)
    with torch.no_grad():
        outputs = model(images)
    assert set(outputs) == {"seg", "edge"}
    assert outputs["seg"].shape == (2, 20, 17, 13)  # layer1 resolution, not upsampled
    assert outputs["edge"].shape == (2, 2, 17, 13)
    model.train()
    outputs = model(images)
    assert set(outputs) == {"seg", "seg_stage1", "edge"}
    assert outputs["seg_stage1"].shape == (2, 20, 17, 13)
    sum(value.sum() for value in outputs.values()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_output_stride_16_keeps_head_resolution():
    config = humanparse.get_config("ce2p_resnet50os16_atr").override(
        ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]
    )
    model = humanparse.build_model(config).eval()
    with torch.no_grad():
        seg = model(torch.randn(1, 3, 97, 129))["seg"]
    assert seg.shape == (1, 18, 25, 33)
