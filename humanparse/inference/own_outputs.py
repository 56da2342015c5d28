"""Telling predict's own outputs from photos, so that a rerun with `--out` equal to (or above) the input folder
never takes its label maps, masks or overlays as new photos.

A file under the output folder is predict's when another photo `<relative>` of the same run has its label map
`<relative>.png` there as an indexed (palette) PNG, which is what predict writes first for every photo, and
the file is that label map or one of its siblings (`<relative>_<mask>.png`, `<relative>_overlay.jpg`). A photo
the user keeps beside its future outputs is still an input the first time (no label map yet), so the check
that no output replaces an input keeps refusing that case.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Sequence

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PALETTE = 3  # IHDR colour type of an indexed PNG


def is_label_png(path: Path) -> bool:
    """Whether `path` is an indexed (palette) PNG, as predict writes its label maps."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(26)
    except OSError:
        return False
    return (
        len(head) == 26
        and head.startswith(_PNG_SIGNATURE)
        and head[12:16] == b"IHDR"
        and head[25] == _PALETTE
    )


def _candidate_stems(name: str) -> List[str]:
    """The photo stems whose outputs could be named `name`: `x` for `x.png`, `x_upper.png`, `x_overlay.jpg`."""
    if name.endswith("_overlay.jpg"):
        return [name[: -len("_overlay.jpg")]]
    if not name.endswith(".png"):
        return []
    stem = name[: -len(".png")]
    stems = [stem]
    while "_" in stem:  # a mask `x_NAME.png`, NAME possibly holding underscores itself
        stem = stem.rsplit("_", 1)[0]
        stems.append(stem)
    return stems


def drop_own_outputs(items: Sequence, out: Path) -> List:
    """`items` (objects with `source` and `relative`) without those that are predict's outputs under `out`."""
    root = os.path.realpath(out) + os.sep
    local = [item for item in items if not isinstance(item.source, str)]  # a URI is never under a local out
    under = [item for item in local if os.path.realpath(item.source).startswith(root)]
    if not under:
        return list(items)
    photos_of: Dict[str, List[str]] = {}  # real path of a label map -> real paths of the photos it is for
    for item in local:
        label = os.path.realpath(out / f"{item.relative}.png")
        photos_of.setdefault(label, []).append(os.path.realpath(item.source))
    is_label: Dict[str, bool] = {}
    own = set()
    for item in under:
        real = os.path.realpath(item.source)
        folder, name = os.path.split(real)
        for stem in _candidate_stems(name):
            label = os.path.join(folder, f"{stem}.png")
            photos = [photo for photo in photos_of.get(label, ()) if photo != real]
            if not photos:
                continue
            if label not in is_label:
                is_label[label] = is_label_png(Path(label))
            if is_label[label]:
                own.add(id(item))
                break
    return [item for item in items if id(item) not in own]
