"""Removing the temporary files a killed predict left behind (`.NAME.RANDOM.tmp`, written by
`humanparse.outputs.atomic_write` beside each output), for the outputs a run is about to write.

Only the temporaries of those outputs are touched: another shard or process writes other photos, and its
files in progress are left alone.
"""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path
from typing import Dict, Iterable, Set

from humanparse.temporaries import remove_entries

# atomic_write's names: "." + the output's name + "." + mkstemp's 8 random characters + ".tmp"
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp")


def remove_leftovers(outputs: Iterable[Iterable[Path]]) -> int:
    """Remove the leftover temporaries of these outputs (grouped per photo); each folder is listed once.
    Returns how many were removed."""
    names: Dict[str, Set[str]] = {}
    for paths in outputs:
        for path in paths:
            names.setdefault(str(path.parent), set()).add(path.name)
    # a folder not written yet removes nothing
    return sum(remove_entries(folder, partial(_is_leftover, wanted)) for folder, wanted in names.items())


def _is_leftover(wanted: Set[str], entry: os.DirEntry) -> bool:
    """A temporary file (not a folder or a link) of one of the `wanted` outputs."""
    match = _TEMPORARY.fullmatch(entry.name)
    return match is not None and match.group("name") in wanted and entry.is_file(follow_symlinks=False)
