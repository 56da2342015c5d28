"""CPU kernels chosen by measurement: Winograd (NNPACK) or oneDNN per convolution, channels_last or not.

NNPACK's Winograd kernels beat oneDNN on AVX2 CPUs and lose to it on AVX-512 ones (issue 23); channels_last is
oneDNN's preferred layout almost everywhere. Rather than assume, `choose_kernels` times the candidates on this
CPU for the input shape the network will see:

1. the shapes every convolution sees are found by one pass on the "meta" device (no arithmetic, milliseconds);
2. each distinct convolution (weights, input shape) is timed alone on random data: oneDNN channels_last, oneDNN
   NCHW and, where eligible, Winograd (with the layout conversions it costs around it), the candidates taking
   turns for a few rounds and the minimum kept (other processes only ever add time, so the minimum is the least
   disturbed figure); the largest convolutions first, until the time budget is spent;
3. the layout whose summed convolution time is lower wins, and Winograd is kept on the layers where it is
   faster; a candidate that is not the default (channels_last, oneDNN) must win by `MARGIN`.

The choice is cached per CPU model, ISA, thread count, torch version, precision, architecture and shape in
`humanparse.cache.cache_dir("kernels")`, so a run pays for it once. `HUMANPARSE_KERNELS=auto|winograd|onednn`
(or the commands' `--kernels`) forces a choice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
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

KERNEL_MODES = ("auto", "winograd", "onednn")
KERNELS_ENV = "HUMANPARSE_KERNELS"
MARGIN = 0.05  # a non-default kernel must be this much faster (timings on shared cores move by a few %)
LAYOUT_MARGIN = 0.10  # NCHW over channels_last: a whole-network switch, measured on its convolutions only
DEFAULT_BUDGET_S = (
    2.0  # seconds of timing; Winograd candidates, then the largest convolutions first; the rest
)
# keep the defaults (a ResNet-101 at 473x473 on 2 quiet cores: about all of them)
ROUNDS = 3  # turns each candidate takes per convolution (after one untimed call)
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

    def describe(self) -> str:
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
def _candidates(shape: ConvShape, dtype: torch.dtype) -> Dict[str, Callable[[], torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape.input_shape, generator=generator).to(dtype)
    weight = torch.randn(shape.weight_shape, generator=generator).to(dtype) * 0.05
    bias = torch.zeros(shape.weight_shape[0], dtype=dtype)
    x_last = x.contiguous(memory_format=torch.channels_last)
    weight_last = weight.contiguous(memory_format=torch.channels_last)
    arguments = (shape.stride, shape.padding, shape.dilation, shape.groups)
    candidates = {
        "channels_last": lambda: F.conv2d(x_last, weight_last, bias, *arguments),
        "nchw": lambda: F.conv2d(x, weight, bias, *arguments),
    }
    if shape.winograd and dtype == torch.float32:
        # in a channels_last network the NCHW result of NNPACK is converted back: that cost is the kernel's
        candidates["winograd"] = lambda: conv2d_same(
            x_last, weight, bias, shape.padding, shape.dilation, winograd=True
        ).contiguous(memory_format=torch.channels_last)
    return candidates


def time_conv(shape: ConvShape, dtype: torch.dtype = torch.float32, rounds: int = ROUNDS) -> Dict[str, float]:
    """Seconds of one call of each candidate kernel: the minimum of `rounds` turns taken in alternation."""
    candidates = _candidates(shape, dtype)
    best = {name: math.inf for name in candidates}
    with torch.inference_mode():
        start = time.perf_counter()
        for run in candidates.values():  # first calls create oneDNN primitives / NNPACK buffers: untimed
            run()
        if time.perf_counter() - start > 0.3 * len(candidates):  # a big convolution: two turns say enough
            rounds = min(rounds, 2)
        for _ in range(rounds):
            for name, run in candidates.items():
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def measure_choice(
    model: nn.Module,
    input_shape: Sequence[int],
    precision: str = "fp32",
    budget_s: float = DEFAULT_BUDGET_S,
) -> KernelChoice:
    """Time the candidate kernels of `model`'s convolutions at `input_shape` and keep the fastest (see module)."""
    began = time.perf_counter()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    shapes = conv_shapes(model, input_shape)
    if dtype != torch.float32:
        for shape in shapes:
            shape.winograd = False
    # the Winograd candidates first (the choice that differs most between CPUs), then by size
    shapes.sort(key=lambda shape: (not shape.winograd, -shape.flops))
    total_flops = sum(shape.flops for shape in shapes) or 1.0
    measured: List[Tuple[ConvShape, Dict[str, float]]] = []
    start = time.perf_counter()
    for shape in shapes:
        if measured and time.perf_counter() - start > budget_s:
            break
        measured.append((shape, time_conv(shape, dtype)))
    coverage = sum(shape.flops for shape, _ in measured) / total_flops

    def summed(name: str) -> float:
        return sum(len(shape.layers) * times[name] for shape, times in measured)

    last, nchw = summed("channels_last"), summed("nchw")
    channels_last = not nchw < last * (1 - LAYOUT_MARGIN)
    layout = "channels_last" if channels_last else "nchw"
    winograd_layers: List[str] = []
    with_winograd = without_winograd = 0.0
    eligible = [(shape, times) for shape, times in measured if "winograd" in times]
    for shape, times in eligible:
        count = len(shape.layers)
        with_winograd += count * times["winograd"]
        without_winograd += count * times[layout]
        if times["winograd"] < times[layout] * (1 - MARGIN):
            winograd_layers.extend(shape.layers)
    chosen = sum(
        len(shape.layers) * (times["winograd"] if shape.layers[0] in winograd_layers else times[layout])
        for shape, times in measured
    )
    seconds = time.perf_counter() - began
    parts = [
        f"timed {len(measured)} of {len(shapes)} distinct convolutions ({100 * coverage:.0f}% of their "
        f"multiply-adds) in {time.perf_counter() - start:.1f} s",
        f"{'channels_last' if channels_last else 'NCHW'} ({1000 * last:.0f} ms channels_last, "
        f"{1000 * nchw:.0f} ms NCHW)",
    ]
    if eligible:
        switched = sum(len(shape.layers) for shape, times in eligible if shape.layers[0] in winograd_layers)
        parts.append(
            f"Winograd faster on {switched} of {sum(len(s.layers) for s, _ in eligible)} eligible layers "
            f"({1000 * with_winograd:.0f} ms Winograd vs {1000 * without_winograd:.0f} ms oneDNN on them)"
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
        seconds=seconds,
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
    """The choice `mode` ("winograd" or "onednn") names, not measured; channels_last either way."""
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
