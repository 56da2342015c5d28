"""Small pieces every pipeline shares: the flip with label swaps and the sample dict."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from humanparse.data.labels import flip_permutation


def flip_lookup(num_classes: int, flip_pairs: Sequence[Tuple[int, int]]) -> np.ndarray:
    """A 256-entry uint8 table that swaps each (left, right) pair and keeps every other value (255 too)."""
    table = np.arange(256, dtype=np.uint8)
    table[:num_classes] = flip_permutation(num_classes, flip_pairs)
    return table


def flip_pair(
    image: np.ndarray, label: np.ndarray, lookup: Optional[np.ndarray]
) -> Tuple[np.ndarray, np.ndarray]:
    """Mirror an image and its label along the width; `lookup` (from `flip_lookup`) swaps left/right classes."""
    image = np.ascontiguousarray(image[:, ::-1])
    label = np.ascontiguousarray(label[:, ::-1])
    if lookup is not None:
        label = lookup[label]
    return image, label


def label_tensor(label: np.ndarray) -> torch.Tensor:
    """An (H, W) uint8 label or edge map as an int64 tensor."""
    return torch.from_numpy(np.ascontiguousarray(label).astype(np.int64))


def train_sample(
    image: torch.Tensor, label: np.ndarray, edge: np.ndarray, meta: Dict[str, Any]
) -> Dict[str, Any]:
    """The train sample dict of the data contract (without the dataset's meta)."""
    return {"image": image, "label": label_tensor(label), "edge": label_tensor(edge), "meta": meta}
