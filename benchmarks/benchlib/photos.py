"""Synthetic people to time and calibrate on (random weights: speed does not depend on what is in a photo)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Tuple

import torch


def synthetic_people(
    folder: Path, train: int, val: int, size: Tuple[int, int] = (480, 360), layout: str = "lip"
) -> Path:
    """A cached synthetic split (JPEG photos of people with labels, seed 11); `size` is (height, width)."""
    from benchlib.training import synthetic_split

    return synthetic_split(folder, layout, train, val, size, seed=11)


def photo_batch(paths: Sequence[Path], size: int = 241) -> torch.Tensor:
    """Photos resized to size x size, RGB, roughly normalised: a batch to set BatchNorm statistics with."""
    import cv2
    import numpy as np

    images = [cv2.resize(cv2.imread(str(path))[:, :, ::-1], (size, size)) for path in paths]
    batch = torch.from_numpy(np.stack(images).astype(np.float32)).permute(0, 3, 1, 2)
    return (batch / 255 - 0.45) / 0.225
