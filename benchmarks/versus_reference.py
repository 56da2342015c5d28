"""`humanparse predict` against the reference scripts as whole processes, process start included (issue 23).

On a folder of synthetic 640x480 JPEG people, with the same seeded random weights on both sides (speed does not
depend on them; their BatchNorms are set on other synthetic people so that the label maps are not flat):

* schp_resnet101_lip: SCHP's own `simple_extractor.py` (`--schp-repo`, a clone of
  GoGoDuck912/Self-Correction-Human-Parsing; run on the CPU with stand-ins for InPlace-ABN and, where it is
  missing, torchvision's transforms) against `humanparse predict schp_resnet101_lip WEIGHTS PHOTOS`;
* ce2p_resnet*: a process that runs SSSegmentation 1.7.0's CE2P as its test script does, one photo at a time
  (`benchlib/ssseg_driver.py`), against `humanparse predict CONFIG WEIGHTS PHOTOS`.

Each side runs once untimed first (reported as its cold first run: for ours, an empty kernel-choice cache), then
`--rounds` rounds in which every side runs once, the order reversed every other round; the figure is the median
per side. Ours runs in fp32 and, where the CPU has native bf16 (AVX512_BF16 or AMX), bf16; with `--int8`, also
the OpenVINO int8 file of `humanparse quantize` (calibrated on other synthetic people, cached in `--work`). The
references always run fp32. Labels: the share of label pixels equal to the reference's (fp32 >= 99.9%).

  python benchmarks/versus_reference.py --schp-repo /path/to/Self-Correction-Human-Parsing --images 16 --rounds 3
  python benchmarks/versus_reference.py --schp-repo /path/to/Self-Correction-Human-Parsing --int8
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import shutil
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from benchlib.processes import ProcessFailed, benchmark_env, label_equality, round_order, timed_run
from benchlib.targets import FP32_MIN_LABEL_EQUALITY, INT8_PROCESS_SPEEDUP_TARGETS, PROCESS_SPEEDUP_TARGETS

BENCHMARKS = Path(__file__).resolve().parent

SCHP = "schp_resnet101_lip"
DEFAULT_CONFIGS = [SCHP, "ce2p_resnet50os8_lip"]
PHOTO_SIZE = (480, 640)  # height, width
# fp32 seconds per 640x480 photo on 2 quiet cores (SCHP R-101 ~0.5 s measured; the others scaled by their
# multiply-adds: 136 / 293 / 429 GFLOP at 473x473), rounded up; process start on top
SECONDS_PER_PHOTO = {SCHP: 0.6, "ce2p_resnet50os8_lip": 1.3, "ce2p_resnet101os8_lip": 1.9}
UNKNOWN_SECONDS_PER_PHOTO = 2.0
PROCESS_START_S = 5.0
QUANTIZE_S = 120.0  # one network, once (cached)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from humanparse.inference.pipeline import available_cores
    from humanparse.zoo.cache import cache_root

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", nargs="+", default=DEFAULT_CONFIGS,
        help=f"schp_resnet101_lip and/or ce2p_resnet* recipes (default {' '.join(DEFAULT_CONFIGS)})",
    )  # fmt: skip
    parser.add_argument("--schp-repo", metavar="PATH", help="a clone of Self-Correction-Human-Parsing")
    parser.add_argument("--images", type=int, default=16, help="photos in the timed folder (default 16)")
    parser.add_argument("--rounds", type=int, default=3, help="timed alternating rounds (default 3)")
    parser.add_argument(
        "--threads", type=int, default=available_cores(),
        help="torch threads of every process, ours and the references' (default: the cores, here %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"],
        help="ours (default fp32 bf16; bf16 only where the CPU has it natively); the references run fp32",
    )  # fmt: skip
    parser.add_argument("--int8", action="store_true", help="also `humanparse quantize` to OpenVINO int8")
    parser.add_argument("--calib", type=int, default=8, help="int8 calibration photos (default 8)")
    parser.add_argument(
        "--allow-slow-bf16", action="store_true",
        help="run bf16 on a CPU without native bf16 too (to test the script; such figures mean nothing)",
    )  # fmt: skip
    parser.add_argument(
        "--budget-minutes", type=float, default=25.0,
        help="fewer rounds (at least 1, said so) when the estimate after the first runs exceeds it (default 25)",
    )  # fmt: skip
    parser.add_argument(
        "--process-timeout", type=float, default=900.0, help="seconds one process may take (default 900)"
    )
    parser.add_argument(
        "--work", type=Path, default=cache_root() / "benchmarks" / "versus_reference",
        help="photos, weights, int8 files and outputs (default: humanparse's cache folder, "
        "benchmarks/versus_reference); weights and int8 files are reused",
    )  # fmt: skip
    return parser.parse_args(argv)


# ---------------------------------------------------------------------------------------------------------------
# what is compared


@dataclass
class Side:
    """One process to time: a reference script or `humanparse predict`."""

    label: str
    precision: str  # fp32, bf16, int8
    command: Callable[[Path], List[str]]  # output folder -> command line
    env: Dict[str, str]
    folder: str
    first_run: float = math.nan
    times: List[float] = field(default_factory=list)
    labels_equal: Optional[float] = None

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else math.nan


@dataclass
class Comparison:
    """A network: the reference and our sides, on the same weights."""

    config: str
    reference: Side
    ours: List[Side]
    notes: List[str] = field(default_factory=list)

    @property
    def sides(self) -> List[Side]:
        return [self.reference, *self.ours]


def speedup_target(precision: str, int8_dot_product: Optional[bool]) -> float:
    """Issue 23's target of a precision against the fp32 reference."""
    if precision == "int8":
        return INT8_PROCESS_SPEEDUP_TARGETS["vnni" if int8_dot_product else "other"]
    return PROCESS_SPEEDUP_TARGETS[precision]


def verdict(speedup: float, target: float, labels_equal: Optional[float], precision: str) -> str:
    """PASS when the speed-up meets the target and, in fp32, the labels are >= 99.9% equal to the reference's."""
    if math.isnan(speedup):
        return "-"
    labels_ok = precision != "fp32" or (labels_equal is not None and labels_equal >= FP32_MIN_LABEL_EQUALITY)
    return "PASS" if speedup >= target and labels_ok else "MISS"


def estimate_seconds(
    configs: Sequence[str], images: int, rounds: int, ours_per_config: int, int8: bool
) -> float:
    """A rough upper estimate of the whole run on 2 quiet cores: every side at the reference's fp32 speed, the
    untimed first runs included, quantization once per network."""
    total = 0.0
    for config in configs:
        per_run = PROCESS_START_S + images * SECONDS_PER_PHOTO.get(config, UNKNOWN_SECONDS_PER_PHOTO)
        total += (rounds + 1) * (1 + ours_per_config) * per_run + (QUANTIZE_S if int8 else 0.0)
    return total


def markdown_table(comparison: Comparison, images: int, int8_dot_product: Optional[bool]) -> List[str]:
    """The comparison as Markdown rows: side, median s, s / photo, speed-up, target, result, labels equal."""
    reference = comparison.reference.median
    lines = [
        "| side | median s | s / photo | speed-up | target | result | labels equal to the reference |",
        "|---|---|---|---|---|---|---|",
        f"| {comparison.reference.label} | {reference:.2f} | {reference / images:.3f} | 1.00x | | | |",
    ]
    for side in comparison.ours:
        speedup = reference / side.median if side.times else math.nan
        target = speedup_target(side.precision, int8_dot_product)
        equal = "-" if side.labels_equal is None else f"{100 * side.labels_equal:.3f}%"
        lines.append(
            f"| {side.label} | {side.median:.2f} | {side.median / images:.3f} | {speedup:.2f}x | >= {target:g}x "
            f"| {verdict(speedup, target, side.labels_equal, side.precision)} | {equal} |"
        )
    for side in comparison.sides:
        lines.append(
            f"| {side.label}, cold first run | {side.first_run:.2f} | {side.first_run / images:.3f} "
            f"| {reference / side.first_run:.2f}x | | | |"
        )
    return lines


# ---------------------------------------------------------------------------------------------------------------
# building the sides


def people(work: Path, images: int, calib: int) -> Path:
    """Timed photos in val_images/, calibration photos (BatchNorm statistics, int8) in train_images/."""
    from benchlib.photos import synthetic_people

    return synthetic_people(work / f"people-{images}-{calib}", train=calib + 2, val=images, size=PHOTO_SIZE)


def weights_for(config: str, work: Path, calibration: List[Path], schp_repo: Optional[str]) -> Path:
    """Seeded random weights in the reference's checkpoint layout, made once (both sides load the file)."""
    path = work / "weights" / f"{config}.pth"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"{config}: making seeded random weights ({path})", flush=True)
    # in a fresh process: SCHP's stand-ins (torchvision, `modules`) would otherwise meet SSSegmentation's import
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_make_weights, config, path.with_suffix(".partial"), calibration[:2], schp_repo).result()
    path.with_suffix(".partial").replace(path)
    return path


def _make_weights(config: str, path: Path, calibration: List[Path], schp_repo: Optional[str]) -> None:
    from benchlib.photos import photo_batch

    if config == SCHP:
        from benchlib.schp_reference import simple_extractor_weights

        simple_extractor_weights(schp_repo, path, images=photo_batch(calibration))
    else:
        from benchlib import ssseg_driver

        ssseg_driver.save_weights(config, path, photo_batch(calibration))


def int8_file(config: str, weights: Path, calibration: Path, count: int, work: Path, env, timeout) -> Path:
    """`humanparse quantize` to OpenVINO int8, reused while newer than the weights."""
    path = work / "int8" / f"{config}.xml"
    if path.is_file() and path.stat().st_mtime >= weights.stat().st_mtime:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"{config}: quantizing to OpenVINO int8 on {count} synthetic people", flush=True)
    command = [sys.executable, "-m", "humanparse", "quantize", config, str(weights), "--calib", str(calibration),
               "--num-images", str(count), "--out", str(path), "--no-progress"]  # fmt: skip
    seconds = timed_run(command, env, timeout)
    print(f"{config}: quantized to {path} in {seconds:.0f} s (cached for later runs)", flush=True)
    return path


def comparison_for(config: str, args: argparse.Namespace, photos: Path, calibration: Path, env_cache: Path):
    """The reference and our sides of one network."""
    from benchlib import ssseg_driver
    from benchlib.schp_reference import simple_extractor_command

    from humanparse.hardware import cpu_bf16_support

    env = benchmark_env(HUMANPARSE_CACHE=str(env_cache))
    calibration_photos = sorted(calibration.glob("*.jpg"))
    weights = weights_for(config, args.work, calibration_photos, args.schp_repo)
    if config == SCHP:
        reference = Side(
            "SCHP simple_extractor.py, fp32", "fp32",
            lambda out: simple_extractor_command(args.schp_repo, weights, photos, out, args.threads),
            env, "reference",
        )  # fmt: skip
    else:
        reference = Side(
            "SSSegmentation 1.7.0 CE2P (its test pipeline), fp32", "fp32",
            lambda out: ssseg_driver.command(config, weights, photos, out, args.threads),
            benchmark_env(BENCHMARKS, HUMANPARSE_CACHE=str(env_cache)), "reference",
        )  # fmt: skip
    comparison = Comparison(config, reference, [])

    def predict(model: List[str], extra: List[str]) -> Callable[[Path], List[str]]:
        return lambda out: [sys.executable, "-m", "humanparse", "predict", *model, str(photos), "--out", str(out),
                            "--threads", str(args.threads), "--no-progress", *extra]  # fmt: skip

    native_bf16, bf16_note = cpu_bf16_support()
    for precision in args.precision:
        if precision == "bf16" and not native_bf16:
            if not args.allow_slow_bf16:
                comparison.notes.append(f"bf16 not measured: {bf16_note}")
                continue
            comparison.notes.append(
                f"bf16 measured with --allow-slow-bf16: {bf16_note}; its figures mean nothing"
            )
        elif precision == "bf16":
            comparison.notes.append(f"bf16: {bf16_note}")
        side = Side(f"humanparse predict, {precision}", precision,
                    predict([config, str(weights)], ["--precision", precision]), env, precision)  # fmt: skip
        comparison.ours.append(side)
    if args.int8:
        model = int8_file(config, weights, calibration, args.calib, args.work, env, args.process_timeout)
        comparison.ours.append(Side("humanparse predict, int8 (OpenVINO)", "int8", predict([str(model)], []),
                                    env, "int8"))  # fmt: skip
        comparison.notes.append("int8: OpenVINO picks its own thread count (all cores)")
    if any(side.precision != "fp32" for side in comparison.ours):
        comparison.notes.append(
            "bf16 / int8 labels are compared with the fp32 reference on random weights, whose logits lie close "
            "together: their accuracy needs a trained network (benchmarks/precision_agreement.py, int8.py "
            "--accuracy)"
        )
    return comparison


# ---------------------------------------------------------------------------------------------------------------
# running


def run_side(side: Side, outputs: Path, timeout: float) -> float:
    out = outputs / side.folder
    shutil.rmtree(out, ignore_errors=True)
    return timed_run(side.command(out), side.env, timeout)


def first_runs(comparison: Comparison, outputs: Path, stems: List[str], timeout: float) -> float:
    """One untimed run per side (reference first), then the label checks; returns their total seconds."""
    outputs = outputs / comparison.config
    for side in comparison.sides:
        side.first_run = run_side(side, outputs, timeout)
        print(f"  {comparison.config}: {side.label}: cold first run {side.first_run:.1f} s", flush=True)
    for side in comparison.ours:
        side.labels_equal = label_equality(outputs / side.folder, outputs / "reference", stems)
    return sum(side.first_run for side in comparison.sides)


def timed_rounds(comparisons: List[Comparison], rounds: int, outputs: Path, timeout: float) -> None:
    """Every side once a round, each network's sides in turn order reversed every other round."""
    for round_index in range(rounds):
        for comparison in comparisons:
            for side in round_order(comparison.sides, round_index):
                side.times.append(run_side(side, outputs / comparison.config, timeout))
            figures = ", ".join(f"{side.label} {side.times[-1]:.1f} s" for side in comparison.sides)
            print(f"  round {round_index + 1}, {comparison.config}: {figures}", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    from benchlib.machine import machine_lines

    from humanparse.hardware import cpu_has_int8_dot_product

    args = parse_args(argv)
    unknown = [c for c in args.configs if c != SCHP and not c.startswith("ce2p_resnet")]
    if unknown:
        print(f"versus_reference.py: error: no reference for {', '.join(unknown)}", file=sys.stderr)
        return 2
    configs = list(args.configs)
    skipped = []
    if SCHP in configs and not args.schp_repo:
        configs.remove(SCHP)
        skipped.append(f"{SCHP}: not measured (give --schp-repo PATH, a Self-Correction-Human-Parsing clone)")
    if args.images < 1 or args.rounds < 1:
        print("versus_reference.py: error: --images and --rounds must be at least 1", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    machine = machine_lines()
    print("\n".join(machine + skipped), flush=True)
    started = time.perf_counter()
    ours_count = len(args.precision) + int(args.int8)
    estimate = estimate_seconds(configs, args.images, args.rounds, ours_count, args.int8)
    print(f"estimate on 2 quiet cores: about {estimate / 60:.0f} min or less (first runs and quantization "
          f"included; {args.work} keeps weights and int8 files for later runs)", flush=True)  # fmt: skip

    args.work.mkdir(parents=True, exist_ok=True)
    root = people(args.work, args.images, args.calib)
    photos, calibration = root / "val_images", root / "train_images"
    stems = sorted(path.stem for path in photos.glob("*.jpg"))
    kernel_cache = args.work / "humanparse-cache"
    shutil.rmtree(kernel_cache, ignore_errors=True)  # so that our first runs are cold
    outputs = args.work / "outputs"
    try:
        comparisons = [comparison_for(config, args, photos, calibration, kernel_cache) for config in configs]
        print("first runs (untimed in the medians; ours with an empty kernel-choice cache):", flush=True)
        per_round = sum(first_runs(c, outputs, stems, args.process_timeout) for c in comparisons)
        elapsed = time.perf_counter() - started
        rounds = args.rounds
        budget = 60 * args.budget_minutes - elapsed
        if rounds * per_round > budget:
            rounds = max(1, int(budget // per_round))
            print(f"note: {args.rounds} rounds of about {per_round:.0f} s would pass --budget-minutes "
                  f"{args.budget_minutes:g}; running {rounds}", flush=True)  # fmt: skip
        print(f"{rounds} timed rounds, about {rounds * per_round / 60:.1f} min:", flush=True)
        timed_rounds(comparisons, rounds, outputs, args.process_timeout)
    except ProcessFailed as error:
        print(f"versus_reference.py: a process failed: {error}", file=sys.stderr)
        return 1

    int8_dot_product = cpu_has_int8_dot_product()
    minutes = (time.perf_counter() - started) / 60
    print(f"\nMarkdown (the whole run took {minutes:.1f} min):\n\n" + "  \n".join(machine) + "\n")
    for comparison in comparisons:
        print(f"**{comparison.config}** against {comparison.reference.label}: {len(stems)} photos 640x480 "
              f"(synthetic people, seeded random weights), whole processes from start to the last label PNG, "
              f"median of {rounds} alternating rounds, {args.threads} torch threads each; s / photo: the "
              f"process's time over the photos\n")  # fmt: skip
        print("\n".join(markdown_table(comparison, len(stems), int8_dot_product)) + "\n")
        for side in comparison.sides:
            print(f"- {side.label}: rounds {', '.join(f'{t:.2f}' for t in side.times)} s")
        for note in comparison.notes:
            print(f"- {note}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
