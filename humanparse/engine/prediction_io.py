"""Files of `humanparse predict`: finding the input images and writing label PNGs, overlays and logits."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np

from humanparse.data.io import label_png
from humanparse.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
OVERLAY_WEIGHT = 0.5  # share of the label colours in the overlay


def _images_in(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def collect_images(inputs: Sequence[Union[str, Path]]) -> List[Path]:
    """The image files named by `inputs` (files, folders, glob patterns), in order, without duplicates.

    Raises DataError for an input that matches nothing or a folder without images.
    """
    found: List[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = _images_in(path)
            if not images:
                raise DataError(f"{path}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
            found += images
        elif path.is_file():
            found.append(path)
        elif glob.has_magic(str(item)):
            matches = sorted(Path(p) for p in glob.glob(str(item)) if Path(p).is_file())
            if not matches:
                raise DataError(f"{item}: pattern matches no files")
            found += matches
        else:
            raise DataError(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def check_unique_stems(paths: Sequence[Path]) -> None:
    """Raise DataError when two inputs would write the same `<stem>.png`."""
    seen = {}
    for path in paths:
        if path.stem in seen:
            raise DataError(
                f"{seen[path.stem]} and {path} would both write {path.stem}.png; predict them separately"
            )
        seen[path.stem] = path


def default_palette(config) -> str:
    """The palette `config`'s dataset is drawn with: `voc` for VOC and Pascal-Person-Part, else `lip`."""
    from humanparse.data.datasets import canonical_layout

    return "voc" if canonical_layout(config.data.dataset) in ("voc", "pascal_person_part") else "lip"


def overlay(image_bgr: np.ndarray, labels: np.ndarray, palette: str = "lip") -> np.ndarray:
    """The photo blended with the label colours (background and ignore kept as the photo), BGR uint8."""
    import cv2

    from humanparse.data.labels import IGNORE_INDEX, get_palette

    colours = get_palette(palette)[labels][..., ::-1]  # palette is RGB, OpenCV writes BGR
    blended = cv2.addWeighted(image_bgr, 1 - OVERLAY_WEIGHT, np.ascontiguousarray(colours), OVERLAY_WEIGHT, 0)
    keep = (labels == 0) | (labels == IGNORE_INDEX)
    blended[keep] = image_bgr[keep]
    return blended


def write_outputs(
    out_dir: Union[str, Path],
    source: Union[str, Path],
    labels: np.ndarray,
    palette: str = "lip",
    image: Optional[np.ndarray] = None,
    logits: Optional[np.ndarray] = None,
) -> List[Path]:
    """Write `<stem>.png`, and `<stem>_overlay.jpg` when `image` / `<stem>_logits.npy` (float16) when `logits`."""
    import cv2

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(source).stem
    written = [out_dir / f"{stem}.png"]
    label_png(labels, palette).save(written[0])
    if image is not None:
        written.append(out_dir / f"{stem}_overlay.jpg")
        if not cv2.imwrite(str(written[-1]), overlay(image, labels, palette)):
            raise DataError(f"{written[-1]}: could not write the overlay")
    if logits is not None:
        written.append(out_dir / f"{stem}_logits.npy")
        np.save(written[-1], logits.astype(np.float16))
    return written
