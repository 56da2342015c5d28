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


def decode_upload(data: bytes, max_pixels: float) -> np.ndarray:
    """BGR uint8 (H, W, 3) of an uploaded image, as `cv2.imread` would give it (EXIF orientation applied).

    400 for an empty or truncated upload, 413 when the header says more than `max_pixels` pixels, 415 when it
    is not an image or cannot be decoded.
    """
    import cv2

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
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UploadError(415, "the image cannot be decoded (unsupported format or corrupt)")
    return image
