"""Train a small CE2P on synthetic people on the CPU, evaluate it and draw its predictions (no download needed).

Generates a synthetic LIP-layout dataset, trains `ce2p_tiny_synthetic` (about five minutes on two CPU cores),
reports the validation mIoU and writes side-by-side pictures (image | prediction | ground truth).
--quick runs a one-minute version that checks the whole chain without reaching a useful accuracy.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import List

# (train images, val images, image size, epochs) of the full demo and of --quick
_FULL = (240, 40, 128, 20)
_QUICK = (16, 4, 96, 1)
_PREDICTED_IMAGES = 4
_PANEL_ZOOM = 2  # the 128 px images are small on a screen


@dataclass
class DemoResult:
    """What the demo produced: the validation mIoU (0..1) and the files to look at."""

    miou: float
    work_dir: Path
    pictures: List[Path]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="humanparse_demo", help="output folder (default ./humanparse_demo)")
    parser.add_argument(
        "--quick", action="store_true", help="a one-minute smoke run (too short to learn much)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic dataset")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run_demo(out: Path, *, quick: bool = False, seed: int = 0, progress: bool = True) -> DemoResult:
    """Synthesise data in `out/data`, train in `out/run`, draw predictions in `out/predictions`."""
    from humanparse.cli import main as cli_main
    from humanparse.configs import get_config
    from humanparse.engine.trainer import Trainer
    from humanparse.errors import DataError

    num_train, num_val, size, epochs = _QUICK if quick else _FULL
    data_root = out / "data"
    print(f"[1/3] generating {num_train} + {num_val} synthetic people ({size}x{size}) in {data_root}")
    synth = [
        "synth",
        "--layout",
        "lip",
        "--out",
        str(data_root),
        "--train",
        str(num_train),
        "--val",
        str(num_val),
    ]
    synth += ["--size", str(size), str(size), "--seed", str(seed), "--preview"]
    if not progress:
        synth.append("--no-progress")
    if cli_main(synth) != 0:
        raise DataError(f"could not write the synthetic dataset to {data_root} (the message above says why)")

    config = get_config("ce2p_tiny_synthetic")
    config.data.root = str(data_root)
    config.train.epochs = epochs
    if quick:
        config.data.num_workers = 0  # worker start-up would dominate a one-minute run
    print(f"[2/3] training {config.name} for {epochs} epoch(s) on the CPU; logs and plots in {out / 'run'}")
    summary = Trainer(config, out / "run", overwrite=True, progress=progress).fit()
    miou = float(summary["history"][-1]["mIoU"])

    print(f"[3/3] predicting {_PREDICTED_IMAGES} validation images")
    checkpoint = out / "run" / "best.pth"
    pictures = draw_predictions(config, checkpoint, out / "predictions", count=_PREDICTED_IMAGES)
    return DemoResult(miou=miou, work_dir=out / "run", pictures=pictures)


def draw_predictions(config, checkpoint: Path, out_dir: Path, count: int) -> List[Path]:
    """Write `image | prediction | ground truth` panels for the first `count` validation images."""
    import cv2

    from humanparse.data.datasets import build_dataset
    from humanparse.engine.prediction_io import overlay
    from humanparse.engine.predictor import Predictor

    out_dir.mkdir(parents=True, exist_ok=True)
    predictor = Predictor(config, str(checkpoint))
    dataset = build_dataset(config, config.data.val_split, train=False)
    written = []
    for index in range(min(count, len(dataset))):
        image, truth = dataset.read(index)  # the photo and label as stored, not the test transform's input
        prediction = predictor(image)
        panel = cv2.hconcat(
            [
                _titled(image, "image"),
                _titled(overlay(image, prediction), "prediction"),
                _titled(overlay(image, truth), "ground truth"),
            ]
        )
        path = out_dir / f"{Path(dataset.files.image_paths[index]).stem}.png"
        cv2.imwrite(str(path), panel)
        written.append(path)
    return written


def _titled(image, title: str):
    import cv2

    image = cv2.resize(image, None, fx=_PANEL_ZOOM, fy=_PANEL_ZOOM, interpolation=cv2.INTER_NEAREST)
    framed = cv2.copyMakeBorder(image, 24, 0, 0, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(framed, title, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return framed


def run(args: argparse.Namespace) -> int:
    result = run_demo(Path(args.out), quick=args.quick, seed=args.seed, progress=not args.no_progress)
    print(f"validation mIoU on synthetic people: {100 * result.miou:.1f}%")
    print(f"training log, checkpoints and curves: {result.work_dir}")
    print("predictions (image | prediction | ground truth):")
    for path in result.pictures:
        print(f"  {path}")
    return 0
