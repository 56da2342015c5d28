"""Object storage for `predict`: `s3://`, `gs://`, `az://` (inputs and outputs), `http(s)://` (inputs) through
fsspec (extra [cloud]), and `file://` as a plain local path. Local paths never import fsspec.

Credentials come from where each library looks (environment, profile files, instance roles, fsspec's
`FSSPEC_<PROTOCOL>_<OPTION>` variables), never from humanparse options; no message here prints them.
An output on an object store is one PUT of the finished bytes (a multipart upload appears whole on completion),
so a killed run never leaves a partial object under its final name.
"""

from __future__ import annotations

import glob as local_glob
import posixpath
import re
from pathlib import Path
from typing import Callable, List, Optional, Set, Tuple, Union
from urllib.parse import unquote, urlsplit

from humanparse.data.io import decode_image, read_image
from humanparse.errors import ConfigError, DataError
from humanparse.outputs import atomic_write

READABLE = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "http", "https")
WRITABLE = ("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss")
# protocol -> the package fsspec needs for it (the [cloud] extra installs s3fs; the others are named)
PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs",
            "abfss": "adlfs", "http": "aiohttp", "https": "aiohttp"}  # fmt: skip
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CREDENTIAL_ERRORS = ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError",
                      "DefaultCredentialsError", "ClientAuthenticationError", "CredentialUnavailableError")  # fmt: skip


def scheme(text: str) -> Optional[str]:
    """The lower-case scheme of a URI (`s3` of `s3://b/k`), None for a plain path."""
    match = _SCHEME.match(str(text))
    return match.group(1).lower() if match else None


def is_remote(text: Union[str, Path]) -> bool:
    """Whether `text` is a URI that fsspec reads (any scheme but `file`)."""
    found = scheme(str(text)) if isinstance(text, str) else None
    return found is not None and found != "file"


def local_path(text: Union[str, Path]) -> Union[str, Path]:
    """`file:///a/b` -> `/a/b` (percent-decoded); anything else unchanged."""
    if isinstance(text, str) and scheme(text) == "file":
        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise DataError(f"{text}: file:// URIs name this machine (file:///path), not {parts.netloc}")
        return unquote(parts.path)
    return text


def filesystem(uri: str):
    """fsspec's filesystem for `uri` and the path inside it; ConfigError naming the extra when not installed,
    or a protocol humanparse does not take."""
    protocol = scheme(uri)
    if protocol not in READABLE:
        raise ConfigError(f"{uri}: unsupported scheme {protocol}://; use s3, gs, az, http(s) or file")
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"{uri}: object storage needs fsspec: pip install 'humanparse[cloud]'") from None
    try:
        return fsspec.core.url_to_fs(uri)
    except ImportError:
        raise ConfigError(
            f"{uri}: {protocol}:// needs {PACKAGES[protocol]}: pip install {PACKAGES[protocol]} "
            "(S3: pip install 'humanparse[cloud]')"
        ) from None
    except Exception as error:  # a malformed URI or bad fsspec configuration
        raise ConfigError(f"{uri}: {describe(error)}") from None


def describe(error: BaseException) -> str:
    """One line for a storage failure, without credentials: the cause behind fsspec's and boto's wrappers."""
    seen: Optional[BaseException] = error
    while seen is not None:
        if type(seen).__name__ in _CREDENTIAL_ERRORS:
            return "no credentials found (set them in the environment or a profile, as the storage's own tools read them)"
        seen = seen.__cause__ or seen.__context__
    if isinstance(error, FileNotFoundError):
        return "no such object or folder"
    if isinstance(error, PermissionError):
        return "access denied"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text and text[0] else type(error).__name__


def _bucket(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def _missing(fs, uri: str, path: str) -> DataError:
    """Why `uri` names nothing: its bucket does not exist, or nothing is at this path in it."""
    bucket = _bucket(uri)
    if scheme(uri) not in ("http", "https"):
        try:
            bucket_exists = fs.exists(fs._strip_protocol(bucket))
        except Exception as error:
            return DataError(f"{uri}: {describe(error)}")
        if not bucket_exists:
            return DataError(
                f"{uri}: bucket {bucket} does not exist (or is not visible with these credentials)"
            )
    return DataError(f"{uri}: no such file or folder")


def _join(uri: str, relative: str) -> str:
    return uri.rstrip("/") + "/" + relative


def walk(uri: str, accept: Callable[[str], bool], skip: Optional[str] = None) -> List[Tuple[str, str]]:
    """The (URI, path below `uri`) of the files `accept`ed under a folder `uri`, recursively, or of `uri` itself
    when it is a file (path: its name); a glob pattern's matches with their path below its fixed part. `skip` (an
    output folder URI) is never walked into. DataError for a missing bucket or path, a listing refused."""
    fs, path = filesystem(uri)
    protocol = scheme(uri)
    try:
        if local_glob.has_magic(path) and protocol not in ("http", "https"):
            base = path[: path.find(next(c for c in path if c in "*?["))].rsplit("/", 1)[0]
            found = [(p, posixpath.relpath(p, base)) for p in fs.glob(path) if fs.isfile(p)]
            if not found:
                raise DataError(f"{uri}: pattern matches no files")
        elif protocol in ("http", "https") or fs.isfile(path):
            return [(uri, posixpath.basename(urlsplit(uri).path))]
        else:
            root = path.rstrip("/")
            found = [(p, posixpath.relpath(p, root)) for p in fs.find(root)]
            if not found and not fs.isdir(root):
                raise _missing(fs, uri, path)
    except DataError:
        raise
    except FileNotFoundError:
        raise _missing(fs, uri, path) from None
    except Exception as error:
        raise DataError(f"{uri}: {describe(error)}") from None
    prefix = f"{protocol}://"
    skip_path = fs._strip_protocol(skip).rstrip("/") + "/" if skip and scheme(skip) == protocol else None
    return [
        (prefix + p, relative)
        for p, relative in sorted(found)
        if accept(relative) and not (skip_path and (p + "/").startswith(skip_path))
    ]


def read_bytes(uri: str, kind: str = "file") -> bytes:
    """The content of the object `uri`; DataError naming it when it is missing, refused or empty."""
    fs, path = filesystem(uri)
    try:
        data = fs.cat_file(path)
    except FileNotFoundError:
        raise DataError(f"{kind} not found: {uri}") from None
    except Exception as error:
        raise DataError(f"cannot read {kind} {uri}: {describe(error)}") from None
    if not data:
        raise DataError(f"{kind} is empty (0 bytes): {uri}")
    return data


def read_photo(source: Union[str, Path], max_pixels: Optional[float] = None):
    """A photo as BGR uint8 (H, W, 3), from a local path or a URI, decoded as `read_image` does; `max_pixels`
    refuses a larger photo from its header, before decoding."""
    if is_remote(source):
        return decode_image(read_bytes(str(source), "image"), source, max_pixels)
    return read_image(source, max_pixels)


class ObjectFolder:
    """An output folder on an object store: which outputs exist (one listing, kept up to date by this run's
    writes) and whole-object writes."""

    def __init__(self, uri: str) -> None:
        protocol = scheme(uri)
        if protocol not in WRITABLE:
            raise ConfigError(f"--out {uri}: cannot write to {protocol}://; use s3, gs, az or a local folder")
        self.uri = uri.rstrip("/")
        self.fs, path = filesystem(self.uri)
        self.root = path.rstrip("/")
        self._existing: Optional[Set[str]] = None

    def __str__(self) -> str:
        return self.uri

    def __reduce__(self):  # a Ray or DataLoader worker opens its own client (and lists again only if asked)
        return (ObjectFolder, (self.uri,))

    def child(self, name: str) -> str:
        return _join(self.uri, name)

    def check(self) -> None:
        """DataError when the bucket does not exist or cannot be listed (before any work is done)."""
        self.existing()

    def existing(self) -> Set[str]:
        """The names below this folder, listed once."""
        if self._existing is None:
            try:
                found = self.fs.find(self.root)
            except FileNotFoundError:
                raise _missing(self.fs, self.uri, self.root) from None
            except Exception as error:
                raise DataError(f"--out {self.uri}: {describe(error)}") from None
            if not found:  # s3fs lists a missing bucket as empty: say so before a long run
                bucket = _bucket(self.uri)
                try:
                    exists = self.fs.exists(self.fs._strip_protocol(bucket))
                except Exception as error:
                    raise DataError(f"--out {self.uri}: {describe(error)}") from None
                if not exists:
                    raise DataError(f"--out {self.uri}: bucket {bucket} does not exist")
            self._existing = {posixpath.relpath(p, self.root) for p in found}
        return self._existing

    def exists(self, name: str) -> bool:
        return name in self.existing()

    def write(self, name: str, data: bytes) -> None:
        """One PUT of the finished bytes (never a partial object under `name`); DataError on failure."""
        try:
            self.fs.pipe_file(f"{self.root}/{name}", data)
        except Exception as error:
            raise DataError(f"cannot write {self.child(name)}: {describe(error)}") from None
        if self._existing is not None:
            self._existing.add(name)

    def remove(self, name: str) -> None:
        """Delete `name` when it exists."""
        if self.exists(name):
            try:
                self.fs.rm_file(f"{self.root}/{name}")
            except FileNotFoundError:
                pass
            except Exception as error:
                raise DataError(f"cannot remove {self.child(name)}: {describe(error)}") from None
            self.existing().discard(name)


Folder = Union[Path, ObjectFolder]


def output_folder(out: Union[str, Path]) -> Folder:
    """`--out` as a local Path (plain path or file://) or an ObjectFolder; ConfigError for http(s)."""
    out = local_path(out)
    if is_remote(out):
        return ObjectFolder(str(out))
    return Path(out)


def has(out: Folder, name: str) -> bool:
    """Whether the output `name` (a path below `out`) exists; written whole, so existing means complete."""
    return out.exists(name) if isinstance(out, ObjectFolder) else (out / name).is_file()


def put(out: Folder, name: str, data: bytes) -> None:
    """Write `data` as `name` below `out` whole: a renamed temporary file, or one object PUT."""
    if isinstance(out, ObjectFolder):
        out.write(name, data)
    else:
        atomic_write(out / name, lambda stream: stream.write(data), error=DataError, durable=False)


def remove(out: Folder, name: str) -> None:
    if isinstance(out, ObjectFolder):
        out.remove(name)
    else:
        (out / name).unlink(missing_ok=True)


def location(out: Folder, name: str) -> str:
    """How `name` below `out` is shown to the user."""
    return out.child(name) if isinstance(out, ObjectFolder) else str(out / name)
