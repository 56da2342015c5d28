"""Checked decoding of uploaded photos: the size read from the header before any pixel is decoded.

Every refusal is an `UploadError` with the HTTP status to answer and a one-line message.
"""

from __future__ import annotations

import io
from typing import Optional, Tuple

import numpy as np

from humanparse.data.io import check_complete
from humanparse.errors import DataError


class UploadError(Exception):
    """A request the server refuses: `status` is the HTTP status, the message one line for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def header_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(width, height) from the image header, without decoding pixels; None when Pillow's own guard calls it
    a decompression bomb (over twice `Image.MAX_IMAGE_PIXELS`); 415 when no image format matches."""
    from PIL import Image, UnidentifiedImageError

    try:
        # Image.open reads the header only; the pixels are decoded later, by OpenCV, after the size check
        with Image.open(io.BytesIO(data)) as picture:
            return picture.size
    except Image.DecompressionBombError:
        return None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UploadError(415, "the upload is not an image (JPEG, PNG, BMP, TIFF or WebP)") from error


def checked_size(data: bytes, max_pixels: float) -> Tuple[int, int]:
    """(width, height) of an upload from its header, once it is known to be a whole image of at most
    `max_pixels` pixels: 400 for an empty or truncated upload, 413 over the limit, 415 when it is not an image."""
    if not data:
        raise UploadError(400, "empty body: send an image as the request body or a multipart file")
    size = header_size(data)
    if size is None or size[0] * size[1] > max_pixels:
        shown = f"{size[0]}x{size[1]}" if size else "too many"
        raise UploadError(413, f"image of {shown} pixels is over the limit of {int(max_pixels)} pixels")
    try:
        check_complete(data, "upload", "image")
    except DataError as error:
        raise UploadError(400, "the image is truncated (no end marker)") from error
    return size


def decode_upload(data: bytes, max_pixels: float) -> np.ndarray:
    """BGR uint8 (H, W, 3) of an uploaded image, as `cv2.imread` would give it (EXIF orientation applied).

    400 for an empty or truncated upload, 413 when the header says more than `max_pixels` pixels, 415 when it
    is not an image or cannot be decoded.
    """
    import cv2

    checked_size(data, max_pixels)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UploadError(415, "the image cannot be decoded (unsupported format or corrupt)")
    return image


# cv2.imdecode flags that decode a JPEG directly at 1/2, 1/4, 1/8 of its size (DCT scaling: no full-size buffer)
_REDUCED = {
    1: "IMREAD_COLOR",
    2: "IMREAD_REDUCED_COLOR_2",
    4: "IMREAD_REDUCED_COLOR_4",
    8: "IMREAD_REDUCED_COLOR_8",
}
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that turn the photo a quarter


def oriented_size(data: bytes) -> Optional[Tuple[int, int]]:
    """(height, width) of the photo as decoded (EXIF orientation applied), from its header; None if unknown."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
            orientation = picture.getexif().get(0x0112, 1)
    except Exception:
        return None
    return (width, height) if orientation in _SWAPPING_ORIENTATIONS else (height, width)


def decode_for_network(data: bytes, max_pixels: float, max_side: int) -> Tuple[np.ndarray, Tuple[int, int]]:
    """(a BGR photo whose longest side is at most `max_side`, the photo's full (height, width)).

    The network sees a few hundred pixels a side, so a large photo is decoded reduced (a JPEG by its DCT scaling,
    without ever holding the full image) and shrunk to `max_side`; its labels are brought back to the full size
    afterwards (`full_size_labels`). Refusals as `decode_upload`."""
    import cv2

    size = checked_size(data, max_pixels)
    full = oriented_size(data) or (size[1], size[0])
    factor = 1
    while factor < 8 and max(full) // (factor * 2) >= max_side:
        factor *= 2  # never below max_side: the last step is an exact resize
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), getattr(cv2, _REDUCED[factor]))
    if image is None:
        raise UploadError(415, "the image cannot be decoded (unsupported format or corrupt)")
    if factor == 1 and image.shape[:2] != tuple(full):
        full = image.shape[:2]  # the header and the decoder disagree: trust the pixels
    longest = max(image.shape[:2])
    if longest > max_side:
        scale = max_side / longest
        shape = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, shape, interpolation=cv2.INTER_AREA)
    return image, (int(full[0]), int(full[1]))


def full_size_labels(labels: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """`labels` brought to `size` (height, width) by nearest neighbour (a no-op when it has that size)."""
    import cv2

    if labels.shape[:2] == tuple(size):
        return labels
    return cv2.resize(labels, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)


def working_side(config) -> int:
    """The longest photo side the server decodes to: twice the network input (at least 1024 px)."""
    evaluation = config.eval
    size = evaluation.keep_ratio_size if evaluation.keep_ratio else evaluation.input_size
    return max(1024, 2 * int(max(size)))
