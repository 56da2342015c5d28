"""Writing output files: checked before the work, written atomically, and write failures as one line.

`atomic_write` is the one way files are written whole (checkpoints, reports' pointers, predictions): a temporary
file in the same folder, renamed over the target once complete, so a reader, a killed run or a full disk never
leaves half a file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Optional, Type, Union

from humanparse.errors import ConfigError, HumanParseError

_UMASK = os.umask(0)
os.umask(_UMASK)


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
        raise ConfigError(f"cannot write {path}: {write_failure(error)}") from error


# what C++ writers (torch's zip writer, protobuf, OpenVINO) say when the disk filled under them
_SHORT_WRITE_MARKERS = ("unexpected pos", "basic_ios", "file write failed", "PytorchStreamWriter failed")


def write_failure(failure: BaseException) -> str:
    """Why a write failed, in a few words: the OS's reason ("No space left on device"), or for the C++ writers'
    messages ("[enforce fail at inline_container.cc:672] . unexpected pos", "basic_ios::clear") the likely one."""
    cause: Optional[BaseException] = failure
    while cause is not None:  # a C++ writer over a Python stream keeps the stream's OSError as the cause
        if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
            return os.strerror(errno.ENOSPC)  # "No space left on device", as the OS says it
        cause = cause.__cause__ or cause.__context__
    if isinstance(failure, OSError):
        return failure.strerror or str(failure) or type(failure).__name__
    text = str(failure)
    if any(marker in text for marker in _SHORT_WRITE_MARKERS):
        return "the write stopped short: no space left on device (or the file system failed)"
    return (text.splitlines() or [type(failure).__name__])[0]


def fsync_directory(folder: Union[str, Path]) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened (Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def atomic_write(
    path: Union[str, Path],
    write: Callable[[BinaryIO], object],
    *,
    error: Type[HumanParseError] = ConfigError,
    durable: bool = True,
) -> Path:
    """Write `path` whole: `write(stream)` fills a temporary file beside it, which then replaces `path`.

    `durable` also fsyncs the file and its folder (checkpoints; predictions skip it, a rename is enough against a
    killed run). A failure removes the temporary file and raises `error` naming `path` in one line.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as failure:
        raise error(f"cannot write {path}: {write_failure(failure)}") from failure
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp's 0600 would survive the rename
        os.replace(temporary, path)
    except BaseException as failure:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(failure, (OSError, RuntimeError)):
            raise error(f"cannot write {path}: {write_failure(failure)}") from failure
        raise
    if durable:
        fsync_directory(path.parent)
    return path
