"""CPU kernels chosen by measurement: Winograd (NNPACK) or oneDNN per convolution, channels_last or not.

NNPACK's Winograd kernels beat oneDNN on AVX2 CPUs and lose to it on AVX-512 ones (issue 23); channels_last is
oneDNN's preferred layout almost everywhere. Rather than assume, `choose_kernels` times the candidates on this
CPU for the input shape the network will see:

1. the shapes every convolution sees are found by one pass on the "meta" device (no arithmetic; the first meta
   pass in a process pays about a second of PyTorch set-up);
2. each distinct convolution (weights, input shape: ResNet-101's 23 equal bottlenecks are one) is timed alone on
   random data: oneDNN channels_last, oneDNN NCHW and, where eligible, Winograd (with the layout conversions it
   costs around it). After one untimed call each, the candidates take turns; one clearly behind drops out, a
   clear lead of the default ends the turns at once, a switch away from it needs the median of several calls;
3. the convolutions shared by the most layers come first (one timing speaks for all of them); a challenger (NCHW,
   Winograd) that lost clearly on convolutions holding `COVERAGE` of the multiply-adds it could take over is not
   timed on the rest, so the timing is spent where a choice is still open, within a budget;
4. the layout whose summed convolution time is lower wins, and Winograd is kept on the layers where it is
   faster; a candidate that is not the default (channels_last, oneDNN) must win by `MARGIN`.

The choice is cached per CPU model, ISA, thread count, torch version, precision, architecture and shape in
`humanparse.cache.cache_dir("kernels")`, so a run pays for it once. `HUMANPARSE_KERNELS=auto|winograd|onednn`
(or the commands' `--kernels`) forces a choice; `openvino` (and `auto`, where OpenVINO is installed) also
involves the whole-network engine of `humanparse.inference.runtimes.compiled`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.errors import ConfigError
from humanparse.models.layers import PyramidConv2d
from humanparse.models.prepare.winograd import (
    WINOGRAD_MIN_PIXELS,
    conv2d_same,
    winograd_available,
    winograd_eligible,
)

# "openvino": the whole network compiled by OpenVINO (`humanparse.inference.runtimes.compiled`); "auto" also
# measures that where OpenVINO is installed. For the PyTorch kernels themselves, "openvino" means oneDNN.
KERNEL_MODES = ("auto", "winograd", "onednn", "openvino")
KERNELS_ENV = "HUMANPARSE_KERNELS"
MARGIN = 0.05  # a non-default kernel must be this much faster (timings on shared cores move by a few %)
LAYOUT_MARGIN = 0.10  # NCHW over channels_last: a whole-network switch, measured on its convolutions only
DEFAULT_BUDGET_S = 2.0  # seconds of timing at most (what is left untimed keeps the default kernels)
COVERAGE = 0.5  # share of the multiply-adds after which a challenger that lost clearly is timed no more
CLEAR_LEAD = (
    0.25  # a candidate this much slower than the leader at its fastest drops out of a convolution's turns
)
SWITCH_SAMPLES = 3  # calls that must confirm a kernel other than the default (the median of them)
MAX_SAMPLES = 5  # timed calls per candidate and convolution at most
FIRST_CALL_COUNTS_S = (
    0.05  # a first call this slow is a sample too: oneDNN's few ms of set-up are noise on it
)
CACHE_VERSION = 1

_logger = logging.getLogger(__name__)


def resolve_kernel_mode(value: Optional[str] = None) -> Tuple[str, str]:
    """(mode, where it came from): `value` (an option), else $HUMANPARSE_KERNELS, else "auto"."""
    if value is not None:
        source = "--kernels"
    elif os.environ.get(KERNELS_ENV):
        value, source = os.environ[KERNELS_ENV], KERNELS_ENV
    else:
        return "auto", "default"
    mode = value.strip().lower()
    if mode not in KERNEL_MODES:
        raise ConfigError(f"{source}={value!r}: choose one of {', '.join(KERNEL_MODES)}")
    return mode, source


@dataclass
class ConvShape:
    """One distinct convolution: its weight and input shapes and arguments, and the layers that share it."""

    input_shape: Tuple[int, ...]
    weight_shape: Tuple[int, ...]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    dilation: Tuple[int, int]
    groups: int
    winograd: bool  # whether the Winograd kernel is a candidate here
    layers: List[str] = field(default_factory=list)

    @property
    def key(self) -> Tuple:
        return (self.input_shape, self.weight_shape, self.stride, self.padding, self.dilation, self.groups)

    @property
    def flops(self) -> float:
        """Multiply-adds of one call (times the layers sharing it), to time the largest first."""
        n, _, h, w = self.input_shape
        out_h = (h + 2 * self.padding[0] - self.dilation[0] * (self.weight_shape[2] - 1) - 1) // self.stride[
            0
        ] + 1
        out_w = (w + 2 * self.padding[1] - self.dilation[1] * (self.weight_shape[3] - 1) - 1) // self.stride[
            1
        ] + 1
        return float(n * out_h * out_w * math.prod(self.weight_shape)) * len(self.layers)


@dataclass
class KernelChoice:
    """Which kernels a prepared network uses, and why."""

    mode: str  # what was asked: auto, winograd or onednn
    channels_last: bool
    winograd_layers: Tuple[str, ...]  # module names whose convolution runs NNPACK's Winograd kernels
    reason: str
    source: str  # "measured", "cache", "forced" or "default" (not measured)
    seconds: float = 0.0  # spent choosing (measuring, or reading the cache)
    timings_ms: Dict[str, float] = field(default_factory=dict)  # summed convolution time per candidate
    engine: str = (
        "torch"  # what runs the network: "torch" (these kernels) or "openvino" (the compiled network)
    )

    def describe(self) -> str:
        if self.engine != "torch":
            return f"kernels: {self.engine}, the whole network compiled ({self.source}: {self.reason})"
        layout = "channels_last" if self.channels_last else "NCHW"
        kernels = f"Winograd on {len(self.winograd_layers)} layers" if self.winograd_layers else "oneDNN only"
        return f"kernels: {layout}, {kernels} ({self.source}: {self.reason})"

    def to_json(self) -> Dict:
        data = asdict(self)
        data["winograd_layers"] = list(self.winograd_layers)
        return data

    @classmethod
    def from_json(cls, data: Dict) -> KernelChoice:
        return cls(
            mode=str(data["mode"]),
            channels_last=bool(data["channels_last"]),
            winograd_layers=tuple(str(name) for name in data["winograd_layers"]),
            reason=str(data["reason"]),
            source=str(data["source"]),
            seconds=float(data.get("seconds", 0.0)),
            timings_ms={str(k): float(v) for k, v in data.get("timings_ms", {}).items()},
            engine=str(data.get("engine", "torch")),
        )


# ------------------------------------------------------------------------------------------------ shapes
def eligible_layers(model: nn.Module) -> List[str]:
    """Names of the convolutions `use_winograd` could switch (wide 3x3 stride-1 ones)."""
    names = []
    for name, module in model.named_modules():
        if isinstance(module, PyramidConv2d) or type(module) is nn.Conv2d:
            if winograd_eligible(module):
                names.append(name)
    return names


def conv_shapes(model: nn.Module, input_shape: Sequence[int]) -> List[ConvShape]:
    """The distinct convolutions of `model` on an input of `input_shape`, found on the meta device (no arithmetic).

    A PyramidConv2d given a list of parts convolves only its full-resolution part with the (sliced) weight: that
    call is what is recorded for it.
    """
    from torch.func import functional_call

    eligible = set(eligible_layers(model))
    found: Dict[Tuple, ConvShape] = {}

    def record(name: str, x: torch.Tensor, weight_shape, stride, padding, dilation, groups) -> None:
        shape = ConvShape(
            tuple(x.shape), tuple(weight_shape), tuple(stride), tuple(padding), tuple(dilation), groups, False
        )
        shape.winograd = name in eligible and x.shape[-2] * x.shape[-1] >= WINOGRAD_MIN_PIXELS
        found.setdefault(shape.key, shape).layers.append(name)

    def pre_hook(name: str):
        def hook(module, inputs):
            if torch.is_tensor(inputs[0]):
                record(name, inputs[0], module.weight.shape, module.stride, module.padding, module.dilation,
                       module.groups)  # fmt: skip

        return hook

    def full_resolution_spy(name: str, original: Callable):
        def spy(x, weight, bias, padding, dilation):
            record(name, x, weight.shape, (1, 1), padding, dilation, 1)
            return original(x, weight, bias, padding, dilation)

        return spy

    handles, spied = [], []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_pre_hook(pre_hook(name)))
        if isinstance(module, PyramidConv2d):
            spied.append((module, module.__dict__.get("full_resolution_conv")))
            module.full_resolution_conv = full_resolution_spy(name, module.full_resolution_conv)
    state = {
        name: torch.empty_like(tensor, device="meta")
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]
    }
    try:
        with torch.no_grad():
            functional_call(model, state, (torch.empty(*input_shape, device="meta"),))
    finally:
        for handle in handles:
            handle.remove()
        for module, original in spied:
            if original is None:
                del module.full_resolution_conv
            else:
                module.full_resolution_conv = original
    return list(found.values())


# ------------------------------------------------------------------------------------------------ timing
def _candidates(
    shape: ConvShape, dtype: torch.dtype, names: Sequence[str]
) -> Dict[str, Callable[[], torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    # uniform_ rather than randn: the values do not change a convolution's time, and it is faster to draw
    x = torch.empty(shape.input_shape).uniform_(-1, 1, generator=generator).to(dtype)
    weight = torch.empty(shape.weight_shape).uniform_(-0.05, 0.05, generator=generator).to(dtype)
    bias = torch.zeros(shape.weight_shape[0], dtype=dtype)
    x_last = x.contiguous(memory_format=torch.channels_last)
    weight_last = weight.contiguous(memory_format=torch.channels_last)
    arguments = (shape.stride, shape.padding, shape.dilation, shape.groups)
    candidates = {
        "channels_last": lambda: F.conv2d(x_last, weight_last, bias, *arguments),
        "nchw": lambda: F.conv2d(x, weight, bias, *arguments),
        # in a channels_last network the NCHW result of NNPACK is converted back: that cost is the kernel's
        "winograd": lambda: conv2d_same(
            x_last, weight, bias, shape.padding, shape.dilation, winograd=True
        ).contiguous(memory_format=torch.channels_last),
    }
    return {name: candidates[name] for name in names}


def time_conv(
    shape: ConvShape, dtype: torch.dtype = torch.float32, names: Optional[Sequence[str]] = None
) -> Dict[str, float]:
    """Seconds of one call of each candidate kernel in `names` (the first the default; None: all that apply): the
    median of its calls.

    After one untimed call each (oneDNN creates its primitives, NNPACK its buffers; a first call slower than
    `FIRST_CALL_COUNTS_S` is timed, its set-up being noise there) the candidates take turns. A
    candidate whose fastest call is `CLEAR_LEAD` slower than the leader's median drops out (it cannot win here);
    the timing stops when one is left, after one turn when the default leads, after `SWITCH_SAMPLES` when
    another does (a switch must be confirmed), and after `MAX_SAMPLES` turns in any case.
    """
    if names is None:
        names = ["channels_last", "nchw"] + (
            ["winograd"] if shape.winograd and dtype == torch.float32 else []
        )
    default = names[0]
    candidates = _candidates(shape, dtype, names)
    samples: Dict[str, List[float]] = {name: [] for name in candidates}
    live = list(candidates)
    with torch.inference_mode():
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            if seconds >= FIRST_CALL_COUNTS_S:  # its set-up is lost in the noise
                samples[name].append(seconds)
        for turn in range(MAX_SAMPLES):
            for name in live:
                if len(samples[name]) > turn:  # its first call counted
                    continue
                start = time.perf_counter()
                candidates[name]()
                samples[name].append(time.perf_counter() - start)
            medians = {name: statistics.median(samples[name]) for name in live}
            leader = min(live, key=medians.__getitem__)
            keep = {leader, default} if len(samples[leader]) < SWITCH_SAMPLES else {leader}
            live = [
                name
                for name in live
                if name in keep or min(samples[name]) * (1 - CLEAR_LEAD) < medians[leader]
            ]
            if len(live) == 1:
                break
    return {name: statistics.median(times) for name, times in samples.items()}


@dataclass
class _Tally:
    """Summed time (times the layers sharing each convolution) per candidate, over the convolutions timed so far."""

    covered: float = 0.0  # multiply-adds of the convolutions timed
    seconds: Dict[str, float] = field(default_factory=dict)
    wins: int = 0  # convolutions on which the challenger won

    def add(self, shape: ConvShape, times: Dict[str, float], names: Sequence[str]) -> None:
        self.covered += shape.flops
        for name in names:
            self.seconds[name] = self.seconds.get(name, 0.0) + len(shape.layers) * times[name]


def measure_choice(
    model: nn.Module,
    input_shape: Sequence[int],
    precision: str = "fp32",
    budget_s: float = DEFAULT_BUDGET_S,
    coverage: float = COVERAGE,
) -> KernelChoice:
    """Time the candidate kernels of `model`'s convolutions at `input_shape` and keep the fastest (see module).

    `coverage`: the share of the multiply-adds after which a challenger that lost clearly is timed no more
    (1.0 times every distinct convolution).
    """
    began = time.perf_counter()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    shapes = conv_shapes(model, input_shape)
    if dtype != torch.float32 or not winograd_available():
        for shape in shapes:
            shape.winograd = False
    # the most shared convolutions first: one timing speaks for every layer sharing it (ResNet's bottlenecks)
    shapes.sort(key=lambda shape: (-len(shape.layers), -shape.flops))
    total_flops = sum(shape.flops for shape in shapes) or 1.0
    eligible_flops = sum(shape.flops for shape in shapes if shape.winograd) or 1.0
    layouts = ["channels_last", "nchw"]  # until one is decided
    winograd_open = True
    layout, winograd = _Tally(), _Tally()
    measured: List[Tuple[ConvShape, Dict[str, float]]] = []
    start = time.perf_counter()
    for shape in shapes:
        if measured and time.perf_counter() - start > budget_s:
            break
        names = layouts + (["winograd"] if shape.winograd and winograd_open else [])
        if len(names) == 1:
            continue  # nothing left to decide for it
        times = time_conv(shape, dtype, names)
        measured.append((shape, times))
        if len(layouts) == 2:
            layout.add(shape, times, layouts)
            last, nchw = layout.seconds["channels_last"], layout.seconds["nchw"]
            # decided once enough of the network is timed and the lead is clear either way
            if layout.covered >= coverage * total_flops and (
                nchw >= last or nchw < last * (1 - 2 * LAYOUT_MARGIN)
            ):
                layouts = ["channels_last" if nchw >= last else "nchw"]
        if "winograd" in times:
            winograd.add(shape, times, ["winograd"])
            winograd.wins += times["winograd"] < min(times[name] for name in layouts) * (1 - MARGIN)
            # NNPACK that lost everywhere on this share of the eligible work is not tried on the rest
            if winograd.covered >= coverage * eligible_flops and not winograd.wins:
                winograd_open = False
    timed_s = time.perf_counter() - start
    last, nchw = layout.seconds.get("channels_last", 0.0), layout.seconds.get("nchw", 0.0)
    channels_last = not nchw < last * (1 - LAYOUT_MARGIN)
    chosen_layout = "channels_last" if channels_last else "nchw"
    winograd_layers: List[str] = []
    with_winograd = without_winograd = chosen = 0.0
    eligible = [(shape, times) for shape, times in measured if "winograd" in times]
    for shape, times in measured:
        count = len(shape.layers)
        own = times.get(chosen_layout, min(times[name] for name in times if name != "winograd"))
        if "winograd" in times:
            with_winograd += count * times["winograd"]
            without_winograd += count * own
            if times["winograd"] < own * (1 - MARGIN):
                winograd_layers.extend(shape.layers)
                own = times["winograd"]
        chosen += count * own
    covered = sum(shape.flops for shape, _ in measured) / total_flops
    parts = [
        f"timed {len(measured)} of {len(shapes)} distinct convolutions ({100 * covered:.0f}% of their "
        f"multiply-adds) in {timed_s:.1f} s",
        f"{chosen_layout if channels_last else 'NCHW'} ({1000 * last:.0f} ms channels_last, {1000 * nchw:.0f} ms "
        f"NCHW on {100 * layout.covered / total_flops:.0f}% of the multiply-adds)",
    ]
    if eligible:
        switched = sum(len(shape.layers) for shape, _ in eligible if shape.layers[0] in winograd_layers)
        untimed = sum(len(shape.layers) for shape in shapes if shape.winograd) - sum(
            len(shape.layers) for shape, _ in eligible
        )
        parts.append(
            f"Winograd faster on {switched} of {sum(len(s.layers) for s, _ in eligible)} eligible layers timed "
            f"({1000 * with_winograd:.0f} ms Winograd vs {1000 * without_winograd:.0f} ms oneDNN on them)"
            + (f", not tried on {untimed} more after losing on all of those" if untimed else "")
        )
    elif dtype == torch.float32 and not winograd_available():
        parts.append("no Winograd: NNPACK is not in this torch")
    elif dtype != torch.float32:
        parts.append(f"no Winograd in {precision}")
    timings = {"channels_last": 1000 * last, "nchw": 1000 * nchw, "chosen": 1000 * chosen}
    if eligible:
        timings.update(
            {
                "winograd_layers_winograd": 1000 * with_winograd,
                "winograd_layers_onednn": 1000 * without_winograd,
            }
        )
    return KernelChoice(
        mode="auto",
        channels_last=channels_last,
        winograd_layers=tuple(winograd_layers),
        reason="; ".join(parts),
        source="measured",
        seconds=time.perf_counter() - began,
        timings_ms=timings,
    )


# ------------------------------------------------------------------------------------------------- cache
def cpu_identity() -> Dict[str, str]:
    """What makes kernel timings differ between machines: the CPU model, the ISA torch and oneDNN use."""
    model_name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model_name = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model_name,
        "capability": str(torch.backends.cpu.get_cpu_capability()),
        "dnnl_max_cpu_isa": os.environ.get("DNNL_MAX_CPU_ISA", ""),
        "nnpack": str(winograd_available()),
    }


def architecture_hash(model: nn.Module) -> str:
    """A digest of the network's modules and their arguments (not of the weights, which do not change timings)."""
    return hashlib.sha256(repr(model).encode()).hexdigest()[:16]


def cache_identity(model: nn.Module, input_shape: Sequence[int], precision: str) -> Dict[str, str]:
    return {
        "version": str(CACHE_VERSION),
        **cpu_identity(),
        "threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "precision": precision,
        "shape": "x".join(str(int(side)) for side in input_shape),
        "architecture": architecture_hash(model),
    }


def cache_path(identity: Dict[str, str]) -> Path:
    from humanparse.cache import cache_dir

    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir("kernels") / f"{digest}.json"


def read_cached(identity: Dict[str, str]) -> Optional[KernelChoice]:
    """The cached choice for `identity`, or None (absent, unreadable, or made for another identity)."""
    path = cache_path(identity)
    try:
        data = json.loads(path.read_text())
        if data.get("identity") != identity:
            return None
        return KernelChoice.from_json(data["choice"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cached(identity: Dict[str, str], choice: KernelChoice) -> Optional[Path]:
    """Store `choice` atomically; a cache that cannot be written is only logged (the run goes on)."""
    from humanparse.errors import HumanParseError
    from humanparse.outputs import atomic_write

    text = json.dumps({"identity": identity, "choice": choice.to_json()}, indent=1, sort_keys=True)
    try:
        return atomic_write(cache_path(identity), lambda stream: stream.write(text.encode()), durable=False)
    except HumanParseError as error:
        _logger.warning("kernel choice not cached: %s", error)
        return None


# -------------------------------------------------------------------------------------------- the choice
def forced_choice(model: nn.Module, mode: str, source: str) -> KernelChoice:
    """The choice `mode` ("winograd", "onednn"; "openvino": oneDNN) names, not measured; channels_last either way."""
    use = mode == "winograd" and winograd_available()
    reason = f"forced by {source}={mode}"
    if mode == "winograd" and not use:
        reason += " (NNPACK is not in this torch: oneDNN)"
    layers = tuple(eligible_layers(model)) if use else ()
    return KernelChoice(mode, True, layers, reason, "forced")


def default_choice(model: nn.Module, why: str) -> KernelChoice:
    """Without a measurement: Winograd where it won when measured (AVX2-class CPUs), oneDNN on AVX-512 ones."""
    capability = str(torch.backends.cpu.get_cpu_capability())
    use = winograd_available() and not capability.startswith("AVX512")
    layers = tuple(eligible_layers(model)) if use else ()
    kernels = "Winograd" if use else "oneDNN"
    return KernelChoice("auto", True, layers, f"{why}; {kernels} assumed for {capability}", "default")


def choose_kernels(
    model: nn.Module,
    input_shape: Optional[Sequence[int]] = None,
    *,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    kernels: Optional[str] = None,
    budget_s: float = DEFAULT_BUDGET_S,
    use_cache: bool = True,
) -> KernelChoice:
    """The kernels `model` (BatchNorm already folded) should use for inputs of `input_shape` (N, 3, H, W).

    `kernels` (else $HUMANPARSE_KERNELS, else "auto"): "winograd" / "onednn" force a choice; "auto" reads the
    cache or measures (CPU only; other devices keep PyTorch's own kernels).
    """
    mode, source = resolve_kernel_mode(kernels)
    if torch.device(device).type != "cpu":
        return KernelChoice(mode, True, (), f"{torch.device(device).type}: PyTorch's own kernels", "default")
    if mode != "auto":
        return forced_choice(model, mode, source)
    if input_shape is None:
        return default_choice(model, "not measured (no input shape given)")
    start = time.perf_counter()
    identity = cache_identity(model, input_shape, precision)
    if use_cache:
        cached = read_cached(identity)
        if cached is not None:
            cached.source, cached.seconds = "cache", time.perf_counter() - start
            cached.reason = f"{cached.reason} [cached in {cache_path(identity)}]"
            return cached
    try:
        choice = measure_choice(model, input_shape, precision, budget_s)
    except (
        RuntimeError,
        NotImplementedError,
        TypeError,
        ValueError,
    ) as error:  # e.g. an op without a meta kernel
        _logger.warning("kernel choice not measured: %s", str(error).splitlines()[0] if str(error) else error)
        return default_choice(model, f"not measured ({type(error).__name__} while tracing the shapes)")
    if use_cache:
        write_cached(identity, choice)
    return choice
