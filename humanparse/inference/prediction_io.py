"""Files of `humanparse predict`: the input photos and where each one's outputs go, the atomic writes of label
PNGs, masks, overlays (with a legend) and logits, and `--label-map` files."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from humanparse.data.labels import IGNORE_INDEX, get_palette
from humanparse.errors import ConfigError, DataError
from humanparse.inference import storage
from humanparse.inference.list_files import read_list_file
from humanparse.inference.own_outputs import drop_own_outputs
from humanparse.inference.walk import glob_base, glob_files, has_magic, walk_files
from humanparse.outputs import atomic_write
from humanparse.suggest import did_you_mean

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
OVERLAY_WEIGHT = 0.5  # share of the label colours in the overlay
PathLike = Union[str, Path]


@dataclass(frozen=True)
class PhotoItem:
    """One input photo (a path, or a URI on object storage) and its outputs' path under --out without the
    suffix (`a/x` for `folder/a/x.jpg`)."""

    source: Union[Path, str]
    relative: str


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _stem(relative: Union[Path, PurePosixPath]) -> str:
    return relative.with_suffix("").as_posix()


def _remote_items(uri: str, out: Optional[str]) -> List[PhotoItem]:
    """The photos of a URI (an object, a folder walked recursively, a pattern), paths as for local inputs."""
    found = storage.walk(uri, lambda name: is_image(Path(name)), skip=out)
    if not found:
        raise DataError(f"{uri}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
    return [PhotoItem(source, _stem(PurePosixPath(relative))) for source, relative in found]


def _glob_base(pattern: str) -> Path:
    """The folder before the first wildcard of `pattern`: matches mirror their path below it."""
    return glob_base(pattern)[0]


def plan_inputs(
    inputs: Sequence[PathLike], list_file: Optional[PathLike] = None, out: Optional[PathLike] = None
) -> List[PhotoItem]:
    """The photos named by `inputs` (files, folders walked recursively, glob patterns) and `list_file` (one path a
    line), sorted by output path. A folder's photos keep their path below it; a glob's, their path below the
    pattern's fixed part; a file named directly or an absolute list entry, its name; a relative list entry, its
    path. The output folder `out` is never walked into, and predict's own outputs in it (a rerun with `--out`
    equal to the input folder) are never inputs. Walking and patterns follow folder links without looping
    (`humanparse.inference.walk`); a file link that loops is kept, to fail on its own into `failed.jsonl`.

    Raises DataError for an input that matches nothing, a folder without images, or two photos whose outputs
    would have the same name.
    """
    out = storage.local_path(out) if isinstance(out, str) else out
    remote_out = str(out) if out is not None and storage.is_remote(str(out)) else None
    skip = Path(out) if out is not None and remote_out is None else None
    items: List[PhotoItem] = []
    for item in inputs:
        item = storage.local_path(item)
        if storage.is_remote(item):
            items += _remote_items(str(item), remote_out)
            continue
        path = Path(item)
        if path.is_dir():
            images = [(p, parts) for p, parts in walk_files(path, skip=skip) if is_image(p)]
            if not images:
                raise DataError(f"{path}: folder has no images ({', '.join(IMAGE_EXTENSIONS)})")
            items += [PhotoItem(p, _stem(Path(*parts))) for p, parts in images]
        elif path.is_file() or path.is_symlink():
            items.append(PhotoItem(path, path.stem))
        elif has_magic(str(item)):
            matches = glob_files(str(item), skip=skip)
            if not matches:
                raise DataError(f"{item}: pattern matches no files")
            items += [PhotoItem(p, _stem(relative)) for p, relative in matches]
        else:
            raise DataError(f"{path}: no such file or folder")
    if list_file is not None:
        items += _list_items(storage.local_path(list_file))
    if skip is not None:
        items = drop_own_outputs(items, skip)
    if not items:
        raise DataError("no input photos: give files, folders, patterns or --list FILE")
    return _unique(items)


def collect_images(inputs: Sequence[PathLike]) -> List[Union[Path, str]]:
    """The photo files named by `inputs` (files, folders walked recursively, glob patterns), sorted by output
    path; DataError as `plan_inputs`."""
    return [item.source for item in plan_inputs(inputs)]


def _list_items(list_file: PathLike) -> List[PhotoItem]:
    """The photos of a --list file; in a list on object storage, relative lines are below the list's folder."""
    remote_list = storage.is_remote(str(list_file))
    data = storage.read_bytes(str(list_file), "--list file") if remote_list else None
    items = []
    for line in read_list_file(list_file, "--list", data=data):
        line = str(storage.local_path(line))
        if storage.is_remote(line):
            items.append(PhotoItem(line, _stem(PurePosixPath(PurePosixPath(line).name))))
            continue
        if remote_list:
            relative = PurePosixPath(line)
            if relative.is_absolute() or ".." in relative.parts:
                raise DataError(f"--list {list_file}: {line}: lines of a list on object storage are URIs or "
                                "paths below its folder")  # fmt: skip
            items.append(PhotoItem(str(list_file).rsplit("/", 1)[0] + "/" + line, _stem(relative)))
            continue
        path = Path(line)
        inside = not path.is_absolute() and ".." not in path.parts
        items.append(PhotoItem(path, _stem(path) if inside else path.stem))
    return items


def _unique(items: Iterable[PhotoItem]) -> List[PhotoItem]:
    by_output: Dict[str, PhotoItem] = {}
    for item in items:
        other = by_output.setdefault(item.relative, item)
        if _identity(other.source) != _identity(item.source):
            raise DataError(
                f"{other.source} and {item.source} would both write {item.relative}.png; rename one or "
                "predict them separately"
            )
    return [by_output[key] for key in sorted(by_output)]


def _identity(source: Union[Path, str]) -> str:
    # a URI is its own identity; realpath never raises on a link loop
    return source if isinstance(source, str) else os.path.realpath(source)


def check_out_folder(out: storage.Folder, items: Sequence[PhotoItem], suffixes: Sequence[str]) -> None:
    """Refuse an --out that is a file or where an output (`relative + suffix`) would replace an input photo;
    on object storage, also a bucket that does not exist."""
    if isinstance(out, storage.ObjectFolder):
        out.check()
        sources = {item.source for item in items if isinstance(item.source, str)}
        for item in items:
            for suffix in suffixes:
                if out.child(f"{item.relative}{suffix}") in sources:
                    raise DataError(
                        f"--out {out}: {item.relative}{suffix} would overwrite an input; choose another output folder"
                    )
        return
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out}: is an existing file, not a folder")
    from humanparse.output_paths import first_overwritten_input

    targets = (out / f"{item.relative}{suffix}" for item in items for suffix in suffixes)
    clash = first_overwritten_input(targets, [item.source for item in items], within=out)
    if clash is not None:
        target, source = clash
        raise DataError(
            f"--out {out}: {target.relative_to(out)} would overwrite the input {source}; "
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


OUTLINE_BGR = (
    255,
    255,
    255,
)  # class boundaries on overlays: light, so that dark classes show on dark clothes


def class_boundaries(labels: np.ndarray) -> np.ndarray:
    """Boolean map of the pixels where the class changes (against the left or upper neighbour), about one pixel
    wide per 500 pixels of the photo's longer side; the ignore value draws no boundary."""
    edges = np.zeros(labels.shape, dtype=bool)
    valid = labels != IGNORE_INDEX
    edges[1:, :] |= (labels[1:, :] != labels[:-1, :]) & valid[1:, :] & valid[:-1, :]
    edges[:, 1:] |= (labels[:, 1:] != labels[:, :-1]) & valid[:, 1:] & valid[:, :-1]
    width = max(1, int(round(max(labels.shape) / 500)))
    if width > 1:
        edges = cv2.dilate(edges.astype(np.uint8), np.ones((width, width), np.uint8)).astype(bool)
    return edges


def overlay(image_bgr: np.ndarray, labels: np.ndarray, palette: str = "lip") -> np.ndarray:
    """The photo blended with the label colours (background and ignore kept as the photo) and the class
    boundaries drawn in a light outline, BGR uint8."""
    colours = get_palette(palette)[labels][..., ::-1]  # palette is RGB, OpenCV writes BGR
    blended = cv2.addWeighted(image_bgr, 1 - OVERLAY_WEIGHT, np.ascontiguousarray(colours), OVERLAY_WEIGHT, 0)
    keep = (labels == 0) | (labels == IGNORE_INDEX)
    blended[keep] = image_bgr[keep]
    blended[class_boundaries(labels)] = OUTLINE_BGR
    return blended


def colour_labels(labels: np.ndarray, palette: str = "lip") -> np.ndarray:
    """The label map in the palette's colours, unblended (what the label PNG shows), BGR uint8."""
    return np.ascontiguousarray(get_palette(palette)[labels][..., ::-1])


def legend_classes(labels: np.ndarray, num_classes: int, background: bool = False) -> List[int]:
    """The class ids a legend of `labels` lists: those present, background (0) only when `background` (it is
    painted in a label map, left unpainted in an overlay)."""
    first = 0 if background else 1
    return [int(c) for c in np.unique(labels) if first <= c < num_classes]


def add_legend(
    image_bgr: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str],
    palette: str = "lip",
    background: bool = False,
) -> np.ndarray:
    """`image_bgr` with a panel on its right listing the classes present in `labels` (colour swatch + name);
    background only with `background` (see `legend_classes`)."""
    colours = get_palette(palette)
    present = legend_classes(labels, len(class_names), background)
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

    from humanparse.strict_yaml import load_unique

    path = Path(path)
    try:
        mapping = load_unique(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"--label-map {path}: not UTF-8 text (a binary file?)") from None
    except (OSError, yaml.YAMLError, ValueError) as error:
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise ConfigError(f"--label-map {path}: cannot read it ({reason})") from None
    if not isinstance(mapping, dict):
        raise ConfigError(f"--label-map {path}: expected a mapping `class: id`, one a line")
    index = {name: i for i, name in enumerate(class_names)}
    lookup = np.arange(256, dtype=np.uint8)  # the ignore value 255 stays itself
    mapped = set()
    for key, value in mapping.items():
        numeric = isinstance(key, int) and not isinstance(key, bool)
        class_id = key if numeric and 0 <= key < len(class_names) else index.get(str(key))
        if class_id is None:
            raise ConfigError(
                f"--label-map {path}: unknown class {key!r}{did_you_mean(str(key), class_names)}; the recipe's: "
                f"{', '.join(class_names)}"
            )
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 255:
            raise ConfigError(f"--label-map {path}: {key}: {value!r} is not an id in 0..255")
        if class_id in mapped:
            raise ConfigError(
                f"--label-map {path}: {class_names[class_id]} is mapped twice (by name and by id)"
            )
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
