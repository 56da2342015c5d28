"""Checked reading of images and label maps: every problem becomes a `DataError` that names the file.

Images decode with OpenCV's `IMREAD_COLOR` semantics (what `cv2.imread(path)` gives the references): BGR uint8
(H, W, 3); grayscale is replicated to three channels, an alpha channel is dropped, 16-bit samples are scaled to
8 bits and the EXIF orientation is applied. A truncated JPEG or PNG, which OpenCV decodes with only a warning
(grey bottom rows), is refused: a JPEG must carry its end-of-image marker (FF D9) near the end of the file and a
PNG its IEND chunk.

Labels decode with Pillow, so a palette ('P') PNG gives its indices and a grayscale ('L') PNG its values, as
`cv2.IMREAD_GRAYSCALE` (SSSegmentation) gives them for grayscale files. Multi-channel and 16-bit label files are
refused rather than silently converted.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Optional, Tuple, Union

import cv2
import numpy as np
from PIL import Image

from humanparse.data.labels import IGNORE_INDEX, get_palette
from humanparse.errors import DataError

PathLike = Union[str, Path]

_JPEG_START = b"\xff\xd8"
_JPEG_END = b"\xff\xd9"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Some encoders append a few bytes (padding, maker trailers) after the end marker, so look in the file's tail.
_TAIL_BYTES = 4096
_LABEL_MODES = ("L", "P", "1")


def read_bytes(path: PathLike, kind: str = "file") -> bytes:
    """The content of `path`; `DataError` when it is missing, a folder, empty or unreadable."""
    path = Path(path)
    if not path.exists():
        if path.is_symlink():  # exists() follows the link: a loop or a dangling target
            raise DataError(f"{kind} is a symbolic link that loops or points to nothing: {path}")
        raise DataError(f"{kind} not found: {path}")
    if not path.is_file():
        raise DataError(f"{kind} is not a file: {path}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"cannot read {kind} {path}: {error.strerror or error}") from error
    if not data:
        raise DataError(f"{kind} is empty (0 bytes): {path}")
    return data


def check_complete(data: bytes, path: PathLike, kind: str = "file") -> None:
    """Refuse a JPEG without its end-of-image marker or a PNG without its IEND chunk (a truncated file)."""
    tail = data[-_TAIL_BYTES:]
    if data.startswith(_JPEG_START) and _JPEG_END not in tail:
        raise DataError(f"{kind} is truncated (the JPEG has no end-of-image marker): {path}")
    if data.startswith(_PNG_SIGNATURE) and b"IEND" not in tail:
        raise DataError(f"{kind} is truncated (the PNG has no IEND chunk): {path}")


def header_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from an image's header, without decoding a pixel; None when no format matches or Pillow's
    own guard calls it a decompression bomb (over twice `Image.MAX_IMAGE_PIXELS`)."""
    try:
        with warnings.catch_warnings():  # the size is judged here, against --max-pixels
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as picture:  # reads the header only
                return picture.size
    except Image.DecompressionBombError:
        return (2**31, 2**31)
    except Exception:  # not a format Pillow knows: OpenCV decides
        return None


def check_pixels(data: bytes, path: PathLike, max_pixels: float) -> None:
    """DataError when the header of `data` says more than `max_pixels` pixels (checked before decoding)."""
    size = header_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        shown = f"{size[0]}x{size[1]}" if size[0] < 2**31 else "a decompression-bomb number of"
        raise DataError(
            f"image of {shown} pixels is over the limit of {int(max_pixels)} (--max-pixels): {path}"
        )


def read_image(path: PathLike, max_pixels: Optional[float] = None) -> np.ndarray:
    """Read an image as BGR uint8 (H, W, 3) with `cv2.IMREAD_COLOR` semantics; `DataError` names the file.

    `max_pixels` refuses, from the header and before decoding, an image of more pixels (width x height)."""
    return decode_image(read_bytes(path, "image"), path, max_pixels)


def decode_image(data: bytes, path: PathLike, max_pixels: Optional[float] = None) -> np.ndarray:
    """The bytes of an image file (named `path` in errors) as `read_image` decodes them."""
    if not data:
        raise DataError(f"image is empty (0 bytes): {path}")
    if max_pixels is not None:
        check_pixels(data, path, max_pixels)
    check_complete(data, path, "image")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"image cannot be decoded (not an image, or corrupt): {path}")
    return image


def read_label(path: PathLike, num_classes: Optional[int] = None) -> np.ndarray:
    """Read a label map as uint8 (H, W) class indices.

    `num_classes` K, when given, requires every value to be in [0, K) or the ignore value 255.
    Raises `DataError` naming the file for a missing, corrupt, multi-channel or 16-bit file or bad values.
    """
    data = read_bytes(path, "label")
    check_complete(data, path, "label")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            mode = picture.mode
            if mode not in _LABEL_MODES:
                raise DataError(_mode_problem(mode, path))
            label = np.asarray(picture, dtype=np.uint8)  # '1' (bilevel) becomes 0/1
    except DataError:
        raise
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"label cannot be decoded ({error}): {path}") from error
    if num_classes is not None:
        check_label_values(label, num_classes, path)
    return np.ascontiguousarray(label)


def _mode_problem(mode: str, path: PathLike) -> str:
    if mode.startswith("I") or mode == "F":
        return f"label has {mode!r} (16/32-bit) pixels; expected 8-bit class indices: {path}"
    return f"label has {len(mode)} channels ({mode!r}); expected one channel of class indices: {path}"


def check_label_values(label: np.ndarray, num_classes: int, path: PathLike) -> None:
    """`DataError` when `label` holds a value outside [0, num_classes) other than the ignore value 255."""
    values = np.unique(label)
    bad = values[(values >= num_classes) & (values != IGNORE_INDEX)]
    if bad.size:
        shown = ", ".join(str(int(v)) for v in bad[:8]) + (", ..." if bad.size > 8 else "")
        raise DataError(
            f"label has values outside [0, {num_classes}) other than {IGNORE_INDEX} ({shown}): {path}"
        )


def check_same_size(image: np.ndarray, label: np.ndarray, image_path: PathLike, label_path: PathLike) -> None:
    """`DataError` naming both files when the image and its label differ in height or width."""
    if image.shape[:2] != label.shape[:2]:
        raise DataError(
            f"image and label sizes differ: {image_path} is {image.shape[1]}x{image.shape[0]}, "
            f"{label_path} is {label.shape[1]}x{label.shape[0]} (width x height)"
        )


def label_png(labels: np.ndarray, palette: str = "lip"):
    """A PIL "P"-mode image of a uint8 label map with the named palette attached."""
    image = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8), mode="P")
    image.putpalette(get_palette(palette).reshape(-1).tolist())
    return image
