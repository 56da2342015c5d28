"""Training targets derived from a label map: edge maps and the row/column class distributions.

* `edge_targets_sssegmentation`: SSSegmentation 1.7.0's `EdgeExtractor` (edge_width 3).
* `edge_targets_official`: `generate_edge` of the official CE2P / CDGNet / CSENet code, per sample.
* `class_distribution_targets`: `generate_hw_gt` of CDGNet / CSENet.

Both edge rules mark a pixel when it differs from a neighbour (lower pixel of a vertical pair, left pixel of a
horizontal pair, upper pixel of each diagonal pair) and neither pixel is ignore, then dilate with a 3x3 square.
The dilation may spill edges into ignore regions; ignore pixels are otherwise 0 (negatives), as in both
references.
"""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

from humanparse.data.labels import IGNORE_INDEX
from humanparse.errors import DataError

_EDGE_KERNEL = np.ones((3, 3), dtype=np.uint8)


def _boundary_marks(label: np.ndarray, ignore: int) -> np.ndarray:
    """Undilated edge marks (uint8 0/1) of a 2-D label map."""
    if label.ndim != 2:
        raise ValueError(f"expected a 2-D label map, got shape {label.shape}")
    valid = label != ignore
    marks = np.zeros(label.shape, dtype=np.uint8)
    # vertical pair (r, r+1): the lower pixel
    pair = (label[1:, :] != label[:-1, :]) & valid[1:, :] & valid[:-1, :]
    marks[1:, :][pair] = 1
    # horizontal pair (c, c+1): the left pixel
    pair = (label[:, :-1] != label[:, 1:]) & valid[:, :-1] & valid[:, 1:]
    marks[:, :-1][pair] = 1
    # diagonal (r, c) vs (r+1, c+1): the upper-left pixel
    pair = (label[:-1, :-1] != label[1:, 1:]) & valid[:-1, :-1] & valid[1:, 1:]
    marks[:-1, :-1][pair] = 1
    # anti-diagonal (r, c+1) vs (r+1, c): the upper-right pixel
    pair = (label[:-1, 1:] != label[1:, :-1]) & valid[:-1, 1:] & valid[1:, :-1]
    marks[:-1, 1:][pair] = 1
    return marks


def _dilate(marks: np.ndarray) -> np.ndarray:
    # cv2.dilate ignores pixels outside the map, like the official zero-padded 3x3 ones-convolution (then != 0)
    return cv2.dilate(marks, _EDGE_KERNEL)


def edge_targets_sssegmentation(label: np.ndarray, ignore: int = IGNORE_INDEX) -> np.ndarray:
    """SSSegmentation's `EdgeExtractor(edge_width=3)` on an (H, W) label map: uint8 (H, W) in {0, 1}.

    `ignore` plays the part of SSSegmentation's ignore_index (-100 there, 255 in this project's labels).
    """
    return _dilate(_boundary_marks(np.asarray(label), ignore))


def edge_targets_official(label: np.ndarray) -> np.ndarray:
    """The official `generate_edge(label, edge_width=3)` for one (H, W) label map: uint8 (H, W) in {0, 1}."""
    return _dilate(_boundary_marks(np.asarray(label), 255))


def class_distribution_targets(label: np.ndarray, num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """CDGNet's `generate_hw_gt`: float32 (hgt (K, H), wgt (K, W)) from an (H, W) label map.

    Ignore (255) counts as background; the background rows are zeroed; each class's row (column) counts are
    divided by their own maximum + 1e-5, so absent classes stay zero.
    """
    label = np.asarray(label)
    classes = np.where(label == IGNORE_INDEX, 0, label).astype(np.intp)
    if classes.size and (classes.min() < 0 or classes.max() >= num_classes):
        bad = int(classes.max()) if classes.max() >= num_classes else int(classes.min())
        raise DataError(f"label value {bad} is outside [0, {num_classes}) and is not the ignore value 255")
    hgt = _counts_per_row(classes, num_classes)
    wgt = _counts_per_row(classes.T, num_classes)
    return _normalise_by_max(hgt), _normalise_by_max(wgt)


def _counts_per_row(classes: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, H) number of pixels of each class in each row, by one bincount over (class, row) cells."""
    height = classes.shape[0]
    cells = classes * height
    cells += np.arange(height)[:, None]
    return np.bincount(cells.reshape(-1), minlength=num_classes * height).reshape(num_classes, height)


def _normalise_by_max(counts: np.ndarray) -> np.ndarray:
    counts = counts.astype(np.float32)
    counts[0, :] = 0
    peak = counts.max(axis=1, keepdims=True)
    return counts / (peak + np.float32(1e-5))
