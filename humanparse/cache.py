"""humanparse's cache folder: what a run measured or computed once and the next run reuses (kernel choices).

One place: `$HUMANPARSE_CACHE_DIR`, else `$XDG_CACHE_HOME/humanparse`, else `~/.cache/humanparse`. Everything
in it can be deleted at any time; it is rebuilt on demand. Published weights live in the torch hub cache instead
(`humanparse.models.zoo`).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HUMANPARSE_CACHE_DIR"


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a sub-folder of it, `parts`); not created here: writers create what they write."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "humanparse") if xdg else str(Path.home() / ".cache" / "humanparse")
    return Path(root).expanduser().joinpath(*parts)
