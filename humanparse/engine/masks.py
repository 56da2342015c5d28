"""Binary masks of class groups: `NAME=CLASS[,CLASS...]` specs and the 0/255 mask of a label map.

Classes are the dataset's names (`humanparse.data.labels`). Groups: `foreground` (every class but the
background) and, for each `left_X`/`right_X` pair, `Xs` (e.g. `arms`, `legs`, `shoes`).
"""

from __future__ import annotations

import re
from typing import Dict, List, Sequence, Tuple

import numpy as np

from humanparse.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
RESERVED_NAMES = ("overlay", "logits")  # other outputs of a photo already end in these


def class_groups(class_names: Sequence[str]) -> Dict[str, List[int]]:
    """Named groups of class ids: `foreground` and the `Xs` of each left/right pair."""
    index = {name: i for i, name in enumerate(class_names)}
    groups = {"foreground": [i for i, name in enumerate(class_names) if name != "background"]}
    for name, left in index.items():
        if name.startswith("left_") and f"right_{name[5:]}" in index:
            groups[f"{name[5:]}s"] = [left, index[f"right_{name[5:]}"]]
    return groups


def parse_mask_spec(spec: str, class_names: Sequence[str]) -> Tuple[str, List[int]]:
    """`"upper=upper_clothes,coat"` -> `("upper", [5, 7])`; ConfigError naming the bad part."""
    name, sep, classes = spec.partition("=")
    name = name.strip()
    if not sep or not classes.strip():
        raise ConfigError(f"--mask {spec!r}: expected NAME=CLASS[,CLASS...], e.g. upper=upper_clothes,coat")
    if not _NAME.match(name) or name in RESERVED_NAMES:
        raise ConfigError(
            f"--mask {spec!r}: NAME must be letters, digits, '_' or '-' and not {' or '.join(RESERVED_NAMES)}"
        )
    index = {class_name: i for i, class_name in enumerate(class_names)}
    groups = class_groups(class_names)
    ids: List[int] = []
    for item in (part.strip() for part in classes.split(",")):
        if item in index:
            ids.append(index[item])
        elif item in groups:
            ids += groups[item]
        else:
            known = ", ".join([*class_names, *groups])
            raise ConfigError(f"--mask {spec!r}: unknown class {item!r}; known: {known}")
    return name, sorted(set(ids))


def class_mask(labels: np.ndarray, class_ids: Sequence[int]) -> np.ndarray:
    """uint8 mask of `labels`' pixels in `class_ids`: 255 inside, 0 outside."""
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[list(class_ids)] = 255
    return lookup[labels]
