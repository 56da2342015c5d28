"""Reading a list file (`predict --list FILE`): one path a line, `#` comments, every bad line a one-line
DataError naming the file and the line number."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Union

MAX_LINE = 4096  # PATH_MAX on Linux: a longer line is no path
MAX_NAME = 255  # NAME_MAX: the longest file or folder name


def read_list_file(path: Union[str, Path], option: str = "--list", data: Optional[bytes] = None) -> List[str]:
    """The paths listed in `path` (or in `data`, its bytes read elsewhere), stripped, without blank and `#`
    lines."""
    from humanparse.errors import DataError

    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise DataError(f"{option} {path}: cannot read it: {error.strerror or error}") from error
    lines = []
    for number, raw in enumerate(data.splitlines(), start=1):
        where = f"{option} {path}, line {number}"
        if len(raw) > MAX_LINE:
            raise DataError(f"{where}: {len(raw)} characters, longer than any path ({MAX_LINE})")
        if b"\x00" in raw:
            raise DataError(f"{where}: holds a NUL byte (a binary file, not a list of paths)")
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise DataError(f"{where}: not UTF-8 text (a binary file, or another encoding)") from None
        if not line or line.startswith("#"):
            continue
        long_name = next((part for part in Path(line).parts if len(part.encode()) > MAX_NAME), None)
        if long_name is not None:
            raise DataError(f"{where}: a name of {len(long_name.encode())} bytes, longer than {MAX_NAME}")
        lines.append(line)
    return lines
