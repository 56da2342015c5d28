"""`humanparse download`: fetch a zoo entry's files into the cache (or a mirror folder), verified.

For each file the sources are tried in order: `$HUMANPARSE_MODEL_MIRROR/<file name>` first when set (http(s) or
file://), then the local cache when filling another folder, then the entry's public sources (the authors'
original, then the pinned mirrors). Bytes grow in `<name>.part` (resumed with an HTTP Range request after an
interruption); only once the size and SHA-256 match is the file renamed to its final name. A mismatch deletes
the download and names the source and what it gave. Baidu and Drive-folder links are printed as manual steps.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Callable, Iterator, List, Optional
from urllib.parse import quote, urlparse

from humanparse.errors import CheckpointError, ConfigError
from humanparse.outputs import fsync_directory
from humanparse.zoo import cache
from humanparse.zoo.fetch import SourceError, download_url, fetch, fsync_file
from humanparse.zoo.table import Source, ZooEntry, ZooFile

MIRROR_VARIABLE = "HUMANPARSE_MODEL_MIRROR"

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def human_size(size: Optional[int]) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def mirror_source(file: ZooFile) -> Optional[Source]:
    """`$HUMANPARSE_MODEL_MIRROR/<file name>`, or None when the variable is unset."""
    mirror = os.environ.get(MIRROR_VARIABLE, "").strip()
    if not mirror:
        return None
    if urlparse(mirror).scheme not in ("http", "https", "file"):
        raise ConfigError(
            f"{MIRROR_VARIABLE}={mirror!r}: give an http(s):// or file:// URL, e.g. file:///srv/humanparse-models"
        )
    return Source(f"{mirror.rstrip('/')}/{quote(file.name)}", f"mirror {MIRROR_VARIABLE}")


def sources_for(file: ZooFile, folder: Path) -> List[Source]:
    """The automatic sources of a file, in the order they are tried."""
    sources = []
    mirror = mirror_source(file)
    if mirror is not None:
        sources.append(mirror)
    cached = cache.models_dir()
    if _differs(folder, cached) and cache.status(cached, file) in (cache.VERIFIED, cache.RECORDED):
        sources.append(Source((cached / file.name).resolve().as_uri(), "the local cache"))
    return sources + list(file.automatic_sources)


def _differs(a: Path, b: Path) -> bool:
    return os.path.abspath(a) != os.path.abspath(b)


def manual_steps(file: ZooFile, path: Path) -> str:
    """The exact steps to fetch a file by hand from its Baidu / Drive-folder sources."""
    lines = [f"{file.name.rsplit('/', 1)[-1]} cannot be downloaded automatically; by hand:"]
    for source in file.manual_sources:
        what = source.manual_hint or file.name.rsplit("/", 1)[-1]
        if source.kind == "baidu":
            code = f", enter the extraction code {source.code}" if source.code else ""
            lines.append(f"  - {source.label}: open {source.url}{code}, then download {what}")
        else:
            lines.append(f"  - {source.label}: open {source.url} in a browser and download {what}")
    lines.append(f"  then save it as {path} (checked on first use), or give the file's path as the weights")
    return "\n".join(lines)


@contextlib.contextmanager
def _exclusive(folder: Path, file: ZooFile) -> Iterator[None]:
    """One download of a file at a time (two writers would interleave the partial file)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the hash check still catches a mixed file
        yield
        return
    lock = cache.record_path(folder, file).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise CheckpointError(f"another download of {file.name} into {folder} is running") from None
        yield


def download_file(file: ZooFile, folder: Path, *, progress: bool = True, log: Log = _stderr) -> Path:
    """Put a verified copy of `file` at `folder/<file name>`; CheckpointError saying what each source gave."""
    path = folder / file.name
    state = cache.check(folder, file)
    if state in (cache.VERIFIED, cache.RECORDED):
        log(f"{file.name}: already in {folder} ({state})")
        return path
    if state == cache.CHANGED:
        log(f"{file.name}: the copy in {folder} is not the verified file; downloading it again")
    sources = sources_for(file, folder)
    if not sources:
        raise CheckpointError(manual_steps(file, path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CheckpointError(f"cannot write {path.parent}: {error.strerror or error}") from error
    attempts: List[str] = []
    try:
        with _exclusive(folder, file):
            for source in sources:
                outcome = _try_source(file, folder, source, progress, log)
                if outcome is None:
                    return path
                attempts.append(f"  - {source.label} ({source.url}): {outcome}")
                log(f"{file.name}: {source.label}: {outcome}")
    except OSError as error:  # the folder: read-only, full, a file in the way
        raise CheckpointError(f"cannot write {path}: {error.strerror or error}") from error
    lines = [f"could not download {file.name}:", *attempts]
    if file.manual_sources:
        lines.append(manual_steps(file, path))
    raise CheckpointError("\n".join(lines))


def _try_source(file: ZooFile, folder: Path, source: Source, progress: bool, log: Log) -> Optional[str]:
    """None once `folder` holds the verified file from `source`, else what went wrong (the partial file is kept
    only when it can be continued safely)."""
    path = folder / file.name
    url = download_url(source)
    part = cache.part_path(path)
    origin = part.with_name(part.name + ".source")
    # a partial file from another URL is continued only when the final hash check can tell a mixed file
    if part.exists() and file.sha256 is None and _read(origin) != url:
        part.unlink()
    origin.write_text(url)
    if part.exists():
        log(f"{file.name}: resuming at byte {part.stat().st_size} from {source.label}")
    else:
        log(f"{file.name}: downloading from {source.label}")
    try:
        fetch(
            url,
            part,
            expected_size=file.size,
            drive=source.kind == "drive",
            progress=progress,
            desc=file.name.rsplit("/", 1)[-1],
        )
    except SourceError as error:
        # what arrived is kept for the next source or run only when the final hash check can vouch for it
        if file.sha256 is None or not part.exists() or part.stat().st_size == 0:
            _discard(part, origin)
        return str(error)
    size = part.stat().st_size if part.exists() else 0
    if file.size is not None and size != file.size:
        _discard(part, origin)
        return f"gave {size} bytes, the published file has {file.size}; deleted"
    digest = cache.sha256_of(part)
    if file.sha256 is not None and digest != file.sha256:
        _discard(part, origin)
        return f"gave a file with SHA-256 {digest}, the published one is {file.sha256}; deleted"
    fsync_file(part)
    os.replace(part, path)
    fsync_directory(path.parent)
    origin.unlink(missing_ok=True)
    cache.write_record(folder, file, size, digest, url)
    kind = "SHA-256 verified" if file.sha256 else "no published hash; SHA-256 recorded"
    log(f"{file.name}: {human_size(size)}, {kind}")
    return None


def _discard(part: Path, origin: Path) -> None:
    """Delete a partial download that must not be continued, and the note of where it came from."""
    part.unlink(missing_ok=True)
    origin.unlink(missing_ok=True)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def download_entry(
    entry: ZooEntry, folder: Optional[Path] = None, *, progress: bool = True, log: Log = _stderr
) -> Path:
    """Every file of `entry` into `folder` (default: the cache); returns the path its name resolves to."""
    folder = Path(folder) if folder is not None else cache.models_dir()
    log(f"{entry.name}: licence {entry.licence.name}; commercial use: {entry.licence.commercial}")
    for file in entry.files:
        download_file(file, folder, progress=progress, log=log)
    return folder / entry.path_name
