"""Where zoo files live and what is known of them: the cache folder, the record of each verified file, its status.

The cache is `$HUMANPARSE_CACHE/models` (default `$XDG_CACHE_HOME/humanparse/models`, else
`~/.cache/humanparse/models`). A file's path there is its zoo name (`exp-schp-201908261155-lip.pth`,
`fashn_segformer_b4/model.safetensors`), the same layout as a mirror folder, so a cache can serve as a mirror.

Each verified file has a record, `.verified/<file name>.json` beside it: its size, its SHA-256 and whether that
hash was the published one or the one seen at the first download (files with no published hash). A file whose
size no longer matches its record is never trusted again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, BinaryIO, Dict, Optional, Union

from humanparse.errors import CheckpointError
from humanparse.outputs import atomic_write
from humanparse.zoo.table import ZooFile

CACHE_VARIABLE = "HUMANPARSE_CACHE"
RECORDS = ".verified"
PART_SUFFIX = ".part"
CHUNK = 1 << 20

# statuses of a file in a folder
VERIFIED = "verified"  # matches the published SHA-256 (checked once, then by size)
RECORDED = "recorded"  # no published hash: the SHA-256 of its first download is recorded
UNCHECKED = "unchecked"  # present, not checked yet (checked on first use)
CHANGED = "changed"  # its size differs from its record or the published size: not trusted
PARTIAL = "partial"  # an interrupted download, resumable
MISSING = "missing"


def cache_root() -> Path:
    """humanparse's cache folder: $HUMANPARSE_CACHE, else $XDG_CACHE_HOME/humanparse, else ~/.cache/humanparse."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "humanparse"


def models_dir() -> Path:
    """The folder zoo files are cached in."""
    return cache_root() / "models"


def part_path(path: Path) -> Path:
    """Where the download of `path` grows until it is verified (never under the final name)."""
    return path.with_name(path.name + PART_SUFFIX)


def sha256_of(path: Union[str, Path]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def record_path(folder: Path, file: ZooFile) -> Path:
    return folder / RECORDS / f"{file.name}.json"


def read_record(folder: Path, file: ZooFile) -> Optional[Dict[str, Any]]:
    """The record of a verified file, or None (no record, or an unreadable one)."""
    try:
        record = json.loads(record_path(folder, file).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("size"), int):
        return None
    return record


def write_record(folder: Path, file: ZooFile, size: int, sha256: str, origin: str) -> None:
    """Record a checked file; a read-only cache only means it is checked again next time."""
    record = {
        "size": size,
        "sha256": sha256,
        "published_hash": file.sha256 is not None,
        "origin": origin,
    }
    payload = (json.dumps(record, indent=1) + "\n").encode()

    def write(stream: BinaryIO) -> None:
        stream.write(payload)

    try:
        atomic_write(record_path(folder, file), write, error=CheckpointError, durable=False)
    except CheckpointError:
        pass


def status(folder: Path, file: ZooFile) -> str:
    """The file's status in `folder` from sizes and records alone (no hashing: quick enough for a listing)."""
    path = folder / file.name
    if not path.is_file():
        return PARTIAL if part_path(path).is_file() else MISSING
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        return CHANGED
    record = read_record(folder, file)
    if record is None:
        return UNCHECKED
    if record["size"] != size or (file.sha256 is not None and record.get("sha256") != file.sha256):
        return CHANGED
    return VERIFIED if file.sha256 is not None else RECORDED


def check(folder: Path, file: ZooFile, origin: str = "found in the folder") -> str:
    """`status`, after hashing an unchecked file once: VERIFIED / RECORDED, or CHANGED when it is not the
    published file (its hash then differs). An unchecked file with no published hash is recorded as it is."""
    state = status(folder, file)
    if state != UNCHECKED:
        return state
    path = folder / file.name
    digest = sha256_of(path)
    if file.sha256 is not None and digest != file.sha256:
        return CHANGED
    write_record(folder, file, path.stat().st_size, digest, origin)
    return VERIFIED if file.sha256 is not None else RECORDED
