"""Finding input files under folders and glob patterns without ever looping.

`glob.glob("**")` and a naive walk follow symbolic links for ever through `self -> .` or `sub/up -> ..` (the
same photo found at every depth). Here every folder is entered once, by its real identity (device, inode):
a link to a folder already met is not followed, and each real file is listed once. A file link that loops
(`a.jpg -> b.jpg -> a.jpg`) is still listed, so that reading it fails on its own (into `failed.jsonl`) rather
than the whole run.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Set, Tuple

MAGIC = re.compile(r"[*?[]")


def has_magic(text: str) -> bool:
    return MAGIC.search(text) is not None


def _identity(path: str) -> Optional[Tuple[int, int]]:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def walk_files(
    root: Path,
    *,
    skip: Optional[Path] = None,
    max_depth: Optional[int] = None,
    keep_folder: Callable[[str], bool] = lambda name: True,
) -> Iterator[Tuple[Path, Tuple[str, ...]]]:
    """(path, parts below `root`) of every file under `root`, following folder links but entering each real
    folder once, never entering `skip`, and at most `max_depth` levels deep (1: the files of `root` itself).
    Each real file is listed once; a file link that loops or points nowhere is listed as it is."""
    skip_identity = _identity(str(skip)) if skip is not None else None
    seen_folders: Set[Tuple[int, int]] = set()
    seen_files: Set[Tuple[int, int]] = set()
    root_identity = _identity(str(root))
    if root_identity is None:
        return
    seen_folders.add(root_identity)
    stack: List[Tuple[str, Tuple[str, ...]]] = [(str(root), ())]
    while stack:
        folder, parts = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            here = parts + (entry.name,)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if max_depth is not None and len(here) >= max_depth:
                    continue
                identity = _identity(entry.path)
                if identity is None or identity in seen_folders or identity == skip_identity:
                    continue  # a loop, a second way into a folder met already, or the output folder
                if not keep_folder(entry.name):
                    continue
                seen_folders.add(identity)
                subfolders.append((entry.path, here))
                continue
            identity = _identity(entry.path)
            if identity is not None:
                if identity in seen_files:
                    continue
                seen_files.add(identity)
            elif not entry.is_symlink():
                continue  # vanished meanwhile
            yield Path(entry.path), here
        stack.extend(reversed(subfolders))


def match_parts(pattern: Sequence[str], parts: Sequence[str]) -> bool:
    """Whether path `parts` match glob `pattern` parts (`**`: any number of folders, `*`/`?`/`[...]` within a
    name; names starting with a dot only match a pattern part that does too), as `glob.glob(recursive=True)`."""
    if not pattern:
        return not parts
    head = pattern[0]
    if head == "**":
        if match_parts(pattern[1:], parts):
            return True
        return bool(parts) and not parts[0].startswith(".") and match_parts(pattern, parts[1:])
    if not parts:
        return False
    if parts[0].startswith(".") and not head.startswith("."):
        return False
    return fnmatch.fnmatchcase(parts[0], head) and match_parts(pattern[1:], parts[1:])


def glob_base(pattern: str) -> Tuple[Path, Tuple[str, ...]]:
    """The folder before the first wildcard of `pattern`, and the pattern parts after it."""
    parts = Path(pattern).parts
    first = next((i for i, part in enumerate(parts) if has_magic(part)), len(parts))
    base = Path(*parts[:first]) if first else Path(".")
    return base, tuple(parts[first:])


def glob_files(pattern: str, skip: Optional[Path] = None) -> List[Tuple[Path, Path]]:
    """(file, its path below the pattern's fixed folder) for each file matching `pattern`, loop-safe; a
    pattern without `**` looks only as deep as it has parts."""
    base, rest = glob_base(pattern)
    depth = None if "**" in rest else len(rest)
    hidden = any(part.startswith(".") for part in rest)
    found = []
    for path, parts in walk_files(
        base, skip=skip, max_depth=depth, keep_folder=lambda name: hidden or not name.startswith(".")
    ):
        if match_parts(rest, parts):
            found.append((path, Path(*parts)))
    return found
