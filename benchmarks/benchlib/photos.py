"""Synthetic people to time and calibrate on (random weights: speed does not depend on what is in a photo)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Tuple

import torch


def synthetic_people(folder: Path, train: int, val: int, size: Tuple[int, int] = (480, 360)) -> Path:
    """A cached synthetic LIP split (JPEG photos of people with labels); `size` is (height, width)."""
    from humanparse.data.synth import generate_dataset

    if not (folder / "val_id.txt").is_file():
        generate_dataset(layout="lip", out=folder, train=train, val=val, size=size, seed=11)
    return folder


def photo_batch(paths: Sequence[Path], size: int = 241) -> torch.Tensor:
    """Photos resized to size x size, RGB, roughly normalised: a batch to set BatchNorm statistics with."""
    import cv2
    import numpy as np

    images = [cv2.resize(cv2.imread(str(path))[:, :, ::-1], (size, size)) for path in paths]
    batch = torch.from_numpy(np.stack(images).astype(np.float32)).permute(0, 3, 1, 2)
    return (batch / 255 - 0.45) / 0.225
