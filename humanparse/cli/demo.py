"""A tour on synthetic people (no download): `synth`, `train`, `test` and `predict` run as the real commands.

Generates a synthetic LIP-layout dataset, trains `ce2p_tiny_synthetic` on the CPU (about three minutes on two
cores), scores it with `humanparse test` (JSON report, per-class IoU chart, confusion matrix), parses the
validation images with `humanparse predict` (palette label maps, overlays) and draws
image | prediction | ground truth panels. It ends with the commands that do the same on your own data.
--quick is a smoke test of the whole chain in about a minute: too short to learn anything.
"""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

RECIPE = "ce2p_tiny_synthetic"
# (train images, val images, image size, epochs) of the full demo and of --quick
_FULL = (240, 40, 128, 12)
_QUICK = (16, 4, 96, 1)
_PANELS = 4
_PANEL_ZOOM = 2  # the 128 px images are small on a screen
SMOKE_TEST = "smoke test: too short to learn; run without --quick for a trained model"

# ---- the `humanparse predict` options the tour shows: the ONE place to add more -------------------------
# (append "--mask", "--legend" here once predict has them; the summary lists whatever predict writes)
PREDICT_OPTIONS: List[str] = [
    "--overlay",
    "--legend",
    "--mask",
    "person=foreground",
    "--mask",
    "upper=upper_clothes,coat",
]

# what a predict output file is, by the part of its name after the image's stem
_PREDICT_KINDS = {
    ".png": "indexed palette label maps <id>.png (pixel value = class index)",
    "_overlay.jpg": "overlays <id>_overlay.jpg (label colours over the photo, with a legend of the classes)",
    "_person.png": "masks <id>_person.png (0/255: every class but background)",
    "_upper.png": "masks <id>_upper.png (0/255: upper clothes and coat, as try-on preprocessing uses)",
    "failed.jsonl": "failed.jsonl (the photos that could not be read, with the reason)",
}


@dataclass
class DemoResult:
    """What the tour produced: the `test` mIoU (0..1), its report, and the files and commands to show."""

    miou: float
    out: Path
    report: Dict[str, object]
    folders: Dict[str, List[str]] = field(default_factory=dict)  # folder -> lines describing its files
    commands: List[List[str]] = field(default_factory=list)  # the humanparse commands the tour ran
    panels: List[Path] = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="humanparse_demo", help="output folder (default ./humanparse_demo)")
    parser.add_argument("--quick", action="store_true", help=f"a one-minute {SMOKE_TEST}")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the synthetic dataset and of the training (default 0)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _run_command(argv: List[str], commands: List[List[str]], what: str) -> None:
    """Run `humanparse ARGV` in this process; a failure raises DataError naming the step."""
    from humanparse.cli import main as cli_main
    from humanparse.errors import DataError

    commands.append(argv)
    if cli_main(argv) != 0:
        raise DataError(
            f"the demo's {what} step failed (`humanparse {shlex.join(argv)}`; the message above says why)"
        )


def run_demo(out: Path, *, quick: bool = False, seed: int = 0, progress: bool = True) -> DemoResult:
    """Write out/data (synth), out/run (train), out/test (test), out/predict (predict) and out/panels."""
    num_train, num_val, size, epochs = _QUICK if quick else _FULL
    if quick:
        print(f"--quick: a {SMOKE_TEST}")
    quiet = [] if progress else ["--no-progress"]
    data, run, test, predict = out / "data", out / "run", out / "test", out / "predict"
    commands: List[List[str]] = []

    print(f"[1/5] humanparse synth: {num_train} + {num_val} synthetic people ({size}x{size}) in {data}")
    synth = ["synth", "--layout", "lip", "--out", str(data), "--train", str(num_train), "--val", str(num_val)]
    synth.append("--overwrite")  # the demo's own folder: a rerun writes the same files again
    _run_command(
        synth + ["--size", str(size), str(size), "--seed", str(seed), "--preview"] + quiet, commands, "synth"
    )

    print(f"[2/5] humanparse train: {RECIPE} for {epochs} epoch(s) on the CPU in {run}")
    # no loader workers: on two cores they would only compete with the two compute threads
    train = ["train", RECIPE, "--data-root", str(data), "--work-dir", str(run), "--overwrite"]
    # the training's seed follows --seed too; seed 0 keeps the recipe's 1234, the run the README measured
    train += ["--epochs", str(epochs), "--set", "data.num_workers=0", f"train.seed={1234 + seed}"]
    _run_command(train + quiet, commands, "train")

    config, checkpoint = str(run / "config.yaml"), str(run / "best.pth")
    print(f"[3/5] humanparse test: scoring {checkpoint} on the {num_val} validation images")
    report_path = test / "report.json"
    _run_command(
        ["test", config, checkpoint, "--data-root", str(data), "--out", str(report_path)] + quiet,
        commands,
        "test",
    )

    print(f"[4/5] humanparse predict: parsing {data / 'val_images'}")
    from humanparse.cli import options

    options._noted.add(RECIPE)  # predict's note on the demo model is for real photos; these are synthetic
    predict_argv = ["predict", config, checkpoint, str(data / "val_images"), "--out", str(predict)]
    _run_command(predict_argv + PREDICT_OPTIONS + quiet, commands, "predict")

    print(f"[5/5] drawing image | prediction | ground truth panels in {out / 'panels'}")
    panels = draw_panels(data, predict, out / "panels", count=_PANELS)

    report = json.loads(report_path.read_text())
    stems = [path.stem for path in (data / "val_images").iterdir()]
    folders = {
        "data": [
            f"{num_train} + {num_val} synthetic people in LIP's layout; preview.png shows images beside labels"
        ],
        "run": [
            "`train`: best.pth, epoch_*.pth + latest.json, config.yaml, log.jsonl, train.log,",
            "curves loss.png, lr.png, val_miou.png",
        ],
        "test": [
            "`test`: report.json (mIoU, pixel_acc, mean_acc, fwIoU, per_class_iou, confusion_matrix),",
            "report_class_iou.png (per-class IoU chart), report_confusion.png (confusion matrix)",
        ],
        "predict": _prefixed("`predict`: ", describe_predictions(predict, stems)),
        "panels": [
            f"image | prediction | ground truth label maps, with a legend, for {len(panels)} validation images"
        ],
    }
    return DemoResult(
        miou=float(report["mIoU"]), out=out, report=report, folders=folders, commands=commands, panels=panels
    )


def describe_predictions(folder: Path, stems: List[str]) -> List[str]:
    """One line per kind of file `predict` wrote in `folder`, a kind being the name after the image's stem."""
    counts: Dict[str, int] = {}
    for path in sorted(folder.iterdir()):
        stem = max((s for s in stems if path.name.startswith(s)), key=len, default="")
        kind = path.name[len(stem) :] if stem else path.name
        counts[kind] = counts.get(kind, 0) + 1
    return [f"{count} {_PREDICT_KINDS.get(kind, kind)}" for kind, count in counts.items()]


def _prefixed(prefix: str, lines: List[str]) -> List[str]:
    return [prefix + lines[0]] + [" " * len(prefix) + line for line in lines[1:]]


def draw_panels(data: Path, predict: Path, out_dir: Path, count: int) -> List[Path]:
    """`image | prediction | ground truth` panels for the first validation images: the label maps `predict`
    wrote and the ground truth in the palette's colours, unblended, with a legend of the classes shown."""
    import cv2
    import numpy as np
    from PIL import Image

    from humanparse.configs import get_config
    from humanparse.data.datasets import build_dataset
    from humanparse.data.labels import dataset_classes
    from humanparse.inference.prediction_io import add_legend, colour_labels

    config = get_config(RECIPE)
    config.data.root = str(data)
    class_names = dataset_classes(config.data).class_names
    dataset = build_dataset(config, config.data.val_split, train=False)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(min(count, len(dataset))):
        image, truth = dataset.read(index)  # the photo and label as stored
        stem = Path(dataset.files.image_paths[index]).stem
        prediction = np.asarray(Image.open(predict / f"{stem}.png"))
        panel = cv2.hconcat(
            [
                _titled(image, "image"),
                _titled(colour_labels(prediction), "prediction"),
                _titled(colour_labels(truth), "ground truth"),
            ]
        )
        # the legend lists every class of either map; background is painted (black) in a label map
        shown = np.concatenate([prediction.ravel(), truth.ravel()])
        panel = add_legend(panel, shown[None, :], class_names, background=True)
        path = out_dir / f"{stem}.png"
        cv2.imwrite(str(path), panel)
        written.append(path)
    return written


def _titled(image, title: str):
    import cv2

    image = cv2.resize(image, None, fx=_PANEL_ZOOM, fy=_PANEL_ZOOM, interpolation=cv2.INTER_NEAREST)
    framed = cv2.copyMakeBorder(image, 24, 0, 0, 4, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    cv2.putText(framed, title, (4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return framed


def _command_line(argv: List[str]) -> str:
    return "humanparse " + shlex.join([a for a in argv if a != "--no-progress"])


def print_summary(result: DemoResult, quick: bool) -> None:
    """The closing screen: the score, each output folder with its files, and the commands to go further."""
    report = result.report
    scores = ", ".join(f"{key} {100 * float(report[key]):.1f}%" for key in ("pixel_acc", "mean_acc", "fwIoU"))
    print()
    if quick:
        print(f"--quick is a {SMOKE_TEST}")
    print(f"validation mIoU on synthetic people: {100 * result.miou:.1f}% ({scores})")
    print(f"\nwhat the demo wrote in {result.out}/:")
    for folder, lines in result.folders.items():
        print(f"  {folder + '/':<9} {lines[0]}")
        for line in lines[1:]:
            print(f"  {'':<9} {line}")
    print("  panels:")
    for path in result.panels:
        print(f"    {path}")
    print("\nthe commands the demo ran (run them again as they are):")
    for argv in result.commands:
        print(f"  {_command_line(argv)}")
    run = result.out / "run"
    print("\non your own data (a LIP-layout folder, or see README 'Datasets' for the others):")
    print(f"  humanparse check-data {RECIPE} --data-root DATA")
    print(f"  humanparse train {RECIPE} --data-root DATA --work-dir runs/mine")
    print(
        "  humanparse test runs/mine/config.yaml runs/mine/best.pth --data-root DATA --out runs/mine/report.json"
    )
    predict = ["predict", "runs/mine/config.yaml", "runs/mine/best.pth", "photos/", "--out", "parsed/"]
    print(f"  {_command_line(predict + PREDICT_OPTIONS)}")
    print("\nserve the demo's model behind a web page:")
    print(f"  humanparse serve {run / 'config.yaml'} {run / 'best.pth'}")


def run(args: argparse.Namespace) -> int:
    result = run_demo(Path(args.out), quick=args.quick, seed=args.seed, progress=not args.no_progress)
    print_summary(result, args.quick)
    return 0
