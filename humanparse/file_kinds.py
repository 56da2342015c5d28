"""What a file is, told from its first bytes: used to say what a wrong weights file is, and to refuse an output
name held by a file of another kind. A leaf module (standard library only)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Union

_SNIFF_BYTES = 4096

# signature -> kind
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x93NUMPY", "a NumPy array (.npy)"),
    (b"\x89HDF", "an HDF5 file (Keras/.h5)"),
)


def describe(path: Union[str, Path]) -> str:
    """A few words saying what `path` holds: "a PyTorch checkpoint (zip)", "a zip archive that is not a PyTorch
    checkpoint", "an ONNX model", "a text file", "an empty file", "a PNG image", ... or "an unknown binary file"."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError as error:
        return f"an unreadable file ({error.strerror or error})"
    if not head:
        return "an empty file"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _describe_zip(path)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head.startswith(b"\x80") and len(head) > 1 and head[1] <= 5:
        return "a legacy (non-zip) PyTorch or Python pickle file"
    if _looks_like_onnx(head):
        return "an ONNX model"
    if _is_text(head):
        stripped = head.lstrip()
        if stripped.startswith(b"<?xml") or stripped.startswith(b"<net"):
            return "an XML file"
        if stripped[:1] in (b"{", b"["):
            return "a JSON or other text file"
        return "a text file"
    return "an unknown binary file"


def _describe_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "a damaged zip archive"
    if any(name.endswith("data.pkl") for name in names):
        return "a PyTorch checkpoint (zip)"
    return "a zip archive that is not a PyTorch checkpoint"


def _looks_like_onnx(head: bytes) -> bool:
    # an ONNX ModelProto starts with field 1 (ir_version, a small varint) then usually field 2..8
    # (opset_import, producer_name, ...): tag 0x08, a value under 32, then a length-delimited field tag
    return (
        len(head) > 3
        and head[0] == 0x08
        and 0 < head[1] < 32
        and head[2] in (0x12, 0x1A, 0x22, 0x2A, 0x3A, 0x42)
    )


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # a character cut by the sniff window is fine
            return False
    return True


def is_kind(path: Union[str, Path], *kinds: str) -> bool:
    """Whether `describe(path)` is one of `kinds`."""
    return describe(path) in kinds
