"""int8 on CPUs against the references running fp32 as their users run them, and int8 accuracy on a trained net.

Speed (whole predict per photo: read, test transform, network, back to the photo size, argmax; batch 1):
  * CE2P ResNet-101 OS8: ours (PyTorch fp32, ONNX Runtime and OpenVINO in fp32 and int8) against SSSegmentation
    1.7.0's CE2P in PyTorch fp32 (same weights; its resize-to-473 test pipeline, which ours reproduces);
  * SCHP ResNet-101: the same against SCHP's simple_extractor.py steps from a clone (--schp-repo), with a
    pure-PyTorch stand-in for InPlace-ABN (see benchlib/schp_reference.py).
  Implementations take turns photo by photo; the figure is the median over rounds of the mean time per photo.
  The weights are random (speed does not depend on them); calibration uses synthetic people.

Accuracy (--accuracy): trains CE2P ResNet-50 OS16 on synthetic people in WORK/train (resumable: run again to
continue; --train-epochs caps the total), then quantizes it with both backends (calibrated on training photos)
and reports the label agreement with fp32 and the mIoU of fp32 and int8 on the synthetic validation split. The
target needs fp32 validation mIoU >= 50 first; below that the script says so (benchlib/int8_accuracy.py, which
`benchmarks/segformer.py --accuracy` runs for a SegFormer-B0).

  python benchmarks/int8.py --threads 2 --schp-repo /path/to/Self-Correction-Human-Parsing
  python benchmarks/int8.py --accuracy --skip-speed
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from benchlib import int8_accuracy
from benchlib.int8_accuracy import CE2P_RESNET50

from humanparse.zoo.cache import cache_root

CE2P = "ce2p_resnet101os8_lip"
SCHP = "schp_resnet101_lip"
SPEED_TARGET = 2.5


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--work",
        default=str(cache_root() / "benchmarks" / "int8"),
        help="work folder: photos, model files, the trained network (default: humanparse's cache, "
        "~/.cache/humanparse or $HUMANPARSE_CACHE, /benchmarks/int8)",
    )
    parser.add_argument("--threads", type=int, default=2, help="threads of every runtime (default 2)")
    parser.add_argument("--photos", type=int, default=4, help="timed photos (default 4)")
    parser.add_argument("--calib", type=int, default=8, help="calibration photos (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds over the photos (default 3)")
    parser.add_argument(
        "--schp-repo", metavar="PATH", help="a clone of GoGoDuck912/Self-Correction-Human-Parsing"
    )
    parser.add_argument("--skip-speed", action="store_true", help="only the accuracy part")
    parser.add_argument("--networks", nargs="+", default=["ce2p", "schp"], choices=["ce2p", "schp"])
    parser.add_argument("--accuracy", action="store_true", help="train (resumable) and measure int8 accuracy")
    int8_accuracy.add_training_arguments(parser, CE2P_RESNET50, "224x224 crops, batch 8, lr 0.02")
    return parser.parse_args(argv)


def timed_rounds(parsers: Dict[str, Callable[[Path], np.ndarray]], photos: List[Path], rounds: int) -> Dict:
    """Median over rounds of the mean seconds per photo; the implementations take turns photo by photo."""
    for parse in parsers.values():  # warm-up: one-off costs (thread pools, kernel selection)
        parse(photos[0])
    per_round = {name: [] for name in parsers}
    for _ in range(rounds):
        totals = dict.fromkeys(parsers, 0.0)
        for photo in photos:
            for name, parse in parsers.items():
                start = time.perf_counter()
                parse(photo)
                totals[name] += time.perf_counter() - start
        for name in parsers:
            per_round[name].append(totals[name] / len(photos))
    return {name: statistics.median(values) for name, values in per_round.items()}


def ours(config, model, work: Path, calibration: List[Path], threads: int) -> Dict[str, Callable]:
    """Our Predictors: PyTorch fp32, and the fp32 and int8 files on ONNX Runtime and OpenVINO."""
    from humanparse.deploy.export import export_onnx
    from humanparse.deploy.quantize import quantize_model
    from humanparse.inference.predictor import Predictor
    from humanparse.inference.runtimes import onnxruntime_forward, openvino_forward

    work.mkdir(parents=True, exist_ok=True)
    fp32 = export_onnx(model, work / "fp32.onnx", tuple(config.eval.input_size), config=config)
    ov_int8 = work / "int8.xml"
    ort_int8 = work / "int8.onnx"
    details = {
        "openvino": quantize_model(config, model, calibration, ov_int8, "openvino"),
        "onnxruntime": quantize_model(config, model, calibration, ort_int8, "onnxruntime"),
    }
    print(f"  quantized: {details}", flush=True)
    return {
        "ours PyTorch fp32": Predictor(config, model=model),
        "ours ONNX Runtime fp32": Predictor(config, forward=onnxruntime_forward(fp32, threads=threads)),
        "ours OpenVINO fp32": Predictor(config, forward=openvino_forward(fp32, threads=threads)),
        "ours ONNX Runtime int8": Predictor(config, forward=onnxruntime_forward(ort_int8, threads=threads)),
        "ours OpenVINO int8": Predictor(config, forward=openvino_forward(ov_int8, threads=threads)),
    }


def ce2p_pair(work: Path, calibration: List[Path], threads: int):
    """SSSegmentation's CE2P (fp32, PyTorch, as its users run it) and ours with its weights."""
    import torch.nn.functional as F
    from benchlib.references import build_sssegmentation_ce2p, our_weights_from_reference

    from humanparse.configs import get_config
    from humanparse.data.io import read_image
    from humanparse.data.transforms import build_val_transform
    from humanparse.models.builder import build_model

    config = get_config(CE2P)
    reference = build_sssegmentation_ce2p(CE2P, torch.device("cpu"))
    model = build_model(config).eval()
    model.load_state_dict(our_weights_from_reference(CE2P, reference.module.state_dict()), strict=True)
    model.config = config
    transform = build_val_transform(config)  # SSSegmentation's resize + Normalize(to_rgb), op for op

    def parse(path: Path) -> np.ndarray:
        image = read_image(path)
        with torch.inference_mode():
            logits = reference.forward(transform(image)["image"].unsqueeze(0))
            logits = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
        return logits.argmax(1)[0].numpy()

    return {
        "SSSegmentation 1.7.0 CE2P fp32": parse,
        **ours(config, model, work / "ce2p", calibration, threads),
    }


def schp_pair(repo: str, work: Path, calibration: List[Path], threads: int):
    """SCHP's simple_extractor.py steps (fp32, PyTorch) and ours with its weights."""
    from benchlib.schp_reference import build_simple_extractor, our_schp_state

    from humanparse.configs import get_config
    from humanparse.models.builder import build_model

    config = get_config(SCHP)
    reference, parse = build_simple_extractor(repo, config.model.num_classes)
    model = build_model(config).eval()
    model.load_state_dict(our_schp_state(reference), strict=True)
    model.config = config
    return {
        "SCHP simple_extractor.py fp32": parse,
        **ours(config, model, work / "schp", calibration, threads),
    }


def speed(args: argparse.Namespace, work: Path) -> List[str]:
    from benchlib.photos import synthetic_people

    photos_root = synthetic_people(work / "photos", train=args.calib, val=args.photos)
    calibration = sorted((photos_root / "train_images").glob("*.jpg"))
    photos = sorted((photos_root / "val_images").glob("*.jpg"))
    lines = []
    builders = {"ce2p": lambda: ce2p_pair(work, calibration, args.threads)}
    if args.schp_repo:
        builders["schp"] = lambda: schp_pair(args.schp_repo, work, calibration, args.threads)
    elif "schp" in args.networks:
        lines.append("SCHP: not measured (give --schp-repo PATH, a clone of Self-Correction-Human-Parsing)")
    for name in args.networks:
        if name not in builders:
            continue
        print(f"{name}: building and quantizing", flush=True)
        parsers = builders[name]()
        seconds = timed_rounds(parsers, photos, args.rounds)
        reference_name = next(iter(parsers))
        reference, torch_fp32 = seconds[reference_name], seconds["ours PyTorch fp32"]
        lines += [
            f"\n{name}: {len(photos)} photos of 480x360, {args.rounds} rounds, {args.threads} threads",
            "",
        ]
        lines += [
            "| implementation | s / photo | speed-up vs reference | vs ours PyTorch fp32 |",
            "|---|---|---|---|",
        ]
        for implementation, value in seconds.items():
            lines.append(
                f"| {implementation} | {value:.3f} | {reference / value:.2f}x | {torch_fp32 / value:.2f}x |"
            )
        best_int8 = max(reference / seconds[k] for k in seconds if "int8" in k)
        slower_fp32 = [
            k for k in seconds if "fp32" in k and k.startswith("ours ") and seconds[k] > torch_fp32
        ]
        lines.append(
            f"\nint8 target >= {SPEED_TARGET}x the reference: best {best_int8:.2f}x "
            f"({'met' if best_int8 >= SPEED_TARGET else 'NOT met'})"
        )
        if slower_fp32:
            lines.append(f"fp32 backends slower than ours PyTorch fp32: {', '.join(slower_fp32)}")
        print("\n".join(lines[-len(seconds) - 6 :]), flush=True)
    return lines


def accuracy(args: argparse.Namespace, work: Path) -> List[str]:
    return int8_accuracy.measure_from_args(CE2P_RESNET50, work, args)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?")
    lines = [
        f"machine: {cpu}, {os.cpu_count()} cores, {args.threads} threads; python {platform.python_version()}"
    ]
    if not args.skip_speed:
        lines += speed(args, work)
    if args.accuracy:
        lines += accuracy(args, work)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
