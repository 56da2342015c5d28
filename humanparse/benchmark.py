"""Speed, FLOP and memory measurements of our networks against their reference implementations.

One implementation of the measuring code, used by `humanparse benchmark` and the scripts under benchmarks/.
Every figure is a ratio against the reference measured in the same process on the same machine: the two
implementations run alternately (ours, theirs, ours, ...) and each time is the median of its runs. Peak memory is
measured in a fresh subprocess per implementation. References are optional (`pip install humanparse[bench]` for
SSSegmentation; `--csenet-repo` for a clone of the official CSENet code); when one is missing its row says so.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from humanparse.errors import ConfigError

# Targets of the "Performance and deployment" issue: speed-up over the reference, per precision.
SPEEDUP_TARGETS = {"fp32": 1.2, "bf16": 2.0, "fp16": 2.0}
TRAIN_SPEEDUP_TARGET = 1.1
BF16_MAX_RELATIVE_ERROR = 2e-2
BF16_MIN_ARGMAX_AGREEMENT = 0.99  # on a trained model's validation images


class ReferenceUnavailable(Exception):
    """A reference implementation cannot be built here; the message says why (shown in its table row)."""


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


def _measured_speedup(ours_ms: Optional[float], theirs_ms: Optional[float]) -> Optional[float]:
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


# ---------------------------------------------------------------------------------------------------------------
# machine facts


def cpu_bf16_support() -> Tuple[bool, str]:
    """Whether this CPU has native bf16 matrix instructions (avx512_bf16 or AMX), and a note for the table."""
    capability = torch.backends.cpu.get_cpu_capability()
    flags: set = set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    native = bool(flags & {"avx512_bf16", "amx_bf16"})
    if native:
        return (
            True,
            f"CPU has native bf16 ({', '.join(sorted(flags & {'avx512_bf16', 'amx_bf16'}))}; torch {capability})",
        )
    return False, (
        f"NOTE: this CPU has no native bf16 (no avx512_bf16/amx_bf16 in /proc/cpuinfo; torch capability "
        f"{capability}): bf16 is emulated and much slower than fp32 here, so bf16 rows cannot meet their target."
    )


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a wall-clock time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


# ---------------------------------------------------------------------------------------------------------------
# the implementations: ours and the references, built with the same weights


@dataclass
class Implementation:
    """A network ready to time: `forward(images)` returns the final parsing logits."""

    name: str
    module: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]
    channels_last: bool = False


def reference_name(config_name: str) -> str:
    """Which reference implementation a recipe is compared with."""
    if config_name.startswith("ce2p_resnet"):
        return "sssegmentation"
    if config_name.startswith("csenet"):
        return "csenet_official"
    return "none"


def build_ours(
    config_name: str, device: torch.device, precision: str, example_size: int = 65
) -> Implementation:
    """Our network for a recipe, random weights, prepared for inference (BatchNorm folded, channels_last)."""
    from humanparse.models.builder import build_model

    model = build_model(config_name).eval().to(device)
    return prepare_ours(model, device, precision, example_size)


def prepare_ours(
    model: nn.Module, device: torch.device, precision: str, example_size: int = 65
) -> Implementation:
    """Wrap an eval-mode network of ours as it runs in inference: folded, channels_last, autocast for bf16/fp16."""
    from humanparse.models.inference import autocast, prepare_for_inference, to_input

    example = to_input(torch.randn(1, 3, example_size, example_size, device=device))
    prepared = prepare_for_inference(model, example, inplace=True)

    def forward(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), autocast(device, precision):
            return prepared(to_input(images))["seg"]

    return Implementation("humanparse", prepared, forward, channels_last=True)


def ssseg_ce2p_config(config_name: str, num_classes: int) -> Dict[str, Any]:
    """SSSegmentation 1.7.0's segmentor config for a ce2p_resnet{50,101}os{8,16}_* recipe (as its configs set it)."""
    # configs/_base_/segmentors/ce2p.py of SSSegmentation; the PyPI sdist ships no configs, so they are spelled here
    depth = 101 if "resnet101" in config_name else 50
    outstride = 8 if "os8" in config_name else 16
    cross_entropy = {
        "type": "CrossEntropyLoss",
        "scale_factor": 1.0,
        "ignore_index": -100,
        "reduction": "mean",
    }
    return {
        "type": "CE2P",
        "num_classes": num_classes,
        "benchmark": True,
        "align_corners": False,
        "norm_cfg": {
            "type": "BatchNorm2d"
        },  # SyncBatchNorm in its configs: the same in eval, and runs on one CPU
        "act_cfg": {"type": "LeakyReLU", "negative_slope": 0.01, "inplace": True},
        "backbone": {
            "type": "ResNet",
            "depth": depth,
            "structure_type": f"resnet{depth}conv3x3stem",
            "pretrained": False,
            "outstride": outstride,
            "use_conv3x3_stem": True,
            "selected_indices": (0, 1, 2, 3),
        },
        "head": {
            "in_channels_list": [256, 512, 1024, 2048],
            "feats_channels": 512,
            "pool_scales": [1, 2, 3, 6],
            "epm_hidden_channels": 256,
            "shortcut_feats_channels": 48,
            "epm_out_channels": 2,
            "dropout_stage1": 0,
            "dropout_stage2": 0.1,
        },
        "losses": {
            "loss_cls_stage1": dict(cross_entropy),
            "loss_cls_stage2": dict(cross_entropy),
            "loss_edge": dict(cross_entropy),
        },
        "inference": {"forward": {"mode": "whole"}, "tta": {"use_probs_before_resize": False}},
    }


# Packages that SSSegmentation 1.7.0 imports at package import time for its datasets, config parser and
# transforms, but that its CE2P network never calls; its sdist declares no dependencies, so they are often absent.
SSSEG_IMPORT_ONLY_PACKAGES = ("pandas", "dill", "torchvision")


class _Placeholder:
    """Stands for any attribute of a placeholder package: callable, iterable, and every attribute is itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> _Placeholder:
        return self

    def __getattr__(self, name: str) -> _Placeholder:
        return self

    def __iter__(self):
        return iter(())


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder()


class _PlaceholderFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports placeholder modules for `names` (and their submodules); last on sys.meta_path, so real ones win."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = set(names)
        self.created: List[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if fullname.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _PlaceholderModule(spec.name)
        module.__path__ = []
        self.created.append(spec.name)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def import_sssegmentation() -> Tuple[Any, Any]:
    """SSSegmentation's (BuildSegmentor, SSSegInputStructure); raises ReferenceUnavailable when not installed.

    Run-time shim: SSSegmentation's package import pulls in pandas, dill and torchvision for its datasets and
    transforms. Where they are missing, placeholder modules stand in during that import only, and are removed
    from sys.modules afterwards so nothing else in the process sees them.
    """
    if importlib.util.find_spec("ssseg") is None:
        raise ReferenceUnavailable("SSSegmentation not installed: pip install 'humanparse[bench]'")
    finder = _PlaceholderFinder(SSSEG_IMPORT_ONLY_PACKAGES)
    sys.meta_path.append(finder)
    try:
        from ssseg.modules import BuildSegmentor, SSSegInputStructure
    except Exception as error:  # an incompatible install: report it in the row instead of failing the run
        raise ReferenceUnavailable(
            f"cannot import SSSegmentation: {error.__class__.__name__}: {error}"
        ) from error
    finally:
        sys.meta_path.remove(finder)
        for name in finder.created:
            sys.modules.pop(name, None)
    return BuildSegmentor, SSSegInputStructure


def build_sssegmentation_ce2p(config_name: str, device: torch.device, mode: str = "TEST") -> Implementation:
    """SSSegmentation 1.7.0's CE2P (random weights) for a ce2p recipe; raises ReferenceUnavailable without it."""
    BuildSegmentor, SSSegInputStructure = import_sssegmentation()
    from humanparse.configs import load_config

    num_classes = load_config(config_name).model.num_classes
    model = BuildSegmentor(ssseg_ce2p_config(config_name, num_classes), mode=mode).to(device)
    if mode == "TEST":
        model.eval()

    def forward(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(SSSegInputStructure(mode="TEST", images=images)).seg_logits

    return Implementation("sssegmentation 1.7.0", model, forward)


def import_official_csenet(repo: Optional[str]):
    """The official CSENet network module (tjpulkl/BSSGNet networks/BSSGNet.py) from a clone at `repo`.

    The clone's own `utils.attention.InPlaceABNSync` is already plain BatchNorm + LeakyReLU, so it runs on the CPU
    as is; the clone's directory is put first on sys.path at run time because its imports are relative to it.
    """
    if not repo:
        raise ReferenceUnavailable(
            "official CSENet code not given (--csenet-repo PATH to a tjpulkl/BSSGNet clone)"
        )
    network_file = os.path.join(repo, "networks", "BSSGNet.py")
    if not os.path.isfile(network_file):
        raise ReferenceUnavailable(f"{network_file} not found: --csenet-repo must be a tjpulkl/BSSGNet clone")
    if repo not in sys.path:
        sys.path.insert(0, repo)
    try:
        return importlib.import_module("networks.BSSGNet")
    except Exception as error:  # an incompatible clone: report it in the row instead of failing the run
        raise ReferenceUnavailable(f"cannot import {network_file}: {error}") from error


def build_official_csenet(config_name: str, device: torch.device, repo: Optional[str]) -> Implementation:
    """The official CSENet network (random weights) for a csenet recipe."""
    from humanparse.configs import load_config

    network = import_official_csenet(repo)
    config = load_config(config_name)
    height, width = config.model.input_size
    model = network.Res_Deeplab(num_classes=config.model.num_classes, img_width=width, img_height=height)
    model = model.to(device).eval()

    def forward(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(images)[0][2]  # [[seg1, seg2, seg3], [edge], [hpred, wpred]]: seg3 is the final map

    return Implementation("official CSENet", model, forward)


def build_reference(
    config_name: str, device: torch.device, csenet_repo: Optional[str] = None, mode: str = "TEST"
) -> Implementation:
    """The reference implementation of a recipe; raises ReferenceUnavailable when it cannot be built here."""
    kind = reference_name(config_name)
    if kind == "sssegmentation":
        return build_sssegmentation_ce2p(config_name, device, mode=mode)
    if kind == "csenet_official":
        return build_official_csenet(config_name, device, csenet_repo)
    raise ReferenceUnavailable(
        "no reference wired: the issue sets reference targets only for ce2p_resnet* (SSSegmentation) and csenet_*"
    )


def our_weights_from_reference(config_name: str, reference_state: Dict[str, torch.Tensor]) -> Dict[str, Any]:
    """The reference's state_dict converted into our key space (by the architecture's convert_checkpoint)."""
    from humanparse.configs import load_config
    from humanparse.models.builder import ARCHITECTURES

    arch = load_config(config_name).model.arch
    module = importlib.import_module(f"humanparse.models.{ARCHITECTURES[arch]}")
    return module.convert_checkpoint(dict(reference_state))


def build_pair(
    config_name: str, device: torch.device, precision: str, csenet_repo: Optional[str] = None
) -> Tuple[Implementation, Optional[Implementation], str]:
    """Ours and the reference with the SAME weights (the reference's random ones, converted to our keys).

    Returns (ours, reference or None, a note: why the reference is missing, or "").
    """
    from humanparse.models.builder import build_model

    model = build_model(config_name).eval().to(device)
    try:
        reference = build_reference(config_name, device, csenet_repo)
    except ReferenceUnavailable as error:
        return prepare_ours(model, device, precision), None, str(error)
    state = our_weights_from_reference(config_name, reference.module.state_dict())
    model.load_state_dict(state, strict=True)
    return prepare_ours(model, device, precision), reference, ""


# ---------------------------------------------------------------------------------------------------------------
# memory: one fresh subprocess per implementation


def measure_peak_memory(
    implementation: str,
    config_name: str = "",
    size: int = 473,
    precision: str = "fp32",
    device: str = "cpu",
    csenet_repo: Optional[str] = None,
    threads: Optional[int] = None,
    timeout: float = 600.0,
) -> float:
    """Peak memory (MiB) of one forward, over the built-model baseline, measured in a fresh Python process.

    `implementation` is "ours", "reference" or "conv" (a 64->64 3x3 conv, for tests). CPU: the growth of the
    process's maximum resident set size during the forward; CUDA: torch.cuda.max_memory_allocated growth.
    Raises ReferenceUnavailable when the subprocess cannot build the reference.
    """
    request = dict(
        implementation=implementation,
        config=config_name,
        size=size,
        precision=precision,
        device=device,
        csenet_repo=csenet_repo,
        threads=threads,
    )
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    code = "import sys; from humanparse.benchmark import _memory_probe; _memory_probe(sys.argv[1])"
    completed = subprocess.run(
        [sys.executable, "-c", code, json.dumps(request)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"memory probe failed (exit {completed.returncode}): {completed.stderr.strip()[-2000:]}"
        )
    result = json.loads(lines[-1])
    if "unavailable" in result:
        raise ReferenceUnavailable(result["unavailable"])
    return float(result["peak_mib"])


def _read_status_mib(field_name: str) -> Optional[float]:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS mark where Linux allows it, and return the baseline (MiB) to subtract."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # "5" resets VmHWM to the current RSS
        return _read_status_mib("VmRSS") or 0.0
    except OSError:
        return _peak_rss_mib()


def _peak_rss_mib() -> float:
    """The process's peak resident set (MiB): VmHWM on Linux, else getrusage's maxrss."""
    peak = _read_status_mib("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _memory_probe(request_json: str) -> None:
    """Subprocess entry of measure_peak_memory: build, measure one forward, print a JSON line."""
    request = json.loads(request_json)
    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    device = torch.device(request["device"])
    size = int(request["size"])
    try:
        if request["implementation"] == "conv":
            conv = nn.Conv2d(64, 64, 3, padding=1).to(device).eval()
            runner = Implementation("conv", conv, lambda images: conv(images[:, :1].expand(-1, 64, -1, -1)))
        elif request["implementation"] == "ours":
            runner = build_ours(request["config"], device, request["precision"])
        else:
            runner = build_reference(request["config"], device, request.get("csenet_repo"))
    except ReferenceUnavailable as error:
        print(json.dumps({"unavailable": str(error)}))
        return
    images = torch.randn(1, 3, size, size, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        baseline = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode():
            runner.forward(images)
        torch.cuda.synchronize(device)
        peak = (torch.cuda.max_memory_allocated(device) - baseline) / 2**20
    else:
        baseline = _reset_peak_rss()
        with torch.inference_mode():
            runner.forward(images)
        peak = _peak_rss_mib() - baseline
    print(json.dumps({"peak_mib": peak}))


# ---------------------------------------------------------------------------------------------------------------
# one comparison row


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
        return _measured_speedup(self.ours_ms, self.theirs_ms)

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


def _cell(attribute: str, value: Any) -> str:
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
    body = [[_cell(attribute, getattr(row, attribute)) for _, attribute in COLUMNS] for row in rows]
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
    try:
        device = torch.device(settings.device)
    except RuntimeError as error:
        raise ConfigError(f"--device must be cpu or cuda[:N], not {settings.device!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda given but CUDA is not available")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    return device


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
    """Our network exported to ONNX (humanparse.export) as an onnxruntime CPU session; None (with a note) if not."""
    import tempfile

    try:
        import onnxruntime
    except ImportError:
        row.notes.append("onnxruntime: not installed (pip install 'humanparse[onnx]')")
        return None
    from humanparse.export import export_onnx

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
    lines = [
        f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}",
        f"convolution peak ({precision}, 256->256 3x3 at 119x119): {peak_gflops:.0f} GFLOP/s",
    ]
    if device.type == "cuda":
        lines.insert(1, f"GPU: {torch.cuda.get_device_name(device)}")
    elif precision == "bf16":
        _, note = cpu_bf16_support()
        lines.append(note)
    return lines


def run_benchmark(config_names: Sequence[str], settings: Settings) -> str:
    """Benchmark every recipe and return the report: machine summary, then the table and its notes."""
    device = check_settings(settings)
    peak = conv_peak_gflops(device, settings.precision, repeats=max(2, settings.repeats))
    rows = [benchmark_config(name, settings, peak_gflops=peak) for name in config_names]
    return "\n".join(machine_summary(device, settings.precision, peak) + ["", format_table(rows)])


# ---------------------------------------------------------------------------------------------------------------
# training step


@dataclass
class TrainRow:
    """One line of the training-step table."""

    config: str
    batch: int
    crop: int
    ours_ms: Optional[float] = None
    theirs_ms: Optional[float] = None
    ours_loss: Optional[float] = None
    theirs_loss: Optional[float] = None
    notes: List[str] = field(default_factory=list)

    @property
    def speedup(self) -> Optional[float]:
        return _measured_speedup(self.ours_ms, self.theirs_ms)

    @property
    def verdict(self) -> str:
        if self.speedup is None:
            return "-"
        return "PASS" if self.speedup >= TRAIN_SPEEDUP_TARGET else "MISS"


def format_train_table(rows: Sequence[TrainRow]) -> str:
    """A Markdown table of training-step rows, then their notes."""
    header = "| config | batch x crop | ours ms | ref ms | speedup | ours loss | ref loss | target | result |"
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = [
            row.config,
            f"{row.batch} x {row.crop}",
            _cell("ours_ms", row.ours_ms),
            _cell("theirs_ms", row.theirs_ms),
            _cell("speedup", row.speedup),
            "n/a" if row.ours_loss is None else f"{row.ours_loss:.4f}",
            "n/a" if row.theirs_loss is None else f"{row.theirs_loss:.4f}",
            f"{TRAIN_SPEEDUP_TARGET:.2f}x",
            row.verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {row.config}: {note}" for row in rows for note in row.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def benchmark_train_step(config_name: str, settings: Settings, batch: int = 2, crop: int = 473) -> TrainRow:
    """Time forward + backward + SGD step of our CE2P with CE2PLoss against SSSegmentation's CE2P in TRAIN mode.

    Both start from the same weights and see the same images and targets (labels without ignored pixels, edges
    in {0, 1}), so the first step's losses should agree. SSSegmentation computes its own three cross-entropies
    (with its class-balanced edge weights) inside its forward; that is what it trains with.
    """
    from humanparse.configs import load_config
    from humanparse.losses import build_loss
    from humanparse.models.builder import build_model

    device = check_settings(settings)
    config = load_config(config_name)
    row = TrainRow(config=config_name, batch=batch, crop=crop)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, crop, crop, generator=generator).to(device)
    labels = torch.randint(0, config.model.num_classes, (batch, crop, crop), generator=generator).to(device)
    edges = (torch.rand(batch, crop, crop, generator=generator) < 0.1).long().to(device)

    model = build_model(config).to(device).train()
    criterion = build_loss(config)
    try:
        BuildSegmentor, SSSegInputStructure = import_sssegmentation()
        if reference_name(config_name) != "sssegmentation":
            raise ReferenceUnavailable("the training-step comparison is wired for ce2p_resnet* recipes only")
        theirs = BuildSegmentor(ssseg_ce2p_config(config_name, config.model.num_classes), mode="TRAIN")
        theirs = theirs.to(device).train()
        model.load_state_dict(our_weights_from_reference(config_name, theirs.state_dict()), strict=True)
    except ReferenceUnavailable as error:
        theirs = None
        row.notes.append(f"reference: {error}")

    def sgd(parameters) -> torch.optim.Optimizer:
        return torch.optim.SGD(parameters, lr=1e-3, momentum=0.9, weight_decay=5e-4)

    our_optimizer = sgd(model.parameters())
    losses: Dict[str, float] = {}

    def our_step() -> None:
        our_optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(images), {"label": labels, "edge": edges})["loss"]
        loss.backward()
        our_optimizer.step()
        losses.setdefault("ours", float(loss.detach()))

    calls: Dict[str, Callable[[], Any]] = {"ours": our_step}
    if theirs is not None:
        their_optimizer = sgd(theirs.parameters())
        data = SSSegInputStructure(mode="TRAIN", images=images, seg_targets=labels, edge_targets=edges)

        def their_step() -> None:
            their_optimizer.zero_grad(set_to_none=True)
            with warnings.catch_warnings():  # SSSegmentation's loss warns about new_tensor on every call
                warnings.simplefilter("ignore", UserWarning)
                loss = theirs(data).loss
            loss.backward()
            their_optimizer.step()
            losses.setdefault("theirs", float(loss.detach()))

        calls["theirs"] = their_step
    # the first step (the warm-up) runs from identical weights, so its losses are comparable
    times = time_calls(calls, repeats=settings.repeats, warmup=max(1, settings.warmup), device=device)
    row.ours_ms = 1000 * median(times["ours"])
    row.ours_loss = losses.get("ours")
    if theirs is not None:
        row.theirs_ms = 1000 * median(times["theirs"])
        row.theirs_loss = losses.get("theirs")
    return row


# ---------------------------------------------------------------------------------------------------------------
# reduced precision on a trained model


@dataclass
class PrecisionAgreement:
    """Reduced precision against fp32 on a trained model's validation images (labels at original size)."""

    config: str
    precision: str
    images: int
    argmax_agreement: float
    relative_error: float

    @property
    def verdict(self) -> str:
        ok = (
            self.argmax_agreement >= BF16_MIN_ARGMAX_AGREEMENT
            and self.relative_error <= BF16_MAX_RELATIVE_ERROR
        )
        return "PASS" if ok else "MISS"

    def __str__(self) -> str:
        return (
            f"{self.config} {self.precision} vs fp32 on {self.images} validation images: argmax agreement "
            f"{100 * self.argmax_agreement:.2f}% (target >= {100 * BF16_MIN_ARGMAX_AGREEMENT:.0f}%), logits "
            f"relative error {self.relative_error:.1e} (target <= {BF16_MAX_RELATIVE_ERROR:.0e}): {self.verdict}"
        )


def precision_agreement(
    checkpoint: str, data_root: str, precision: str = "bf16", device: str = "cpu", limit: int = 20
) -> PrecisionAgreement:
    """Compare `precision` with fp32 for a humanparse checkpoint (its own config) on up to `limit` val images."""
    from humanparse.configs import Config
    from humanparse.data.datasets import build_dataset
    from humanparse.engine.predictor import Predictor, load_model
    from humanparse.models.weights import read_checkpoint

    state = read_checkpoint(checkpoint)
    if not isinstance(state, dict) or not state.get("config"):
        raise ConfigError(f"{checkpoint}: not a humanparse checkpoint with its config (train or convert one)")
    config = Config.from_dict(state["config"])
    config.data.root = data_root
    model = load_model(config, checkpoint, device)
    full = Predictor(config, model=model, device=device)
    reduced = Predictor(config, model=model, device=device, precision=precision)
    dataset = build_dataset(config, config.data.val_split, train=False)
    agree = total = 0
    squared_error = squared_norm = 0.0
    count = min(limit, len(dataset))
    for index in range(count):
        image, _ = dataset.read(index)
        reference = torch.from_numpy(full.predict_logits(image)).double()
        logits = torch.from_numpy(reduced.predict_logits(image)).double()
        agree += int((logits.argmax(0) == reference.argmax(0)).sum())
        total += reference[0].numel()
        squared_error += float((logits - reference).pow(2).sum())
        squared_norm += float(reference.pow(2).sum())
    return PrecisionAgreement(
        config.name,
        precision,
        count,
        agree / max(total, 1),
        (squared_error / max(squared_norm, 1e-30)) ** 0.5,
    )


# ---------------------------------------------------------------------------------------------------------------
# test-time augmentation against its forward passes


@dataclass
class TTACost:
    """Multi-scale (+ flip) prediction of one image against the sum of its forward passes run one by one."""

    config: str
    scales: Tuple[float, ...]
    flip: bool
    tta_ms: float
    passes_ms: float

    @property
    def ratio(self) -> float:
        return self.tta_ms / self.passes_ms

    @property
    def verdict(self) -> str:
        return "PASS" if self.ratio <= 1.0 else "MISS"

    def __str__(self) -> str:
        passes = len(self.scales) * (2 if self.flip else 1)
        scales = "/".join(f"{s:g}" for s in self.scales)
        return (
            f"{self.config}: scales {scales}{' + flip' if self.flip else ''}: prediction {self.tta_ms:.0f} ms, "
            f"its {passes} forward passes one by one {self.passes_ms:.0f} ms, ratio {self.ratio:.2f} "
            f"(target <= 1.00): {self.verdict}"
        )


def tta_cost(
    config_name: str,
    settings: Settings,
    scales: Sequence[float] = (0.75, 1.0, 1.25),
    flip: bool = True,
) -> TTACost:
    """Time `Predictor` with `scales` and `flip` on one random photo against its forward passes one at a time."""
    import math

    import numpy as np
    import torch.nn.functional as F

    from humanparse.configs import get_config
    from humanparse.engine.predictor import Predictor
    from humanparse.models.builder import build_model

    device = check_settings(settings)
    config = get_config(config_name)
    model = build_model(config).eval()
    predictor = Predictor(
        config, model=model, device=str(device), scales=scales, flip=flip, precision=settings.precision
    )
    photo = np.random.default_rng(0).integers(
        0, 256, (settings.size, settings.size * 3 // 4, 3), dtype=np.uint8
    )
    images = predictor.transform(photo)["image"][None].to(device)
    height, width = images.shape[-2:]
    scaled = [
        F.interpolate(
            images,
            size=(math.floor(height * s), math.floor(width * s)),
            mode="bilinear",
            align_corners=config.eval.protocol == "affine",
        )
        for s in scales
    ]

    def passes() -> None:
        with torch.inference_mode():
            for batch in scaled:
                for _ in range(2 if flip else 1):
                    predictor.tta.forward(batch)

    times = time_calls(
        {"tta": lambda: predictor.predict_batch([photo]), "passes": passes},
        settings.repeats,
        settings.warmup,
        device,
    )
    return TTACost(
        config_name, tuple(scales), flip, 1000 * median(times["tta"]), 1000 * median(times["passes"])
    )
