"""Files of `humanparse predict`: the input photos and where each one's outputs go, the atomic writes of label
PNGs, masks, overlays (with a legend) and logits, and `--label-map` files."""

from __future__ import annotations

import glob
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from humanparse.data.labels import IGNORE_INDEX, get_palette
from humanparse.errors import ConfigError, DataError
from humanparse.outputs import atomic_write

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
OVERLAY_WEIGHT = 0.5  # share of the label colours in the overlay
PathLike = Union[str, Path]


@dataclass(frozen=True)
class PhotoItem:
    """One input photo and its outputs' path under --out without the suffix (`a/x` for `folder/a/x.jpg`)."""

    source: Path
    relative: str


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _walk(folder: Path, skip: Optional[Path]) -> List[Path]:
    """Images under `folder`, recursively, not descending into `skip` (the output folder)."""
    found = []
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        if skip is not None:
            dirs[:] = [d for d in dirs if (root_path / d).resolve() != skip]
        found += [root_path / name for name in files if is_image(Path(name))]
    return found


def _stem(relative: Path) -> str:
    return relative.with_suffix("").as_posix()


def _glob_base(pattern: str) -> Path:
    """The folder before the first wildcard of `pattern`: matches mirror their path below it."""
    parts = Path(pattern).parts
    base = [part for part in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
    return Path(*base) if base else Path(".")


def plan_inputs(
    inputs: Sequence[PathLike], list_file: Optional[PathLike] = None, out: Optional[PathLike] = None
) -> List[PhotoItem]:
    """The photos named by `inputs` (files, folders walked recursively, glob patterns) and `list_file` (one path a
    line), sorted by output path. A folder's photos keep their path below it; a glob's, their path below the
    pattern's fixed part; a file named directly or an absolute list entry, its name; a relative list entry, its
    path. The output folder `out` is never walked into.

    Raises DataError for an input that matches nothing, a folder without images, or two photos whose outputs
    would have the same name.
    """
    skip = Path(out).resolve() if out is not None else None
    items: List[PhotoItem] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = _walk(path, skip)
            if not images:
                raise DataError(f"{path}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
            items += [PhotoItem(p, _stem(p.relative_to(path))) for p in images]
        elif path.is_file():
            items.append(PhotoItem(path, path.stem))
        elif glob.has_magic(str(item)):
            base = _glob_base(str(item))
            matches = [Path(p) for p in glob.glob(str(item), recursive=True) if Path(p).is_file()]
            if not matches:
                raise DataError(f"{item}: pattern matches no files")
            items += [PhotoItem(p, _stem(p.relative_to(base))) for p in matches]
        else:
            raise DataError(f"{path}: no such file or folder")
    if list_file is not None:
        items += _list_items(Path(list_file))
    if not items:
        raise DataError("no input photos: give files, folders, patterns or --list FILE")
    return _unique(items)


def collect_images(inputs: Sequence[PathLike]) -> List[Path]:
    """The photo files named by `inputs` (files, folders walked recursively, glob patterns), sorted by output
    path; DataError as `plan_inputs`."""
    return [item.source for item in plan_inputs(inputs)]


def _list_items(list_file: Path) -> List[PhotoItem]:
    try:
        lines = list_file.read_text().splitlines()
    except OSError as error:
        raise DataError(f"--list {list_file}: cannot read it: {error.strerror or error}") from error
    items = []
    for line in (line.strip() for line in lines):
        if not line or line.startswith("#"):
            continue
        path = Path(line)
        inside = not path.is_absolute() and ".." not in path.parts
        items.append(PhotoItem(path, _stem(path) if inside else path.stem))
    return items


def _unique(items: Iterable[PhotoItem]) -> List[PhotoItem]:
    by_output: Dict[str, PhotoItem] = {}
    for item in items:
        other = by_output.setdefault(item.relative, item)
        if other.source.resolve() != item.source.resolve():
            raise DataError(
                f"{other.source} and {item.source} would both write {item.relative}.png; rename one or "
                "predict them separately"
            )
    return [by_output[key] for key in sorted(by_output)]


def check_out_folder(out: Path, items: Sequence[PhotoItem], suffixes: Sequence[str]) -> None:
    """Refuse an --out that is a file or where an output (`relative + suffix`) would replace an input photo."""
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is an existing file, not a folder")
    root = str(out.resolve()) + os.sep
    inside = {str(item.source.resolve()) for item in items}
    inside = {path for path in inside if path.startswith(root)}
    if not inside:
        return
    for item in items:
        for suffix in suffixes:
            target = str((out / f"{item.relative}{suffix}").resolve())
            if target in inside:
                raise DataError(
                    f"--out {out}: {item.relative}{suffix} would overwrite the input {target}; "
                    "choose another output folder"
                )


def check_mask_names(items: Sequence[PhotoItem], suffixes: Sequence[str]) -> None:
    """DataError when a photo's extra output (e.g. `x_upper.png`) is another photo's label map (`x_upper`)."""
    stems = {item.relative for item in items}
    for item in items:
        for suffix in suffixes:
            if suffix != ".png" and suffix.endswith(".png") and f"{item.relative}{suffix[:-4]}" in stems:
                raise DataError(
                    f"{item.source}: its output {item.relative}{suffix} is the label map of another photo; "
                    "rename the mask"
                )


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole (a reader or a killed run never sees a partial file); DataError on failure."""
    atomic_write(path, lambda stream: stream.write(data), error=DataError, durable=False)


def png_bytes(image) -> bytes:
    """A PIL image (e.g. `label_png`) encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def encode(path: Path, image: np.ndarray, *params: int) -> bytes:
    """OpenCV's encoding of `image` in the format of `path`'s suffix."""
    ok, data = cv2.imencode(path.suffix, image, list(params))
    if not ok:
        raise DataError(f"{path}: OpenCV cannot encode it")
    return data.tobytes()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def overlay(image_bgr: np.ndarray, labels: np.ndarray, palette: str = "lip") -> np.ndarray:
    """The photo blended with the label colours (background and ignore kept as the photo), BGR uint8."""
    colours = get_palette(palette)[labels][..., ::-1]  # palette is RGB, OpenCV writes BGR
    blended = cv2.addWeighted(image_bgr, 1 - OVERLAY_WEIGHT, np.ascontiguousarray(colours), OVERLAY_WEIGHT, 0)
    keep = (labels == 0) | (labels == IGNORE_INDEX)
    blended[keep] = image_bgr[keep]
    return blended


def add_legend(
    image_bgr: np.ndarray, labels: np.ndarray, class_names: Sequence[str], palette: str = "lip"
) -> np.ndarray:
    """`image_bgr` with a panel on its right listing the classes present in `labels` (colour swatch + name)."""
    colours = get_palette(palette)
    present = [int(c) for c in np.unique(labels) if c < len(class_names)]
    height = image_bgr.shape[0]
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    row = max(14, int(round(22 * scale / 0.45)))
    # rows that do not fit continue in a further column
    per_column = max(1, (height - 6) // row)
    columns = [present[i : i + per_column] for i in range(0, len(present), per_column)] or [[]]
    widths = [
        max([cv2.getTextSize(class_names[c], font, scale, thickness)[0][0] for c in column] or [0]) + row + 12
        for column in columns
    ]
    panel = np.full((height, sum(widths), 3), 255, dtype=np.uint8)
    x = 0
    for column, width in zip(columns, widths):
        for position, class_id in enumerate(column):
            top = 4 + position * row
            colour = tuple(int(v) for v in colours[class_id][::-1])
            cv2.rectangle(panel, (x + 4, top), (x + row - 2, top + row - 6), colour, -1)
            cv2.rectangle(panel, (x + 4, top), (x + row - 2, top + row - 6), (0, 0, 0), 1)
            cv2.putText(
                panel, class_names[class_id], (x + row + 4, top + row - 8), font, scale, (0, 0, 0), thickness,
                cv2.LINE_AA,
            )  # fmt: skip
        x += width
    return np.concatenate([image_bgr, panel], axis=1)


def load_label_map(path: PathLike, class_names: Sequence[str]) -> np.ndarray:
    """A 256-entry uint8 lookup from a YAML mapping `{class name or id: new id}` covering every class.

    ConfigError (one line, naming the file) for an unreadable file, an unknown class, an id outside 0..255 or
    a class left unmapped.
    """
    import yaml

    path = Path(path)
    try:
        mapping = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"--label-map {path}: cannot read it ({str(error).splitlines()[0]})") from error
    if not isinstance(mapping, dict):
        raise ConfigError(f"--label-map {path}: expected a mapping `class: id`, one a line")
    index = {name: i for i, name in enumerate(class_names)}
    lookup = np.arange(256, dtype=np.uint8)  # the ignore value 255 stays itself
    mapped = set()
    for key, value in mapping.items():
        class_id = key if isinstance(key, int) and 0 <= key < len(class_names) else index.get(str(key))
        if class_id is None:
            raise ConfigError(
                f"--label-map {path}: unknown class {key!r}; the recipe's: {', '.join(class_names)}"
            )
        if not isinstance(value, int) or not 0 <= value <= 255:
            raise ConfigError(f"--label-map {path}: {key}: {value!r} is not an id in 0..255")
        lookup[class_id] = value
        mapped.add(class_id)
    missing = [name for i, name in enumerate(class_names) if i not in mapped]
    if missing:
        raise ConfigError(f"--label-map {path}: classes not mapped: {', '.join(missing)}")
    return lookup


def output_suffixes(
    overlay: bool = False, logits: bool = False, masks: Sequence[str] = ()
) -> Tuple[str, ...]:
    """What `humanparse predict` writes per photo, as suffixes of its output stem."""
    suffixes = [".png", *(f"_{name}.png" for name in masks)]
    if overlay:
        suffixes.append("_overlay.jpg")
    if logits:
        suffixes.append("_logits.npy")
    return tuple(suffixes)
