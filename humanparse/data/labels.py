"""Label sets of the supported datasets: class names, left/right flip pairs, palettes, and the classes a
`DataConfig` names (`dataset_classes`).

This module is the one place that holds these values; everything else asks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np

from humanparse.errors import ConfigError

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

# FASHN's human parser (fashn_human_parser.labels 0.1.1): made for try-on, no left/right classes
_FASHN_CLASSES = (
    "background", "face", "hair", "top", "dress", "skirt", "pants", "belt", "bag", "hat", "scarf", "glasses",
    "arms", "hands", "legs", "feet", "torso", "jewelry",
)  # fmt: skip
FASHN_TRYON_GROUPS: Dict[str, Tuple[str, ...]] = {
    # what FASHN's try-on replaces per garment category, and the labels it keeps (fashn_human_parser.labels)
    "upper": ("top", "dress", "scarf"),
    "lower": ("skirt", "pants", "belt"),
    "identity": ("face", "hair", "jewelry", "bag", "glasses", "hat"),
}

_VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

LABEL_SETS: Dict[str, LabelSet] = {
    "lip": LabelSet("lip", _LIP_CLASSES, _HUMAN_PAIRS_20),
    "cihp": LabelSet("cihp", _LIP_CLASSES[:10] + ("torso_skin",) + _LIP_CLASSES[11:], _HUMAN_PAIRS_20),
    "atr": LabelSet("atr", _ATR_CLASSES, ((9, 10), (12, 13), (14, 15))),
    "voc": LabelSet("voc", _VOC_CLASSES),
    "fashn": LabelSet("fashn", _FASHN_CLASSES),
    "pascal_person_part": LabelSet(
        "pascal_person_part",
        ("background", "head", "torso", "upper_arms", "lower_arms", "upper_legs", "lower_legs"),
    ),
}


def get_label_set(name: str) -> LabelSet:
    """Return the label set of a dataset (`lip`, `cihp`, `atr`, `voc`, `pascal_person_part`, `fashn`)."""
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


# Our colours for FASHN's 18 classes (the package ships none): garments saturated, skin parts in skin tones.
_FASHN_PALETTE = (
    (0, 0, 0), (255, 200, 160), (90, 50, 20), (220, 40, 40), (200, 60, 200), (250, 150, 30), (40, 80, 220),
    (120, 120, 0), (0, 160, 160), (255, 240, 60), (60, 200, 90), (30, 30, 120), (230, 160, 120),
    (200, 130, 100), (180, 110, 80), (110, 60, 40), (250, 180, 140), (255, 255, 255),
)  # fmt: skip


def fashn_palette(num_colors: int = 256) -> np.ndarray:
    """Colours of FASHN's 18 classes, the VOC map beyond them; uint8 (num_colors, 3) RGB."""
    palette = voc_palette(num_colors)
    count = min(num_colors, len(_FASHN_PALETTE))
    palette[:count] = np.asarray(_FASHN_PALETTE[:count], dtype=np.uint8)
    return palette


PALETTES = {"lip": lip_palette, "voc": voc_palette, "fashn": fashn_palette}


def get_palette(name: str = "lip", num_colors: int = 256) -> np.ndarray:
    """Palette by name (`lip`, the default for human parsing, `voc`, or `fashn`), uint8 (num_colors, 3) RGB."""
    if name not in PALETTES:
        raise KeyError(f"unknown palette {name!r}; choose from {', '.join(PALETTES)}")
    return PALETTES[name](num_colors)


# ------------------------------------------------------------------------------- the classes a config names
LAYOUTS = ("lip", "cihp", "atr", "voc", "pascal_person_part", "fashn", "folder")
_ALIASES = {"synthetic": "lip", "ppp": "pascal_person_part", "pascal": "pascal_person_part"}


@dataclass(frozen=True)
class ClassInfo:
    """What a dataset tells its users about its classes."""

    num_classes: int
    class_names: Tuple[str, ...]
    flip_pairs: Tuple[Tuple[int, int], ...]


def canonical_layout(name: str) -> str:
    """The layout name of `DataConfig.dataset` (aliases: `synthetic` -> lip, `ppp` -> pascal_person_part)."""
    key = name.lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in LAYOUTS:
        raise ConfigError(f"unknown dataset {name!r} in data.dataset; choose from {', '.join(LAYOUTS)}")
    return key


def dataset_classes(data) -> ClassInfo:
    """Classes of the dataset `DataConfig` `data` names (see `class_info`)."""
    return class_info(canonical_layout(data.dataset), data)


def class_info(layout: str, data) -> ClassInfo:
    """Classes of a layout: the label set for named datasets, `DataConfig.num_classes`/`flip_pairs` for folder."""
    if layout == "folder":
        if data.num_classes <= 0:
            raise ConfigError("the folder dataset needs data.num_classes (e.g. --set data.num_classes=20)")
        names = tuple(f"class_{index}" for index in range(data.num_classes))
        pairs = tuple((int(a), int(b)) for a, b in data.flip_pairs)
        for a, b in pairs:
            if not (0 <= a < data.num_classes and 0 <= b < data.num_classes):
                raise ConfigError(f"data.flip_pairs ({a}, {b}) is outside [0, {data.num_classes})")
        return ClassInfo(data.num_classes, names, pairs)
    label_set = get_label_set(layout)
    return ClassInfo(label_set.num_classes, label_set.classes, label_set.flip_pairs)


def default_palette(dataset: str) -> str:
    """The palette a dataset's label PNGs use by default: `voc` for PASCAL VOC and Pascal-Person-Part (SCHP's),
    `fashn` for FASHN's classes, `lip` otherwise."""
    layout = canonical_layout(dataset)
    if layout == "fashn":
        return "fashn"
    return "voc" if layout in ("voc", "pascal_person_part") else "lip"


def check_model_classes(config) -> None:
    """ConfigError when the dataset's classes (`config.data`) are not as many as the network's outputs
    (`config.model.num_classes`), e.g. `--set data.dataset=atr` (18 classes) on a 20-class LIP model."""
    classes = dataset_classes(config.data)
    if classes.num_classes != config.model.num_classes:
        raise ConfigError(
            f"data.dataset={config.data.dataset} has {classes.num_classes} classes but the model "
            f"{config.name} predicts {config.model.num_classes}; use the dataset the model was trained on"
        )
