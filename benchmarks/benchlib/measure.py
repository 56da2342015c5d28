"""Statistics, timing, FLOP counts and the measured convolution peak; the Settings every comparison takes."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
from torch import nn

from benchlib.targets import SPEEDUP_TARGETS
from humanparse.errors import ConfigError
from humanparse.inference.timing import resolve_device, synchronize

# ---------------------------------------------------------------------------------------------------------------
# small statistics


def median(values: Sequence[float]) -> float:
    """The median of `values`; raises ValueError when empty."""
    if not values:
        raise ValueError("median of no values")
    return float(statistics.median(values))


def speedup(ours_seconds: float, theirs_seconds: float) -> float:
    """How many times faster ours is: theirs / ours (2.0 means we take half the time)."""
    if ours_seconds <= 0:
        raise ValueError(f"time must be positive, got {ours_seconds}")
    return theirs_seconds / ours_seconds


def measured_speedup(ours_ms: Optional[float], theirs_ms: Optional[float]) -> Optional[float]:
    """`speedup` of two timings, None when either is missing."""
    return None if ours_ms is None or theirs_ms is None else speedup(ours_ms, theirs_ms)


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """||ours - reference|| / ||reference|| in float64 (Frobenius norms)."""
    ours, reference = ours.detach().double().cpu(), reference.detach().double().cpu()
    if ours.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(ours.shape)} vs {tuple(reference.shape)}")
    return float((ours - reference).norm() / reference.norm().clamp_min(1e-30))


def argmax_agreement(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """Fraction of pixels whose argmax over the class axis (dim 1) is the same."""
    return float((ours.argmax(1) == reference.argmax(1)).double().mean())


def dtype_of(precision: str) -> torch.dtype:
    """The tensor dtype of a precision name."""
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


# ---------------------------------------------------------------------------------------------------------------
# FLOPs and the convolution peak


def count_flops(fn: Callable[[], Any]) -> int:
    """Floating-point operations (multiply and add counted separately) of one call of `fn`."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def conv_peak_gflops(
    device: torch.device, precision: str = "fp32", channels: int = 256, size: int = 119, repeats: int = 5
) -> float:
    """Measured GFLOP/s of one large 3x3 convolution (channels->channels at size x size), the best memory format.

    This is the practical peak that the fraction-of-peak column divides by; it uses the same dtype as the run.
    """
    conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(device).eval()
    images = torch.randn(1, channels, size, size, device=device)
    flops = 2 * channels * channels * 9 * size * size
    best = 0.0
    for channels_last in (False, True):
        layer = conv.to(memory_format=torch.channels_last) if channels_last else conv
        inputs = images.contiguous(memory_format=torch.channels_last) if channels_last else images

        def forward(layer=layer, inputs=inputs):
            with torch.autocast(device.type, dtype=dtype_of(precision), enabled=precision != "fp32"):
                return layer(inputs)

        with torch.inference_mode():
            seconds = time_calls({"conv": forward}, repeats=repeats, warmup=1, device=device)["conv"]
        best = max(best, flops / median(seconds) / 1e9)
    return best


# ---------------------------------------------------------------------------------------------------------------
# timing


def time_calls(
    calls: Dict[str, Callable[[], Any]], repeats: int, warmup: int, device: torch.device
) -> Dict[str, List[float]]:
    """Seconds of each call, `repeats` times each, alternating between the calls after `warmup` rounds."""
    for _ in range(warmup):
        for call in calls.values():
            call()
    synchronize(device)
    times: Dict[str, List[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            synchronize(device)
            start = time.perf_counter()
            call()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return times


@dataclass
class Settings:
    """What a benchmark run measures and how."""

    size: int = 473
    precision: str = "fp32"
    device: str = "cpu"
    repeats: int = 5
    warmup: int = 2
    threads: Optional[int] = None
    reference: bool = True
    memory: bool = True
    csenet_repo: Optional[str] = None
    onnxruntime: bool = False


def settings_from_args(args, **fields) -> Settings:
    """Settings from the options of `humanparse.cli.options.add_benchmark_options`, plus a front end's own."""
    common = {"device": args.device, "repeats": args.repeats, "warmup": args.warmup, "threads": args.threads}
    if hasattr(args, "size"):
        common["size"] = args.size
    return Settings(**common, **fields)


def check_settings(settings: Settings) -> torch.device:
    """Validate the settings, apply the thread count, and return the device."""
    if settings.precision not in SPEEDUP_TARGETS:
        raise ConfigError(
            f"--precision must be one of {', '.join(SPEEDUP_TARGETS)}, not {settings.precision!r}"
        )
    if settings.size < 64:
        raise ConfigError(f"--size must be at least 64, got {settings.size}")
    if settings.repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {settings.repeats}")
    device = resolve_device(settings.device)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    return device
