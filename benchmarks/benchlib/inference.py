"""Inference of ours against the reference: time, FLOP rate, memory, accuracy, and PASS/MISS per recipe."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from benchlib.measure import (
    Settings,
    argmax_agreement,
    check_settings,
    conv_peak_gflops,
    count_flops,
    measured_speedup,
    median,
    relative_error,
    time_calls,
)
from benchlib.memory import measure_peak_memory
from benchlib.references import Implementation, ReferenceUnavailable, build_ours, build_pair
from benchlib.targets import BF16_MAX_RELATIVE_ERROR, SPEEDUP_TARGETS
from humanparse.hardware import cpu_bf16_support


@dataclass
class Row:
    """One line of the table: our figures, the reference's, and the verdict against the issue's target."""

    config: str
    precision: str
    reference: str = ""
    ours_ms: Optional[float] = None
    theirs_ms: Optional[float] = None
    gflops_per_s: Optional[float] = None
    peak_fraction: Optional[float] = None
    ours_mib: Optional[float] = None
    theirs_mib: Optional[float] = None
    onnx_ms: Optional[float] = None
    relative_error: Optional[float] = None
    argmax_agreement: Optional[float] = None
    target: Optional[float] = None
    notes: List[str] = field(default_factory=list)

    @property
    def speedup(self) -> Optional[float]:
        return measured_speedup(self.ours_ms, self.theirs_ms)

    @property
    def verdict(self) -> str:
        """PASS/MISS against the target (speed, memory, and for bf16 the accuracy); "-" when not measurable."""
        if self.speedup is None or self.target is None:
            return "-"
        ok = self.speedup >= self.target
        if self.ours_mib is not None and self.theirs_mib is not None:
            ok = ok and self.ours_mib <= self.theirs_mib
        if self.precision != "fp32" and self.relative_error is not None:
            ok = ok and self.relative_error <= BF16_MAX_RELATIVE_ERROR
        return "PASS" if ok else "MISS"


COLUMNS = (
    ("config", "config"),
    ("prec", "precision"),
    ("reference", "reference"),
    ("ours ms", "ours_ms"),
    ("ref ms", "theirs_ms"),
    ("speedup", "speedup"),
    ("onnxrt ms", "onnx_ms"),
    ("GFLOP/s", "gflops_per_s"),
    ("% peak", "peak_fraction"),
    ("ours MiB", "ours_mib"),
    ("ref MiB", "theirs_mib"),
    ("rel err", "relative_error"),
    ("argmax", "argmax_agreement"),
    ("target", "target"),
    ("result", "verdict"),
)


def cell(attribute: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if attribute == "peak_fraction":
        return f"{100 * value:.0f}%"
    if attribute in ("speedup", "target"):
        return f"{value:.2f}x"
    if attribute == "relative_error":
        return f"{value:.1e}"
    if attribute == "argmax_agreement":
        return f"{100 * value:.2f}%"
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 10 else f"{value:.1f}"
    return str(value)


def format_table(rows: Sequence[Row]) -> str:
    """A Markdown table of the rows, then their notes (e.g. a missing reference) as a list."""
    header = [title for title, _ in COLUMNS]
    body = [[cell(attribute, getattr(row, attribute)) for _, attribute in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "| " + " | ".join(text.ljust(width) for text, width in zip(line, widths)) + " |" for line in [header]
    ]
    lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    lines += [
        "| " + " | ".join(text.ljust(width) for text, width in zip(line, widths)) + " |" for line in body
    ]
    notes = [f"- {row.config} ({row.precision}): {note}" for row in rows for note in row.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def benchmark_config(config_name: str, settings: Settings, peak_gflops: Optional[float] = None) -> Row:
    """Measure one recipe: our time, FLOP rate, memory, and (with settings.reference) the reference's and deltas."""
    from humanparse.configs import load_config

    load_config(config_name)  # an unknown name is a ConfigError before anything is built
    device = check_settings(settings)
    row = Row(config=config_name, precision=settings.precision, target=SPEEDUP_TARGETS[settings.precision])
    images = torch.randn(1, 3, settings.size, settings.size, device=device)
    try:
        if settings.reference:
            ours, reference, missing = build_pair(
                config_name, device, settings.precision, settings.csenet_repo
            )
        else:
            ours, reference, missing = build_ours(config_name, device, settings.precision), None, ""
    except ImportError as error:  # our model for this recipe is not part of this install
        row.notes.append(f"ours: cannot build ({error})")
        row.target = None
        return row
    row.reference = reference.name if reference else ("missing" if settings.reference else "")
    if missing:
        row.notes.append(f"reference: {missing}")
    if not settings.reference or reference is None:
        row.target = None

    calls = {"ours": lambda: ours.forward(images)}
    if reference is not None:
        calls["theirs"] = lambda: reference.forward(images)
    if settings.onnxruntime:
        onnx_call = _onnxruntime_call(config_name, ours, settings, row)
        if onnx_call is not None:
            calls["onnxruntime"] = lambda: onnx_call(images)
    times = time_calls(calls, repeats=settings.repeats, warmup=settings.warmup, device=device)
    row.ours_ms = 1000 * median(times["ours"])
    if reference is not None:
        row.theirs_ms = 1000 * median(times["theirs"])
    if "onnxruntime" in times:
        row.onnx_ms = 1000 * median(times["onnxruntime"])

    flops = count_flops(lambda: ours.forward(images))
    row.gflops_per_s = flops / (row.ours_ms / 1000) / 1e9
    if peak_gflops:
        row.peak_fraction = row.gflops_per_s / peak_gflops

    ours_logits = ours.forward(images).float()
    if reference is not None:
        # bf16/fp16 rows are compared with the fp32 reference: the error is the reduced precision's, on the same weights
        theirs_logits = reference.forward(images).float()
        row.relative_error = relative_error(ours_logits, theirs_logits)
        row.argmax_agreement = argmax_agreement(ours_logits, theirs_logits)
    elif settings.precision != "fp32":
        with torch.inference_mode():
            reference_logits = ours.module(images.contiguous(memory_format=torch.channels_last))["seg"]
        row.relative_error = relative_error(ours_logits, reference_logits)
        row.argmax_agreement = argmax_agreement(ours_logits, reference_logits)
        row.notes.append("rel err / argmax: vs our own fp32 logits")

    if settings.memory:
        common = dict(
            config_name=config_name,
            size=settings.size,
            precision=settings.precision,
            device=settings.device,
            csenet_repo=settings.csenet_repo,
            threads=settings.threads,
        )
        row.ours_mib = _memory_or_note(row, "ours", common)
        if row.theirs_ms is not None:
            row.theirs_mib = _memory_or_note(row, "reference", {**common, "precision": "fp32"})
    return row


def _memory_or_note(row: Row, implementation: str, arguments: Dict[str, Any]) -> Optional[float]:
    # a failed probe costs one cell, not the whole run
    try:
        return measure_peak_memory(implementation, **arguments)
    except (RuntimeError, ReferenceUnavailable, subprocess.TimeoutExpired) as error:
        row.notes.append(f"memory of {implementation}: not measured ({str(error).splitlines()[-1][:200]})")
        return None


def _onnxruntime_call(
    config_name: str, ours: Implementation, settings: Settings, row: Row
) -> Optional[Callable[[torch.Tensor], Any]]:
    """Our network exported to ONNX (humanparse.deploy.export) as an onnxruntime CPU session; None (with a note) if not."""
    import tempfile

    try:
        import onnxruntime
    except ImportError:
        row.notes.append("onnxruntime: not installed (pip install 'humanparse[onnx]')")
        return None
    from humanparse.deploy.export import export_onnx

    path = os.path.join(tempfile.mkdtemp(prefix="humanparse-bench-"), f"{config_name}.onnx")
    module = ours.module.to(memory_format=torch.contiguous_format)
    export_onnx(module, path, (settings.size, settings.size), verify=False)
    ours.module.to(memory_format=torch.channels_last)
    options = onnxruntime.SessionOptions()
    if settings.threads:
        options.intra_op_num_threads = settings.threads
    session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    if settings.precision != "fp32":
        row.notes.append("onnxruntime: timed in fp32 (the export is fp32)")

    def call(images: torch.Tensor) -> Any:
        return session.run(None, {input_name: images.cpu().numpy()})

    return call


def machine_summary(device: torch.device, precision: str, peak_gflops: float) -> List[str]:
    """Lines describing where the figures were measured (printed above the table)."""
    from benchlib.machine import machine_lines

    lines = machine_lines() + [
        f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}",
        f"convolution peak ({precision}, 256->256 3x3 at 119x119): {peak_gflops:.0f} GFLOP/s",
    ]
    if device.type == "cuda":
        lines.insert(1, f"GPU: {torch.cuda.get_device_name(device)}")
    elif precision == "bf16":
        native, note = cpu_bf16_support()
        lines.append(note if native else f"NOTE: {note}: bf16 rows cannot meet their target here")
    return lines


def run_benchmark(config_names: Sequence[str], settings: Settings) -> str:
    """Benchmark every recipe and return the report: machine summary, then the table and its notes."""
    device = check_settings(settings)
    peak = conv_peak_gflops(device, settings.precision, repeats=max(2, settings.repeats))
    rows = [benchmark_config(name, settings, peak_gflops=peak) for name in config_names]
    return "\n".join(machine_summary(device, settings.precision, peak) + ["", format_table(rows)])
