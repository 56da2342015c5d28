"""Networks trained on synthetic people for the accuracy checks of the scripts (int8 against fp32).

The data are `humanparse synth` splits (`generate_dataset`), written once into a work folder; training is
`humanparse train` in a subprocess with `--resume` when a run is there, so a script killed part-way continues
where it stopped and a finished run is reused as it is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple


def synthetic_split(
    folder: Path, layout: str, train: int, val: int, size: Tuple[int, int], seed: int
) -> Path:
    """A cached synthetic split of `layout` (photos of people with labels) under `folder`; returns its root."""
    from humanparse.data.synth import generate_dataset

    if not any(folder.rglob("val_id.txt")):
        return generate_dataset(layout=layout, out=folder, train=train, val=val, size=size, seed=seed)
    return next(folder.rglob("val_id.txt")).parent


def split_photos(root: Path, split: str) -> List[Path]:
    """The photos of `split` ("train" or "val") of a synthetic split, in order (lip, atr and folder layouts name
    each photo `<split>_<index>`)."""
    return sorted(path for path in root.rglob("*.jpg") if path.stem.startswith(f"{split}_"))


def train_recipe(
    recipe: str,
    data: Path,
    run: Path,
    epochs: int,
    overrides: Sequence[str],
    eval_interval: int = 5,
) -> Optional[Path]:
    """Train (or continue training) `recipe` with `overrides` on `data` in `run` up to `epochs` in all; returns
    its best checkpoint, or None while no evaluation has been reached."""
    command = [
        sys.executable, "-m", "humanparse", "train", recipe, "--data-root", str(data), "--work-dir", str(run),
        "--epochs", str(epochs), "--no-progress", "--eval-interval", str(eval_interval), "--set", *overrides,
    ]  # fmt: skip
    if (run / "latest.json").is_file():
        command.append("--resume")
    print("training:", " ".join(command), flush=True)
    subprocess.run(command, check=False)
    best = run / "best.pth"
    return best if best.is_file() else None


def synthetic_photos(
    folder: Path, count: int, seed: int, size: Tuple[int, int] = (640, 480), layout: str = "atr"
) -> List[Path]:
    """`count` cached synthetic photos of people (JPEG, `size` as (H, W)) without labels, seeded by (`seed`,
    index): a seed no `synthetic_split` uses gives photos no network was trained on. Beside each photo
    `<stem>_keypoints.json` holds its person's arm points in OpenPose's format (photo pixels, confidence)."""
    import json

    import cv2
    import numpy as np

    from humanparse.data.synth import render_person

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"p{index:03d}.jpg"
        keypoints = path.with_name(f"{path.stem}_keypoints.json")
        if not path.is_file() or not keypoints.is_file():
            image, _, points = render_person(layout, size, np.random.default_rng([seed, index]))
            cv2.imwrite(str(path), image)
            confidence = points.any(axis=1).astype(float)[:, None]
            rows = np.concatenate([points, confidence], axis=1).reshape(-1).tolist()
            keypoints.write_text(json.dumps({"people": [{"pose_keypoints_2d": rows}]}), encoding="utf-8")
        paths.append(path)
    return paths
