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
    autotune,
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


# ------------------------------------------------------------------------ what is timed (fake clocks, no timing)
def _repeating_resnet(width: float = 0.125) -> nn.Module:
    """A small SCHP ResNet whose third stage repeats one bottleneck: equal convolutions in many layers."""
    torch.manual_seed(0)
    config = get_config("schp_resnet101_lip").override(
        [f"model.width={width}", "model.stage_blocks=[1,1,4,1]"]
    )
    model = build_model(config).eval()
    fold_batchnorm(model, torch.randn(1, 3, 65, 65))
    return model


def _fake_times(times: dict):
    """A `time_conv` stand-in answering `times` (name -> seconds) for every convolution, and the calls it got."""
    calls = []

    def fake(shape, dtype=torch.float32, names=None):
        calls.append((shape.key, tuple(names)))
        return {name: times[name] for name in names}

    return fake, calls


def test_each_distinct_convolution_is_timed_once(monkeypatch):
    model = _repeating_resnet()
    shape = (1, 3, 97, 81)
    distinct = conv_shapes(model, shape)
    layers = sum(len(found.layers) for found in distinct)
    assert len(distinct) < layers  # the repeated bottlenecks share their convolutions
    fake, calls = _fake_times({"channels_last": 1.0, "nchw": 1.0, "winograd": 1.0})
    monkeypatch.setattr(autotune, "time_conv", fake)
    choice = autotune.measure_choice(model, shape, budget_s=1e9, coverage=1.0)
    timed = [key for key, _ in calls]
    assert len(timed) == len(set(timed)) == len(distinct)
    assert f"timed {len(distinct)} of {len(distinct)} distinct convolutions" in choice.reason


def test_a_challenger_that_lost_clearly_is_not_timed_on_the_rest(monkeypatch):
    model = _repeating_resnet()
    fake, calls = _fake_times({"channels_last": 1.0, "nchw": 2.0, "winograd": 2.0})
    monkeypatch.setattr(autotune, "time_conv", fake)
    choice = autotune.measure_choice(model, (1, 3, 97, 81), budget_s=1e9, coverage=0.5)
    assert choice.channels_last and choice.winograd_layers == ()
    # NCHW was timed until half the multiply-adds were covered, then no more; with nothing left to decide (no
    # Winograd at these widths), the remaining convolutions were not timed at all
    assert all(names == ("channels_last", "nchw") for _, names in calls)
    assert len(calls) < len(conv_shapes(model, (1, 3, 97, 81)))
    assert "NCHW on " in choice.reason


@needs_nnpack
def test_winograd_that_wins_is_timed_on_every_eligible_convolution(monkeypatch):
    model = _repeating_resnet(width=1.0)  # Winograd needs 64 channels
    shapes = conv_shapes(model, (1, 3, 129, 129))
    eligible = [found for found in shapes if found.winograd]
    assert eligible
    fake, calls = _fake_times({"channels_last": 1.0, "nchw": 2.0, "winograd": 0.5})
    monkeypatch.setattr(autotune, "time_conv", fake)
    choice = autotune.measure_choice(model, (1, 3, 129, 129), budget_s=1e9, coverage=0.5)
    assert sum("winograd" in names for _, names in calls) == len(eligible)
    assert set(choice.winograd_layers) == {layer for found in eligible for layer in found.layers}


class _FakeClock:
    """perf_counter for `time_conv`: each candidate call advances it by that candidate's cost."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "costs, calls_expected",
    [
        # the default clearly ahead: one untimed call and one timed turn each
        ({"channels_last": 0.01, "nchw": 0.02}, {"channels_last": 2, "nchw": 2}),
        # a challenger clearly ahead: confirmed by SWITCH_SAMPLES turns against the default
        ({"channels_last": 0.02, "nchw": 0.01}, {"channels_last": 4, "nchw": 4}),
        # a close race: every turn, the median of them
        ({"channels_last": 0.010, "nchw": 0.011}, {"channels_last": 6, "nchw": 6}),
        # first calls slower than FIRST_CALL_COUNTS_S are samples themselves
        ({"channels_last": 0.1, "nchw": 0.2}, {"channels_last": 1, "nchw": 1}),
    ],
)
def test_the_turns_stop_once_one_candidate_is_clearly_ahead(monkeypatch, costs, calls_expected):
    clock = _FakeClock()
    counts = {name: 0 for name in costs}

    def candidates(shape, dtype, names):
        def run(name):
            counts[name] += 1
            clock.now += costs[name]

        return {name: (lambda name=name: run(name)) for name in names}

    monkeypatch.setattr(autotune, "time", clock)
    monkeypatch.setattr(autotune, "_candidates", candidates)
    shape = conv_shapes(_model(), SHAPE)[0]
    times = autotune.time_conv(shape, names=list(costs))
    assert counts == calls_expected
    assert times == pytest.approx(costs)
