"""Checked decoding of uploaded photos: the size read from the header before any pixel is decoded.

Every refusal is an `UploadError` with the HTTP status to answer and a one-line message.
"""

from __future__ import annotations

import io

import numpy as np

from humanparse.data.io import check_complete
from humanparse.errors import DataError


class UploadError(Exception):
    """A request the server refuses: `status` is the HTTP status, the message one line for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def header_size(data: bytes) -> tuple:
    """(width, height) from the image header, without decoding pixels; 415 when no image format matches."""
    from PIL import Image, UnidentifiedImageError

    try:
        # Image.open reads the header only; the pixels are decoded later, by OpenCV, after the size check
        with Image.open(io.BytesIO(data)) as picture:
            return picture.size
    except Image.DecompressionBombError as error:  # PIL's own guard (twice Image.MAX_IMAGE_PIXELS)
        raise UploadError(413, "the image is over the pixel limit (decompression bomb)") from error
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
    width, height = header_size(data)
    if width * height > max_pixels:
        raise UploadError(
            413, f"image of {width}x{height} pixels is over the limit of {int(max_pixels)} pixels"
        )
    try:
        check_complete(data, "upload", "image")
    except DataError as error:
        raise UploadError(400, "the image is truncated (no end marker)") from error
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise UploadError(415, "the image cannot be decoded (unsupported format or corrupt)")
    return image
