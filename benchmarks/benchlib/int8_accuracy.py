"""int8 accuracy on a network trained here: train it on synthetic people (resumable), quantize it with both
backends (calibrated on training photos) and compare with fp32: label pixels equal and validation mIoU.

Random weights say nothing about int8 accuracy (input noise alone moves their argmax), so each benchmark trains
its own small proxy: CE2P ResNet-50 (`benchmarks/int8.py --accuracy`) and SegFormer-B0
(`benchmarks/segformer.py --accuracy`). The verdict needs the fp32 network to be trained enough first.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

AGREEMENT_TARGET = 0.99  # share of label pixels equal to fp32
MIOU_TARGET = 0.5  # points of validation mIoU lost at most
TRAINED_ENOUGH = 50.0  # fp32 synthetic validation mIoU below which the agreement is not judged


@dataclass(frozen=True)
class AccuracyNetwork:
    """A recipe trained on synthetic people as an int8 accuracy proxy."""

    recipe: str
    layout: str  # the `humanparse synth` layout of the recipe's label set
    overrides: Tuple[str, ...]  # the benchmark's own recipe values (size, batch, lr ...); --set adds to them
    epochs: int  # total training epochs (the default of --train-epochs)
    image_size: Tuple[int, int] = (256, 256)
    eval_interval: int = 5


# the full-size network, trained on 256x256 synthetic people in about an hour on 2 CPU cores (from scratch)
CE2P_RESNET50 = AccuracyNetwork(
    "ce2p_resnet50os16_lip",
    "lip",
    (
        "data.crop_size=[224,224]",
        "data.resize_size=[256,256]",
        "model.input_size=[224,224]",
        "eval.input_size=[224,224]",
        "train.batch_size=8",
        "train.lr=0.02",
        "data.num_workers=1",
    ),
    epochs=16,
)

# MiT-B0 + its 256-wide head on ATR's 18 classes (segformer_b2_clothes's label set and test protocol), from scratch
# (no ImageNet MiT file here): AdamW at 1e-3 without the head's 10x, 100 warm-up iterations instead of 1,500
SEGFORMER_B0 = AccuracyNetwork(
    "segformer_b2_clothes",
    "atr",
    (
        "model.arch_options={variant: b0}",
        "data.crop_size=[224,224]",
        "data.resize_size=[256,256]",
        "model.input_size=[224,224]",
        "eval.input_size=[224,224]",
        "train.batch_size=8",
        "train.lr=0.001",
        "train.head_lr_mult=1.0",
        "train.warmup_iterations=100",
        "data.num_workers=1",
    ),
    epochs=20,
    eval_interval=4,
)


def train(
    network: AccuracyNetwork, data: Path, run: Path, epochs: int, overrides: Sequence[str]
) -> Optional[Path]:
    """Train (or continue training) `network` in `run`; returns its best checkpoint."""
    from benchlib.training import train_recipe

    return train_recipe(
        network.recipe, data, run, epochs, list(network.overrides) + list(overrides), network.eval_interval
    )


def add_training_arguments(parser: argparse.ArgumentParser, network: AccuracyNetwork, own: str) -> None:
    """--train-epochs, --train-images, --val-images and --set of an --accuracy mode; `own` names the benchmark's
    own recipe values, which --set comes after."""
    parser.add_argument(
        "--train-epochs",
        type=int,
        default=network.epochs,
        help=f"total training epochs (default {network.epochs})",
    )
    parser.add_argument(
        "--train-images", type=int, default=300, help="synthetic training people (default 300)"
    )
    parser.add_argument("--val-images", type=int, default=40, help="synthetic validation people (default 40)")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help=f"recipe overrides of the accuracy network after the benchmark's own ({own})",
    )


def measure_from_args(network: AccuracyNetwork, work: Path, args: argparse.Namespace) -> List[str]:
    """`measure` with the options `add_training_arguments` (and the script's --calib) added."""
    return measure(
        network,
        work,
        train_images=args.train_images,
        val_images=args.val_images,
        calib=args.calib,
        epochs=args.train_epochs,
        overrides=args.overrides,
    )


def measure(
    network: AccuracyNetwork,
    work: Path,
    *,
    train_images: int,
    val_images: int,
    calib: int,
    epochs: Optional[int] = None,
    overrides: Sequence[str] = (),
) -> List[str]:
    """Train `network` in WORK/train on WORK/synth, quantize it to WORK/accuracy/int8.{xml,onnx}, and report."""
    from benchlib.photos import synthetic_people
    from humanparse.configs import get_config
    from humanparse.deploy.quantize import quantize

    data = synthetic_people(work / "synth", train_images, val_images, network.image_size, network.layout)
    checkpoint = train(network, data, work / "train", epochs or network.epochs, overrides)
    if checkpoint is None:
        return ["accuracy: no trained checkpoint yet (training did not reach an evaluation); run again"]
    config = get_config(network.recipe).override(list(network.overrides) + list(overrides))
    calibration, held_out = _split_photos(data, network.layout, calib)
    lines = [
        f"\naccuracy: {network.recipe} ({' '.join(network.overrides + tuple(overrides))}) trained on synthetic "
        f"people ({checkpoint}), {len(held_out)} val photos"
    ]
    for out in (work / "accuracy" / "int8.xml", work / "accuracy" / "int8.onnx"):
        report = quantize(
            config, checkpoint, calibration + held_out, out, num_images=len(calibration), val_root=data
        )
        lines += [f"{report.backend}: " + "; ".join(report.lines()[1:]) + f" -> {verdict(report)}"]
        print(lines[-1], flush=True)
    return lines


def _split_photos(data: Path, layout: str, calib: int) -> Tuple[List[Path], List[Path]]:
    """The first `calib` training photos (calibration) and every validation photo (held out)."""
    if layout == "lip":  # LIP: {train,val}_images/
        return sorted((data / "train_images").glob("*.jpg"))[:calib], sorted(
            (data / "val_images").glob("*.jpg")
        )
    ids = {
        split: (data / f"{split}_id.txt").read_text().split() for split in ("train", "val")
    }  # ATR: JPEGImages/
    photo = lambda name: data / "JPEGImages" / f"{name}.jpg"  # noqa: E731
    return [photo(name) for name in ids["train"][:calib]], [photo(name) for name in ids["val"]]


def verdict(report) -> str:
    """ "met" / "NOT met" against the targets, or why it is not judged (an untrained network agrees trivially)."""
    fp32 = report.miou["fp32"]
    if fp32 < TRAINED_ENOUGH:
        return f"not judged: fp32 mIoU below {TRAINED_ENOUGH}, the network is not trained enough"
    met = report.agreement >= AGREEMENT_TARGET and abs(report.miou["int8"] - fp32) <= MIOU_TARGET
    return "met" if met else "NOT met"
