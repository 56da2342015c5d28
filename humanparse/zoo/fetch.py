"""Fetching one URL into a partial file: HTTP(S) with Range resume, `file://`, and Google Drive's confirmation.

Standard library only (urllib): the zoo needs no new dependency.

Google Drive: a large file's link answers with a "can't scan this file for viruses" page instead of the file. We
ask `drive.usercontent.google.com/download?id=ID&export=download&confirm=t` directly, which serves the file, and
when Drive still answers with its page we submit the page's own form (its action and hidden fields, such as
`uuid`) once. `gdown` does the same, but it would add two dependencies (requests, beautifulsoup4) and write the
file by itself, outside the size / SHA-256 checks and the resume logic every other source goes through. A page
saying the download quota is exceeded ("too many users") is one SourceError line, and the next source is tried.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlencode, urljoin, urlparse

from humanparse.progress import progress_bar
from humanparse.zoo.table import Source

DRIVE_DOWNLOAD_URL = "https://drive.usercontent.google.com/download"
TIMEOUT_S = 60.0
RETRIES = 3  # fresh starts when a source's ranges do not continue the file
RECONNECTS = 20  # reconnections after dropped connections, as long as each one brought new bytes
CHUNK = 1 << 20
_QUOTA_PHRASES = ("too many users", "quota exceeded", "download quota", "exceeded the quota")


class SourceError(Exception):
    """A source that could not give the file; the message is one line saying what it gave."""


class _Dropped(Exception):
    """The connection ended before the file did (the partial file keeps what arrived)."""


class _Restart(Exception):
    """The partial file cannot be continued from this source: start again from its first byte."""


def _bytes_bar(total: Optional[int], initial: int, desc: str, progress: bool):
    """A progress bar in bytes (KiB, MiB ...) that starts at `initial`, for a download or a copy."""
    return progress_bar(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not progress,
    )


def download_url(source: Source) -> str:
    """The URL to request for a source (a Drive share link becomes Drive's direct download form)."""
    if source.kind == "drive":
        query = urlencode({"id": source.drive_id, "export": "download", "confirm": "t"})
        return f"{DRIVE_DOWNLOAD_URL}?{query}"
    return source.url


def fetch(
    url: str,
    part: Path,
    *,
    expected_size: Optional[int] = None,
    drive: bool = False,
    progress: bool = True,
    desc: str = "",
) -> None:
    """Complete `part` with the bytes of `url`, continuing from its current size where the source allows.

    Raises SourceError in one line: not found, a refused connection, a size other than `expected_size`, a Drive
    quota page, or a connection that keeps dropping. What arrived stays in `part`.
    """
    attempts = reconnects = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            if urlparse(url).scheme == "file":
                _copy_file(url, part, expected_size, progress, desc)
            else:
                _fetch_http(url, part, expected_size, drive, progress, desc)
            return
        except _Restart:
            part.unlink(missing_ok=True)
            attempts += 1
            if attempts > RETRIES:
                raise SourceError("keeps answering with a range that does not continue the file") from None
        except _Dropped as dropped:
            reconnects += 1
            after = part.stat().st_size if part.exists() else 0
            if reconnects > RECONNECTS or after <= before:
                raise SourceError(f"the connection dropped at byte {after} ({dropped})") from None


def _open(url: str, offset: int) -> http.client.HTTPResponse:
    from humanparse import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"humanparse/{__version__}"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 (http/https only here)


def _open_checked(url: str, offset: int, expected_size: Optional[int]):
    """The response for `url` from `offset`, or SourceError naming the HTTP status or the network error."""
    try:
        return _open(url, offset)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:
            if expected_size is not None and offset == expected_size:
                return None  # the partial file already holds every byte
            raise _Restart() from None
        reason = "not found" if error.code == 404 else (error.reason or "")
        raise SourceError(f"HTTP {error.code} {reason}".rstrip()) from None
    except urllib.error.URLError as error:
        raise SourceError(f"cannot connect: {error.reason}") from None
    except (socket.timeout, TimeoutError):
        raise SourceError(f"no answer within {TIMEOUT_S:.0f} s") from None
    except (http.client.HTTPException, ConnectionError) as error:
        raise SourceError(f"the connection failed: {error or type(error).__name__}") from None
    except ValueError as error:  # a malformed URL (the mirror variable's, say)
        raise SourceError(f"not a valid URL: {error}") from None


def _fetch_http(
    url: str, part: Path, expected_size: Optional[int], drive: bool, progress: bool, desc: str
) -> None:
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset > expected_size:
        raise _Restart()
    response = _open_checked(url, offset, expected_size)
    if response is not None and _is_page(response):
        with response:
            if not drive:
                raise SourceError("answered with a web page, not the file")
            next_url = _drive_next_url(response, url)
        response = _open_checked(next_url, offset, expected_size)
        if response is not None and _is_page(response):
            with response:
                _drive_page_error(response.read(1 << 20).decode("utf-8", "replace"))
    if response is None:
        return
    with response:
        _write_body(response, part, offset, expected_size, progress, desc)


def _is_page(response) -> bool:
    return response.headers.get_content_type() in ("text/html", "application/xhtml+xml")


def _write_body(
    response, part: Path, offset: int, expected_size: Optional[int], progress: bool, desc: str
) -> None:
    """Append (206) or write anew (200) the body, checking the size the server announces."""
    start, total = _range_of(response, offset)
    if start != offset and start != 0:
        raise _Restart()
    if expected_size is not None and total is not None and total != expected_size:
        raise SourceError(f"offers {total} bytes, the published file has {expected_size}")
    mode = "ab" if start == offset and offset else "wb"  # a 200 to a Range request restarts the file
    written = start
    bar = _bytes_bar(total, start, desc, progress)
    try:
        with open(part, mode) as stream:
            while True:
                try:
                    block = response.read(CHUNK)
                except (
                    http.client.IncompleteRead,
                    ConnectionError,
                    socket.timeout,
                    TimeoutError,
                    OSError,
                ) as error:
                    raise _Dropped(type(error).__name__) from None
                if not block:
                    break
                stream.write(block)
                written += len(block)
                bar.update(len(block))
    finally:
        bar.close()
    if total is not None and written < total:
        raise _Dropped(f"{written} of {total} bytes")


def _range_of(response, offset: int) -> Tuple[int, Optional[int]]:
    """(first byte of the body, total size of the file or None) from the status and headers."""
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if response.status == 206:
        match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
        if not match:
            raise _Restart()
        start = int(match.group(1))
        total = int(match.group(2)) if match.group(2) != "*" else None
        return start, total
    return 0, length


class _FormParser(HTMLParser):
    """The first form of a page: its action and its input fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: Optional[str] = None
        self.fields: Dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action") or ""
            self._in_form = True
        elif tag == "input" and self._in_form:
            name = values.get("name")
            if name:
                self.fields[name] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False


def _drive_page_error(text: str) -> None:
    lowered = text.lower()
    if any(phrase in lowered for phrase in _QUOTA_PHRASES):
        raise SourceError("Google Drive: download quota exceeded for this file (too many users); try later")
    raise SourceError(
        "Google Drive answered with a web page, not the file (removed, private or a sign-in page)"
    )


def _drive_next_url(response, url: str) -> str:
    """The URL Drive's confirmation page submits to; SourceError for a quota or any other page."""
    text = response.read(1 << 20).decode("utf-8", "replace")
    lowered = text.lower()
    if any(phrase in lowered for phrase in _QUOTA_PHRASES):
        _drive_page_error(text)
    parser = _FormParser()
    parser.feed(text)
    if parser.action is None or "id" not in parser.fields:
        _drive_page_error(text)
    return f"{urljoin(url, parser.action)}?{urlencode(parser.fields)}"


def _copy_file(url: str, part: Path, expected_size: Optional[int], progress: bool, desc: str) -> None:
    """A `file://` source: the rest of a local (or mounted) file, from the partial file's size."""
    path = Path(urllib.request.url2pathname(urlparse(url).path))
    try:
        total = path.stat().st_size
        source = open(path, "rb")
    except FileNotFoundError:
        raise SourceError("not found") from None
    except OSError as error:
        raise SourceError(f"cannot read it: {error.strerror or error}") from None
    with source:
        if expected_size is not None and total != expected_size:
            raise SourceError(f"offers {total} bytes, the published file has {expected_size}")
        offset = part.stat().st_size if part.exists() else 0
        if offset > total:
            raise _Restart()
        source.seek(offset)
        bar = _bytes_bar(total, offset, desc, progress)
        try:
            with open(part, "ab" if offset else "wb") as stream:
                for block in iter(lambda: source.read(CHUNK), b""):
                    stream.write(block)
                    bar.update(len(block))
        finally:
            bar.close()


def fsync_file(path: Path) -> None:
    """Flush a finished download to disk before it is renamed into place."""
    with open(path, "rb+") as stream:
        os.fsync(stream.fileno())
