"""Inference speed of our own networks: median latency, images per second and peak memory of one recipe.

The network runs as the predictor runs it (`prepare_for_inference`, then `model_forward` with the precision) on
random weights and random images; random values cost the same as real ones.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import torch

from humanparse.errors import ConfigError
from humanparse.hardware import resolve_device

__all__ = ["PRECISIONS", "Timing", "format_timings", "resolve_device", "synchronize", "time_inference"]

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class Timing:
    """What `time_inference` measured for one recipe."""

    config: str
    device: str
    precision: str
    input_size: Tuple[int, int]
    batch: int
    median_ms: float
    peak_mib: Optional[float] = None
    kernels: str = ""  # the prepared network's kernel choice and why (`KernelChoice.describe`)

    @property
    def images_per_s(self) -> float:
        return self.batch / (self.median_ms / 1000)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that a wall-clock time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_mib(device: torch.device) -> Optional[float]:
    """Peak memory so far: CUDA, what torch allocated on `device`; CPU, the process's peak resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return None
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def time_inference(
    config_name: str,
    device: str = "cpu",
    precision: str = "fp32",
    size: Optional[Sequence[int]] = None,
    batch: int = 1,
    repeats: int = 5,
    warmup: int = 2,
    kernels: Optional[str] = None,
) -> Timing:
    """Time `repeats` forward passes of a recipe's network (after `warmup` untimed ones); median per batch.

    `size` is the input (height, width), or a square side; None takes the recipe's `model.input_size`. `kernels`:
    the CPU kernel choice (auto/winograd/onednn/openvino, default $HUMANPARSE_KERNELS or auto), made for this input shape
    as `predict` makes it.
    """
    from humanparse.configs import get_config
    from humanparse.inference.runtimes.base import ModelSpec
    from humanparse.inference.runtimes.torch_runtime import torch_network
    from humanparse.models.builder import build_model

    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if isinstance(size, int):
        size = (size, size)
    for option, value in (
        ("--batch-size", batch),
        ("--repeats", repeats),
        ("--input-size", min(size or [1])),
    ):
        if value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    if warmup < 0:
        raise ConfigError(f"--warmup must be at least 0, got {warmup}")
    target = resolve_device(device)
    config = get_config(config_name)
    height, width = tuple(size) if size else tuple(config.model.input_size)
    images = torch.randn(batch, 3, height, width, device=target)
    model = build_model(config).eval().to(target)
    spec = ModelSpec(config, model=model, kernels=kernels)
    network = torch_network(
        spec, target, precision, True, tuple(images.shape), own_model=True, compile_module=True
    )
    del model, spec  # the prepared copy (or the compiled network) is what runs
    forward = network.forward
    if target.type == "cuda":
        torch.cuda.reset_peak_memory_stats(target)
    times = []
    with torch.inference_mode():
        for run in range(warmup + repeats):
            synchronize(target)
            start = time.perf_counter()
            forward(images)
            synchronize(target)
            if run >= warmup:
                times.append(time.perf_counter() - start)
    return Timing(
        config_name,
        str(target),
        precision,
        (height, width),
        batch,
        1000 * statistics.median(times),
        peak_memory_mib(target),
        network.kernels.describe() if network.kernels else "",
    )


def format_timings(timings: Sequence[Timing]) -> str:
    """A plain aligned table: config, device, precision, input, batch, median ms, images/s, peak MiB."""
    header = ["config", "device", "precision", "input", "batch", "median ms", "images/s", "peak MiB"]
    rows = [
        [
            t.config,
            t.device,
            t.precision,
            f"{t.input_size[0]}x{t.input_size[1]}",
            str(t.batch),
            f"{t.median_ms:.1f}",
            f"{t.images_per_s:.2f}",
            "n/a" if t.peak_mib is None else f"{t.peak_mib:.0f}",
        ]
        for t in timings
    ]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [header, *rows]
    )
