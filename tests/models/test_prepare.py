"""BatchNorm folding and channels_last leave every network's outputs unchanged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from humanparse.configs import get_config
from humanparse.models.builder import build_model
from humanparse.models.layers import PyramidConv2d
from humanparse.models.prepare import (
    WinogradConv2d,
    autocast,
    count_batchnorms,
    find_conv_bn_pairs,
    fold_batchnorm,
    prepare_for_inference,
    to_input,
    use_winograd,
    winograd_available,
    winograd_conv2d,
)

TINY = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]


def _randomise_norms(model: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=generator) - 0.5)


@pytest.mark.parametrize(
    "name, bound",
    [
        ("schp_resnet101_lip", 1e-5),
        ("cdgnet_resnet101_lip", 1e-5),
        # CSENet's flow warps amplify float32 rounding (see tests/fixtures/parity/README.md)
        ("csenet_resnet101_lip", 2e-3),
    ],
)
def test_prepared_network_gives_the_same_outputs(name, bound):
    torch.manual_seed(0)
    model = build_model(get_config(name).override(TINY)).eval()
    _randomise_norms(model)
    images = torch.randn(1, 3, 97, 81)
    with torch.no_grad():
        expected = model(images)
    prepared = prepare_for_inference(model, torch.randn(1, 3, 65, 65))
    assert count_batchnorms(prepared) == 0
    assert count_batchnorms(model) > 0, "the original model must be left as it was"
    with torch.inference_mode():
        actual = prepared(to_input(images))
    assert actual.keys() == expected.keys()
    for key in expected:
        error = (actual[key].float() - expected[key]).norm() / expected[key].norm()
        assert error < bound, (key, float(error))


class _NormAfterSum(nn.Module):
    """A norm reading a sum, and a conv whose output also feeds a skip: neither may be folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(3, 4, 3, padding=1)
        self.conv_b = nn.Conv2d(3, 4, 3, padding=1)
        self.norm_sum = nn.BatchNorm2d(4)
        self.conv_c = nn.Conv2d(4, 4, 1)
        self.norm_c = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm_sum(self.conv_a(x) + self.conv_b(x))
        return self.norm_c(self.conv_c(y))


def test_only_a_norm_reading_a_conv_output_is_folded():
    model = _NormAfterSum().eval()
    _randomise_norms(model)
    x = torch.randn(2, 3, 8, 8)
    assert find_conv_bn_pairs(model, x) == [("conv_c", "norm_c")]
    expected = model(x)
    assert fold_batchnorm(model, x) == 1
    assert isinstance(model.norm_c, nn.Identity) and isinstance(model.norm_sum, nn.BatchNorm2d)
    torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)


def test_folding_refuses_a_training_model():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(_NormAfterSum().train(), torch.randn(1, 3, 8, 8))


def test_autocast_names_the_precisions():
    with autocast("cpu", "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with autocast("cpu", "bf16"):
        assert torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="precision"):
        autocast("cpu", "int8")


@pytest.mark.skipif(not winograd_available(), reason="NNPACK is not built into this torch")
def test_winograd_convolutions_match_the_ordinary_ones():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 8, 3, padding=1)).eval()
    keys = list(model.state_dict())
    x = torch.randn(2, 64, 61, 60)
    with torch.no_grad():
        expected = model(x)
    assert use_winograd(model) == 1  # the 8-channel conv is too narrow to gain
    assert isinstance(model[0], WinogradConv2d) and type(model[2]) is nn.Conv2d
    assert list(model.state_dict()) == keys
    with torch.inference_mode():
        actual = model(x)
    assert float((actual - expected).norm() / expected.norm()) < 1e-5
    # with autograd on, the ordinary convolution runs (NNPACK has no backward here)
    x.requires_grad_(True)
    model(x).sum().backward()
    assert x.grad is not None


@pytest.mark.skipif(not winograd_available(), reason="NNPACK is not built into this torch")
def test_winograd_reaches_the_full_resolution_part_of_a_pyramid_conv():
    torch.manual_seed(0)
    conv = PyramidConv2d(64 + 2 * 8, 64, 3, padding=1).eval()
    parts = [torch.randn(1, 64, 61, 60), torch.randn(1, 8, 1, 1), torch.randn(1, 8, 6, 6)]
    with torch.no_grad():
        expected = conv(parts, size=(61, 60))
    calls = []

    def spy(*args):
        calls.append(args[0].shape)
        return winograd_conv2d(*args)

    assert use_winograd(conv) == 1
    assert conv.full_resolution_conv is winograd_conv2d
    conv.full_resolution_conv = spy
    with torch.inference_mode():
        actual = conv(parts, size=(61, 60))
    assert calls == [torch.Size([1, 64, 61, 60])]  # only the full-resolution part, never the pooled ones
    assert float((actual - expected).norm() / expected.norm()) < 1e-5
