"""humanparse's cache folder: what a run downloaded, measured or computed once and the next run reuses.

One place: `$HUMANPARSE_CACHE`, else `$XDG_CACHE_HOME/humanparse`, else `~/.cache/humanparse`; the zoo's
weights go to `models/` (`humanparse.zoo.cache`), the measured CPU kernel choices to `kernels/`.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "HUMANPARSE_CACHE"


def cache_dir(*parts: str) -> Path:
    """The cache folder (or a sub-folder of it, `parts`); not created here: writers create what they write."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "humanparse") if xdg else str(Path.home() / ".cache" / "humanparse")
    return Path(root).expanduser().joinpath(*parts)
