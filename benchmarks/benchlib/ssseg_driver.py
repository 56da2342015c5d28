"""SSSegmentation 1.7.0's CE2P as a process over a folder of photos, one photo at a time, the way its own test
and inference scripts run a photo: its builder from its config, its checkpoint layout, its test transforms
(Resize to the input size, Normalize with to_rgb, ToTensor), `auginference` (single scale, no flip), the logits
resized back to the photo with its `align_corners`, argmax; a grey label PNG per photo.

Its scripts need a config file and a dataset folder; the PyPI sdist ships no configs, so the segmentor config is
`references.ssseg_ce2p_config` and the test pipeline of its LIP configs is spelled below.

  cd benchmarks && python -m benchlib.ssseg_driver ce2p_resnet50os8_lip --num-classes 20 --input-size 473 473 \
      WEIGHTS PHOTOS OUT --threads 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import torch

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def test_pipeline(input_size: Tuple[int, int]) -> List[dict]:
    """SSSegmentation's LIP test data pipeline (configs/_base_/datasets/lip_473x473.py) for an input size."""
    return [
        {"type": "Resize", "output_size": tuple(input_size), "keep_ratio": False, "scale_range": None},
        {"type": "Normalize", "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]},
        {"type": "ToTensor"},
    ]


def build(config_name: str, num_classes: int, input_size: Tuple[int, int]):
    """SSSegmentation's CE2P in TEST mode for a recipe, and its test transforms (after the import shim)."""
    from benchlib.references import import_sssegmentation, ssseg_ce2p_config

    BuildSegmentor, _ = import_sssegmentation()
    from ssseg.modules.datasets.pipelines import BuildDataTransform, Compose

    segmentor = BuildSegmentor(ssseg_ce2p_config(config_name, num_classes), mode="TEST")
    transforms = Compose([BuildDataTransform(step) for step in test_pipeline(input_size)])
    return segmentor, transforms


def recipe_arguments(config_name: str) -> List[str]:
    """What the driver needs of our recipe, as arguments: the process itself imports no humanparse."""
    from humanparse.configs import load_config

    config = load_config(config_name)
    height, width = config.eval.input_size
    return [
        config_name,
        "--num-classes",
        str(config.model.num_classes),
        "--input-size",
        str(height),
        str(width),
    ]


def command(
    config_name: str, weights: Path, photos: Path, out: Path, threads: Optional[int] = None
) -> List[str]:
    """The command line of the driver on a folder of photos."""
    extra = ["--threads", str(threads)] if threads else []
    return [sys.executable, "-m", "benchlib.ssseg_driver", *recipe_arguments(config_name), str(weights),
            str(photos), str(out), *extra]  # fmt: skip


def save_weights(config_name: str, path: Path, images: torch.Tensor, seed: int = 0) -> Path:
    """Seeded random weights in SSSegmentation's checkpoint layout (``{"model": state_dict}``), BatchNorms set
    on `images` (see `calibrate_batch_norms`); humanparse loads the same file (its SSSegmentation converter)."""
    from benchlib.references import calibrate_batch_norms, import_sssegmentation
    from humanparse.configs import load_config

    config = load_config(config_name)
    torch.manual_seed(seed)
    segmentor, _ = build(config_name, config.model.num_classes, tuple(config.eval.input_size))
    segmentor.eval()
    _, SSSegInputStructure = import_sssegmentation()

    def forward(images: torch.Tensor) -> torch.Tensor:
        return segmentor(SSSegInputStructure(mode="TEST", images=images)).seg_logits

    calibrate_batch_norms(segmentor, forward, images, seed)
    torch.save({"model": segmentor.state_dict()}, path)
    return path


def parse_folder(
    config_name: str, num_classes: int, input_size: Tuple[int, int], weights: Path, photos: Path, out: Path
) -> int:
    """Label PNGs of every photo in `photos` (sorted), written to `out`; returns how many."""
    import cv2
    import torch.nn.functional as F

    segmentor, transforms = build(config_name, num_classes, input_size)
    segmentor.load_state_dict(torch.load(weights, map_location="cpu")["model"])
    segmentor.eval()
    out.mkdir(parents=True, exist_ok=True)
    paths = sorted(p for p in photos.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
    with torch.no_grad():
        for path in paths:
            image = cv2.imread(str(path))  # what its dataset's read() does: BGR
            height, width = image.shape[:2]
            sample = transforms({"image": image, "height": height, "width": width})
            logits_list = segmentor.auginference(sample["image"].unsqueeze(0).float())
            logits_list = [
                F.interpolate(
                    logits, size=(height, width), mode="bilinear", align_corners=segmentor.align_corners
                )
                for logits in logits_list
            ]
            labels = torch.argmax((sum(logits_list) / len(logits_list))[0], dim=0).numpy().astype("uint8")
            cv2.imwrite(str(out / f"{path.stem}.png"), labels)
    return len(paths)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("config", help="a ce2p_resnet* recipe (its depth and output stride)")
    parser.add_argument("--num-classes", type=int, required=True)
    parser.add_argument("--input-size", type=int, nargs=2, required=True, metavar=("HEIGHT", "WIDTH"))
    parser.add_argument("weights", type=Path, help="a checkpoint in SSSegmentation's layout")
    parser.add_argument("photos", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    parse_folder(args.config, args.num_classes, tuple(args.input_size), args.weights, args.photos, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
