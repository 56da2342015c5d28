"""Label sets of the supported datasets: class names, left/right flip pairs and palettes.

This module is the one place that holds these values; everything else asks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

IGNORE_INDEX = 255
"""Label value that losses and metrics skip (the value stored in the datasets' PNGs)."""


@dataclass(frozen=True)
class LabelSet:
    """Classes of one dataset, in index order, with the pairs a horizontal flip swaps."""

    name: str
    classes: Tuple[str, ...]
    flip_pairs: Tuple[Tuple[int, int], ...] = field(default_factory=tuple)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def flip_permutation(self) -> List[int]:
        """Index map p such that a flipped label map's class c becomes p[c]."""
        return flip_permutation(self.num_classes, self.flip_pairs)


def flip_permutation(num_classes: int, flip_pairs) -> List[int]:
    """Class permutation that swaps every (left, right) pair and keeps the other classes."""
    perm = list(range(num_classes))
    for left, right in flip_pairs:
        perm[left], perm[right] = right, left
    return perm


_LIP_CLASSES = (
    "background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress", "coat", "socks", "pants",
    "jumpsuits", "scarf", "skirt", "face", "left_arm", "right_arm", "left_leg", "right_leg", "left_shoe",
    "right_shoe",
)  # fmt: skip
_HUMAN_PAIRS_20 = ((14, 15), (16, 17), (18, 19))

_ATR_CLASSES = (
    "background", "hat", "hair", "sunglasses", "upper_clothes", "skirt", "pants", "dress", "belt", "left_shoe",
    "right_shoe", "face", "left_leg", "right_leg", "left_arm", "right_arm", "bag", "scarf",
)  # fmt: skip

_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

LABEL_SETS: Dict[str, LabelSet] = {
    "lip": LabelSet("lip", _LIP_CLASSES, _HUMAN_PAIRS_20),
    "cihp": LabelSet("cihp", _LIP_CLASSES[:10] + ("torso_skin",) + _LIP_CLASSES[11:], _HUMAN_PAIRS_20),
    "atr": LabelSet("atr", _ATR_CLASSES, ((9, 10), (12, 13), (14, 15))),
    "voc": LabelSet("voc", _VOC_CLASSES),
    "pascal_person_part": LabelSet(
        "pascal_person_part",
        ("background", "head", "torso", "upper_arms", "lower_arms", "upper_legs", "lower_legs"),
    ),
}


def get_label_set(name: str) -> LabelSet:
    """Return the label set of a dataset (`lip`, `cihp`, `atr`, `voc`, `pascal_person_part`)."""
    key = name.lower().replace("-", "_")
    if key in ("ppp", "pascal"):
        key = "pascal_person_part"
    if key not in LABEL_SETS:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(LABEL_SETS))}")
    return LABEL_SETS[key]


# LIP's official colours (LIP_JPPNet label_colours), shared by CIHP tools, mmseg and SSSegmentation.
_LIP_PALETTE = (
    (0, 0, 0), (128, 0, 0), (255, 0, 0), (0, 85, 0), (170, 0, 51), (255, 85, 0), (0, 0, 85), (0, 119, 221),
    (85, 85, 0), (0, 85, 85), (85, 51, 0), (52, 86, 128), (0, 128, 0), (0, 0, 255), (51, 170, 221),
    (0, 255, 255), (85, 255, 170), (170, 255, 85), (255, 255, 0), (255, 170, 0),
)  # fmt: skip


def voc_palette(num_colors: int = 256) -> np.ndarray:
    """PASCAL VOC bit-interleaved colour map (the one SCHP writes), as uint8 (num_colors, 3) RGB."""
    palette = np.zeros((num_colors, 3), dtype=np.uint8)
    for index in range(num_colors):
        value, r, g, b = index, 0, 0, 0
        for bit in range(8):
            r |= ((value >> 0) & 1) << (7 - bit)
            g |= ((value >> 1) & 1) << (7 - bit)
            b |= ((value >> 2) & 1) << (7 - bit)
            value >>= 3
        palette[index] = (r, g, b)
    return palette


def lip_palette(num_colors: int = 256) -> np.ndarray:
    """LIP's official colours for the first 20 classes, the VOC map beyond them; uint8 (num_colors, 3) RGB."""
    palette = voc_palette(num_colors)
    count = min(num_colors, len(_LIP_PALETTE))
    palette[:count] = np.asarray(_LIP_PALETTE[:count], dtype=np.uint8)
    return palette


PALETTES = {"lip": lip_palette, "voc": voc_palette}


def get_palette(name: str = "lip", num_colors: int = 256) -> np.ndarray:
    """Palette by name (`lip`, the default for human parsing, or `voc`), uint8 (num_colors, 3) RGB."""
    if name not in PALETTES:
        raise KeyError(f"unknown palette {name!r}; choose from {', '.join(PALETTES)}")
    return PALETTES[name](num_colors)
