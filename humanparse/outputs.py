"""Output files the user names (`test --out`, `convert OUT`): checked before the work, and write failures as one line."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

from humanparse.errors import ConfigError


def check_writable(path: Union[str, Path], example_name: str = "out") -> Path:
    """ConfigError naming `path` when a file cannot be written there: a folder in its place, a file where one of
    its folders must be, or a folder without write permission. Run it before a long job that ends by writing.

    `example_name` is the file name suggested when `path` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"cannot write {path}: it is a folder; give a file name such as {path / example_name}"
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"cannot write {path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK):
                raise ConfigError(f"cannot write {path}: no write permission in {parent}")
            break
    return path


@contextmanager
def writing(path: Union[str, Path]) -> Iterator[None]:
    """Create `path`'s folder, and turn a failed write inside the block (read-only or full disk, a file in the
    way) into a one-line ConfigError naming `path`."""
    path = Path(path)
    check_writable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror or error}") from error
