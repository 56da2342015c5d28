"""Kernels chosen by measurement (`humanparse.models.prepare.autotune`): every choice gives the same labels, the
choice round-trips through the cache, and a forced choice is honoured. Timings are never asserted."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from humanparse.configs import get_config
from humanparse.errors import ConfigError
from humanparse.models.builder import build_model
from humanparse.models.layers import PyramidConv2d, conv2d_stride1
from humanparse.models.prepare import (
    KERNELS_ENV,
    KernelChoice,
    WinogradConv2d,
    choose_kernels,
    fold_batchnorm,
    prepare_with_choice,
    resolve_kernel_mode,
    to_input,
    winograd_available,
)
from humanparse.models.prepare.autotune import cache_identity, cache_path, conv_shapes, eligible_layers

TINY = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]
needs_nnpack = pytest.mark.skipif(not winograd_available(), reason="NNPACK is not built into this torch")


class _Wide(nn.Module):
    """Two Winograd-eligible convolutions (one a PyramidConv2d given parts), a narrow one and a head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, padding=1)
        self.wide = nn.Conv2d(64, 64, 3, padding=1)
        self.norm = nn.BatchNorm2d(64)
        self.pyramid = PyramidConv2d(64 + 8, 64, 3, padding=1)
        self.pool_conv = nn.Conv2d(64, 8, 1)
        self.head = nn.Conv2d(64, 5, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        x = torch.relu(self.norm(self.wide(x)))
        pooled = self.pool_conv(nn.functional.adaptive_avg_pool2d(x, 2))
        x = torch.relu(self.pyramid([x, pooled], size=x.shape[-2:]))
        return self.head(x)


def _model() -> nn.Module:
    torch.manual_seed(0)
    model = _Wide().eval()
    with torch.no_grad():
        model.norm.running_mean.uniform_(-0.2, 0.2)
        model.norm.running_var.uniform_(0.5, 1.5)
    return model


SHAPE = (1, 3, 64, 64)  # 64x64 >= WINOGRAD_MIN_PIXELS


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMANPARSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(KERNELS_ENV, raising=False)


def test_the_convolutions_are_found_without_arithmetic():
    found = conv_shapes(_model(), SHAPE)
    shapes = {layer: shape for shape in found for layer in shape.layers}
    assert set(shapes) == {"stem", "wide", "pyramid", "pool_conv", "head"}
    assert len(found) == 4 and shapes["wide"] is shapes["pyramid"]  # equal convolutions are timed once
    assert shapes["wide"].winograd and shapes["pyramid"].winograd and not shapes["stem"].winograd
    # the PyramidConv2d's recorded call is its full-resolution part: 64 of its 72 input channels
    assert shapes["pyramid"].weight_shape == (64, 64, 3, 3) and shapes["pyramid"].input_shape == (
        1,
        64,
        64,
        64,
    )
    assert eligible_layers(_model()) == ["wide", "pyramid"]


@pytest.mark.parametrize(
    "kernels, channels_last",
    [("onednn", True), ("onednn", False), ("winograd", True), ("winograd", False), ("auto", None)],
)
def test_every_kernel_choice_gives_the_same_labels(kernels, channels_last):
    model = _model()
    images = torch.randn(2, *SHAPE[1:], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(images)
    prepared, choice = prepare_with_choice(
        model, images[:1], kernels=kernels, input_shape=SHAPE, channels_last=channels_last
    )
    with torch.inference_mode():
        actual = prepared(to_input(images, choice.channels_last))
    assert torch.equal(actual.argmax(1), expected.argmax(1))
    assert float((actual - expected).norm() / expected.norm()) < 1e-5
    if kernels == "winograd" and winograd_available():
        assert isinstance(prepared.wide, WinogradConv2d)
        assert prepared.pyramid.full_resolution_conv.__name__ == "winograd_conv2d"
    if kernels == "onednn":
        assert type(prepared.wide) is nn.Conv2d and prepared.pyramid.full_resolution_conv is conv2d_stride1


@pytest.mark.parametrize("kernels", ["onednn", "winograd", "auto"])
def test_a_real_network_gives_the_same_labels_with_each_choice(kernels):
    torch.manual_seed(0)
    model = build_model(get_config("schp_resnet101_lip").override(TINY)).eval()
    images = torch.randn(1, 3, 97, 81)
    with torch.no_grad():
        expected = model(images)["seg"]
    prepared, choice = prepare_with_choice(
        model, torch.randn(1, 3, 65, 65), kernels=kernels, input_shape=(1, 3, 97, 81)
    )
    with torch.inference_mode():
        actual = prepared(to_input(images, choice.channels_last))["seg"]
    assert float((actual.argmax(1) == expected.argmax(1)).float().mean()) >= 0.999


def test_the_choice_round_trips_through_the_cache(tmp_path):
    model = _model()
    first = choose_kernels(model, SHAPE, budget_s=0.5)
    assert first.source == "measured"
    path = cache_path(cache_identity(model, SHAPE, "fp32"))
    assert path.is_file() and path.parent == tmp_path / "cache" / "kernels"
    assert not list(path.parent.glob("*.tmp"))  # written atomically: no temporary left
    again = choose_kernels(model, SHAPE, budget_s=0.5)
    assert again.source == "cache"
    assert (again.channels_last, again.winograd_layers) == (first.channels_last, first.winograd_layers)
    assert KernelChoice.from_json(json.loads(json.dumps(first.to_json()))) == first
    # another shape, precision or thread count is another entry
    assert cache_path(cache_identity(model, (1, 3, 96, 96), "fp32")) != path
    assert cache_path(cache_identity(model, SHAPE, "bf16")) != path


def test_a_cached_choice_names_the_layers_it_switches(tmp_path):
    model = _model()
    folded = copy.deepcopy(model)
    fold_batchnorm(folded, torch.randn(1, 3, 16, 16))  # the cache is keyed by the architecture after folding
    identity = cache_identity(folded, SHAPE, "fp32")
    path = cache_path(identity)
    path.parent.mkdir(parents=True)
    stored = KernelChoice("auto", False, ("wide",), "planted", "measured")
    path.write_text(json.dumps({"identity": identity, "choice": stored.to_json()}))
    prepared, choice = prepare_with_choice(model, torch.randn(1, 3, 16, 16), input_shape=SHAPE)
    assert choice.source == "cache" and not choice.channels_last
    if winograd_available():
        assert isinstance(prepared.wide, WinogradConv2d)
        assert prepared.pyramid.full_resolution_conv is conv2d_stride1  # not named, not switched


def test_a_broken_or_foreign_cache_entry_is_measured_again():
    model = _model()
    identity = cache_identity(model, SHAPE, "fp32")
    path = cache_path(identity)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert choose_kernels(model, SHAPE, budget_s=0.2).source == "measured"
    foreign = dict(identity, cpu="another CPU")
    path.write_text(
        json.dumps({"identity": foreign, "choice": KernelChoice("auto", True, (), "x", "measured").to_json()})
    )
    assert choose_kernels(model, SHAPE, budget_s=0.2).source == "measured"


@needs_nnpack
def test_the_environment_forces_a_choice(monkeypatch):
    monkeypatch.setenv(KERNELS_ENV, "winograd")
    choice = choose_kernels(_model(), SHAPE)
    assert (choice.source, choice.winograd_layers) == ("forced", ("wide", "pyramid"))
    assert KERNELS_ENV in choice.reason
    monkeypatch.setenv(KERNELS_ENV, "onednn")
    assert choose_kernels(_model(), SHAPE).winograd_layers == ()
    # the option beats the environment
    assert choose_kernels(_model(), SHAPE, kernels="winograd").winograd_layers == ("wide", "pyramid")


def test_an_unknown_kernel_mode_is_one_clear_error(monkeypatch):
    with pytest.raises(ConfigError, match="--kernels='fast'"):
        resolve_kernel_mode("fast")
    monkeypatch.setenv(KERNELS_ENV, "nnpack")
    with pytest.raises(ConfigError, match=KERNELS_ENV):
        resolve_kernel_mode()
    monkeypatch.setenv(KERNELS_ENV, "ONEDNN")
    assert resolve_kernel_mode() == ("onednn", KERNELS_ENV)


def test_without_a_shape_nothing_is_measured_and_a_gpu_keeps_its_kernels():
    assert choose_kernels(_model(), None).source == "default"
    assert choose_kernels(_model(), SHAPE, device="cuda").winograd_layers == ()


def test_the_predictor_passes_the_forced_choice_on():
    from humanparse.inference.predictor import Predictor
    from humanparse.inference.runtimes.torch_runtime import network_input_shape

    config = get_config("schp_resnet101_lip").override(TINY)
    model = build_model(config).eval()
    predictor = Predictor(config, model=model, kernels="onednn", flip=False)
    assert predictor.network.kernels.source == "forced"
    assert network_input_shape(config) == (1, 3, *config.eval.input_size)


def test_bf16_is_measured_in_bf16_and_never_picks_winograd():
    # NNPACK has no bf16 kernels: under autocast the ordinary path runs, so only the layout is chosen
    choice = choose_kernels(_model(), SHAPE, precision="bf16", budget_s=0.3)
    assert choice.source == "measured" and choice.winograd_layers == ()
    assert "no Winograd in bf16" in choice.reason
    assert cache_path(cache_identity(_model(), SHAPE, "bf16")) != cache_path(
        cache_identity(_model(), SHAPE, "fp32")
    )


class _NeedsValues(nn.Module):
    """A forward that reads a value (impossible on the meta device)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * float(x.mean().item() > 0)


def test_a_network_whose_shapes_cannot_be_traced_keeps_the_default():
    choice = choose_kernels(_NeedsValues().eval(), SHAPE)
    assert choice.source == "default" and "not measured" in choice.reason
