"""Binary masks from label maps: `NAME=CLASS[,CLASS...]` specs parsed against a dataset's class names.

A spec names a mask and the classes it covers, e.g. `clothes=upper_clothes,coat,pants` or `person=foreground`.
Classes are the dataset's names (case-insensitive, `-` and `_` alike) or a group: `foreground` is every class
but `background` (index 0), `Xs` both classes of a `left_X`/`right_X` pair (LIP's `arms`, `legs`, `shoes`),
and for FASHN's classes its try-on groups `upper` (top, dress, scarf), `lower` (skirt, pants, belt) and
`identity` (face, hair, jewelry, bag, glasses, hat). The mask is uint8, 255 where the label is one of the classes, 0 elsewhere.

    specs = parse_mask_specs(["clothes=upper_clothes,coat"], predictor.class_names)
    mask = compute_mask(labels, specs[0].classes)
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from humanparse.errors import ConfigError
from humanparse.suggest import did_you_mean

GROUPS = ("foreground",)
"""Names that stand for several classes: `foreground` = every class but index 0 (background)."""

# mask names end up in file names (`<stem>_<NAME>.png`) and JSON keys: keep them plain
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class MaskSpec:
    """A named mask: the sorted class indices it covers."""

    name: str
    classes: Tuple[int, ...]


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def pair_groups(class_names: Sequence[str]) -> Dict[str, Tuple[int, int]]:
    """`Xs` for every `left_X`/`right_X` pair of classes, e.g. LIP's `arms`, `legs`, `shoes`."""
    index_of = {_key(name): index for index, name in enumerate(class_names)}
    return {
        f"{key[5:]}s": (index, index_of[f"right_{key[5:]}"])
        for key, index in index_of.items()
        if key.startswith("left_") and f"right_{key[5:]}" in index_of
    }


def tryon_groups(class_names: Sequence[str]) -> Dict[str, Tuple[int, ...]]:
    """FASHN's try-on groups (`upper`, `lower`, `identity`, see `data.labels.FASHN_TRYON_GROUPS`) for a label
    set that has all their classes (FASHN's); none for other label sets."""
    from humanparse.data.labels import FASHN_TRYON_GROUPS

    index_of = {_key(name): index for index, name in enumerate(class_names)}
    groups = {}
    for group, names in FASHN_TRYON_GROUPS.items():
        if group not in index_of and all(_key(name) in index_of for name in names):
            groups[group] = tuple(sorted(index_of[_key(name)] for name in names))
    return groups


def _named_groups(class_names: Sequence[str]) -> Dict[str, Tuple[int, ...]]:
    return {**pair_groups(class_names), **tryon_groups(class_names)}


def group_classes(group: str, class_names: Sequence[str]) -> Tuple[int, ...]:
    """The class indices of a group name (see GROUPS, `pair_groups` and `tryon_groups`)."""
    if _key(group) == "foreground":
        return tuple(range(1, len(class_names)))
    groups = _named_groups(class_names)
    if _key(group) in groups:
        return groups[_key(group)]
    known = [*GROUPS, *groups]
    raise ConfigError(
        f"unknown class group {group!r}{did_you_mean(group, known)}; groups: {', '.join(known)}"
    )


def resolve_classes(names: Sequence[str], class_names: Sequence[str]) -> Tuple[int, ...]:
    """Sorted, unique class indices of class or group `names`; ConfigError names an unknown one."""
    index_of: Dict[str, int] = {_key(name): index for index, name in enumerate(class_names)}
    indices = set()
    for name in names:
        key = _key(name)
        if not key:
            raise ConfigError("empty class name in a mask spec")
        if key in index_of:
            indices.add(index_of[key])
        elif key in GROUPS or key in _named_groups(class_names):
            indices.update(group_classes(key, class_names))
        else:
            groups = ", ".join([*GROUPS, *_named_groups(class_names)])
            close = did_you_mean(name, [*class_names, *GROUPS, *_named_groups(class_names)])
            raise ConfigError(
                f"unknown class {name!r}{close}; classes: {', '.join(class_names)}; groups: {groups}"
            )
    return tuple(sorted(indices))


def parse_mask_spec(spec: str, class_names: Sequence[str]) -> MaskSpec:
    """Parse `NAME=CLASS[,CLASS...]` against `class_names`; ConfigError (one line) when it does not fit."""
    name, sep, classes = spec.partition("=")
    name = name.strip()
    if not sep or not classes.strip():
        raise ConfigError(f"mask spec {spec!r} is not NAME=CLASS[,CLASS...] (e.g. person=foreground)")
    if not _NAME_PATTERN.match(name):
        raise ConfigError(
            f"mask name {name!r} must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return MaskSpec(name, resolve_classes(classes.split(","), class_names))


def parse_mask_specs(specs: Sequence[str], class_names: Sequence[str]) -> List[MaskSpec]:
    """Parse several specs; ConfigError when two share a name."""
    parsed = [parse_mask_spec(spec, class_names) for spec in specs]
    seen = set()
    for mask in parsed:
        if mask.name in seen:
            raise ConfigError(f"mask name {mask.name!r} is given twice")
        seen.add(mask.name)
    return parsed


def mask_png(mask: np.ndarray) -> bytes:
    """A 0/255 uint8 mask as a grayscale PNG, encoded as the label maps are (Pillow): the one encoding of a
    mask, in `predict`'s files and the server's answers alike."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def compute_mask(labels: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """uint8 mask of `labels`' shape: 255 where the label is in `classes`, 0 elsewhere."""
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[np.asarray(classes, dtype=np.int64)] = 255
    return lookup[np.asarray(labels, dtype=np.uint8)]
