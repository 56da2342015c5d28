"""Train data pipeline throughput: images/s of one loader worker (read + augment), ours against SSSegmentation.

Writes synthetic 640x480 JPEG images and PNG labels to a temporary folder, then times, in this single process
with one thread (as in a DataLoader worker): our 473x473 train transforms of the SSSegmentation LIP recipe and
of the CSENet (affine) recipe, each reading its files through `humanparse.data.io`; and SSSegmentation 1.7.0's
own LIP train pipeline built from its transform classes, reading as its dataset does (cv2.imread, label as
float32). The official CSENet pipeline has no runnable counterpart here (it needs torchvision and CUDA for its
edges), so that row compares with the SSSegmentation pipeline too.

    python benchmarks/data_pipeline.py [--images 60] [--warmup 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np
import torch

from humanparse.configs import get_config
from humanparse.data.io import read_image, read_label
from humanparse.data.transforms import build_train_transform

IMAGE_SIZE = (480, 640)  # (h, w)
LIP_PAIRS = [(15, 14), (17, 16), (19, 18)]
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def write_samples(folder: Path, count: int, seed: int = 0) -> List[Tuple[str, str]]:
    """Synthetic smooth images (JPEG) and blocky 20-class labels (PNG); returns (image, label) paths."""
    rng = np.random.default_rng(seed)
    pairs = []
    for index in range(count):
        noise = rng.integers(0, 256, size=(IMAGE_SIZE[0] // 8, IMAGE_SIZE[1] // 8, 3), dtype=np.uint8)
        image = cv2.resize(noise, IMAGE_SIZE[::-1], interpolation=cv2.INTER_CUBIC)
        coarse = rng.integers(0, 20, size=(IMAGE_SIZE[0] // 40, IMAGE_SIZE[1] // 40)).astype(np.uint8)
        label = cv2.resize(coarse, IMAGE_SIZE[::-1], interpolation=cv2.INTER_NEAREST)
        image_path, label_path = folder / f"{index}.jpg", folder / f"{index}.png"
        cv2.imwrite(str(image_path), image)
        cv2.imwrite(str(label_path), label)
        pairs.append((str(image_path), str(label_path)))
    return pairs


def load_sssegmentation_transforms() -> Optional[types.ModuleType]:
    """SSSegmentation's transforms module, or None when it is not installed.

    Importing the `ssseg` package pulls in optional dependencies (pandas, dill) that the transforms do not use;
    when that import fails, the transforms file is loaded on its own with its two small helpers.
    """
    try:
        from ssseg.modules.datasets.pipelines import transforms

        return transforms
    except ImportError:
        pass
    spec = importlib.util.find_spec("ssseg")
    if spec is None or not spec.submodule_search_locations:
        return None
    modules = Path(list(spec.submodule_search_locations)[0]) / "modules"

    def package(name: str, path: Path) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module
        return module

    def load(name: str, path: Path) -> types.ModuleType:
        file_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = module
        file_spec.loader.exec_module(module)
        return module

    package("_ssseg_bench", modules)
    utils = package("_ssseg_bench.utils", modules / "utils")
    utils.BaseModuleBuilder = load(
        "_ssseg_bench.utils.modulebuilder", modules / "utils" / "modulebuilder.py"
    ).BaseModuleBuilder
    package("_ssseg_bench.datasets", modules / "datasets")
    package("_ssseg_bench.datasets.pipelines", modules / "datasets" / "pipelines")
    return load(
        "_ssseg_bench.datasets.pipelines.transforms", modules / "datasets" / "pipelines" / "transforms.py"
    )


def sssegmentation_step(transforms: types.ModuleType) -> Callable[[str, str], object]:
    """Read + SSSegmentation's LIP train pipeline (ce2p lip_473x473 config), as its dataset runs it."""
    pipeline = transforms.Compose(
        [
            transforms.Resize(output_size=(520, 520), keep_ratio=False, scale_range=(0.75, 1.25)),
            transforms.RandomCrop(crop_size=(473, 473), one_category_max_ratio=0.75),
            transforms.RandomFlip(prob=0.5, fixed_seg_target_pairs=LIP_PAIRS),
            transforms.RandomRotation(angle_upper=30, prob=0.6),
            transforms.PhotoMetricDistortion(),
            transforms.EdgeExtractor(edge_width=3),
            transforms.Normalize(mean=MEAN, std=STD, to_rgb=True),
            transforms.ToTensor(),
            transforms.Padding((473, 473), data_type="tensor"),
        ]
    )

    def step(image_path: str, label_path: str):
        image = cv2.imread(image_path)
        label = cv2.imread(label_path, cv2.IMREAD_GRAYSCALE).astype(np.float32)
        return pipeline({"image": image, "seg_target": label, "height": 480, "width": 640})

    return step


def our_step(config_name: str) -> Callable[[str, str], object]:
    """Read through humanparse.data.io + our train transform of a named recipe."""
    transform = build_train_transform(get_config(config_name))
    rng = np.random.default_rng(0)

    def step(image_path: str, label_path: str):
        return transform(read_image(image_path), read_label(label_path, 20), rng)

    return step


def images_per_second(step: Callable[[str, str], object], pairs, warmup: int) -> float:
    for image_path, label_path in pairs[:warmup]:
        step(image_path, label_path)
    start = time.perf_counter()
    for image_path, label_path in pairs:
        step(image_path, label_path)
    return len(pairs) / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60, help="timed samples per pipeline")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    np.random.seed(0)  # SSSegmentation draws from numpy's global RNG
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure

    transforms = load_sssegmentation_transforms()
    with tempfile.TemporaryDirectory() as folder:
        pairs = write_samples(Path(folder), args.images)
        reference = (
            images_per_second(sssegmentation_step(transforms), pairs, args.warmup) if transforms else None
        )
        rows = [
            ("SSSeg LIP recipe (ce2p_resnet101os8_lip)", "ce2p_resnet101os8_lip"),
            ("CSENet affine recipe (csenet_resnet101_lip)", "csenet_resnet101_lip"),
        ]
        print(f"one worker, 1 thread, {args.images} synthetic 640x480 JPEGs, 473x473 crops\n")
        print(f"{'pipeline':46s} {'ours img/s':>11s} {'SSSeg 1.7.0 img/s':>18s} {'ours/ref':>9s}")
        for title, name in rows:
            ours = images_per_second(our_step(name), pairs, args.warmup)
            if reference is None:
                print(f"{title:46s} {ours:11.1f} {'not installed':>18s} {'-':>9s}")
            else:
                print(f"{title:46s} {ours:11.1f} {reference:18.1f} {ours / reference:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
