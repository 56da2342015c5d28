"""Temporary files and folders that a writer owns, and that it (or its next run) removes whatever the exit.

A name carries the host and the process id of its owner (`.NAME.HOST-PID-RANDOM.tmp`,
`humanparse-quantize-HOST-PID-RANDOM`), so a later run removes exactly the leftovers of processes that are gone
(killed with SIGKILL, power cut) and never the file of a run still going. SIGTERM (a job scheduler's stop) is
turned into SystemExit while a temporary folder is held, so its `finally` blocks remove it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional, Union

PathLike = Union[str, Path]
_HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:32] or "host"
_OWNER = re.compile(r"(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[A-Za-z0-9_]+")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temporary_file(beside: PathLike, suffix: str = "") -> Path:
    """A new empty file `.NAME.HOST-PID-RANDOM.tmp<suffix>` in the folder of `beside` (same file system, so an
    `os.replace` onto `beside` is atomic), with the permissions a normal file would get."""
    beside = Path(beside)
    handle, name = tempfile.mkstemp(
        prefix=f".{beside.name}.{_HOST}-{os.getpid()}-", suffix=f".tmp{suffix}", dir=beside.parent
    )
    os.close(handle)
    os.chmod(name, 0o666 & ~_umask())  # mkstemp's 0600 would survive the rename
    return Path(name)


def _owner_gone(owner: str) -> bool:
    match = _OWNER.fullmatch(owner)
    if match is None or match.group("host") != _HOST:
        return False
    pid = int(match.group("pid"))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # alive under another user, or unknown: keep it
    return False


def remove_entries(
    folder: PathLike, chosen: Callable[[os.DirEntry], bool], remove: Callable[[str], None] = os.unlink
) -> int:
    """Remove (`remove(path)`, default a file's unlink) the entries of `folder` that `chosen` selects; returns
    how many. A folder that cannot be listed removes nothing, and an entry whose removal fails stays."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if chosen(entry):
            try:
                remove(entry.path)
                removed += 1
            except OSError:
                pass
    return removed


def remove_stale_files(beside: PathLike) -> int:
    """Remove the temporary files of `beside` (`temporary_file`'s names, any suffix) left by processes of this
    host that are gone; returns how many."""
    beside = Path(beside)
    pattern = re.compile(re.escape(f".{beside.name}.") + r"(?P<owner>[A-Za-z0-9_]+-\d+-[A-Za-z0-9_]+)\.tmp.*")

    def stale(entry: os.DirEntry) -> bool:
        match = pattern.fullmatch(entry.name)
        return match is not None and _owner_gone(match.group("owner"))

    return remove_entries(beside.parent if str(beside.parent) else ".", stale)


def remove_stale_folders(prefix: str, parent: Optional[PathLike] = None) -> int:
    """Remove the `temporary_folder(prefix)` folders of processes of this host that are gone."""
    parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())

    def stale(entry: os.DirEntry) -> bool:
        if not entry.name.startswith(f"{prefix}-") or not entry.is_dir(follow_symlinks=False):
            return False
        return _owner_gone(entry.name[len(prefix) + 1 :])

    return remove_entries(parent, stale, partial(shutil.rmtree, ignore_errors=True))


@contextmanager
def terminate_as_exit() -> Iterator[None]:
    """While inside, SIGTERM raises SystemExit(143) in the main thread (so `finally` blocks run) where it would
    have killed the process outright; elsewhere, or under a handler someone else set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, AttributeError):
        yield
        return
    if previous not in (signal.SIG_DFL, None):
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise SystemExit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def temporary_folder(prefix: str, parent: Optional[PathLike] = None) -> Iterator[Path]:
    """A new folder `PREFIX-HOST-PID-RANDOM` in the system temporary folder (or `parent`), removed on any exit
    (an error, Ctrl+C, SIGTERM); the folders of earlier processes killed outright are removed first."""
    remove_stale_folders(prefix, parent)
    folder = Path(
        tempfile.mkdtemp(prefix=f"{prefix}-{_HOST}-{os.getpid()}-", dir=str(parent) if parent else None)
    )
    try:
        with terminate_as_exit():
            yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
