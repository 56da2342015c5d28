"""'Did you mean ...?': the known names closest to a mistyped one, ranked by similarity (difflib)."""

from __future__ import annotations

import difflib
from typing import Iterable, List

__all__ = ["closest", "did_you_mean"]


def _key(name: str) -> str:
    # case, '-' vs '_' and spaces do not make two names different to a reader
    return name.lower().replace("-", "_").replace(" ", "_")


def closest(name: str, known: Iterable[str], count: int = 3, cutoff: float = 0.6) -> List[str]:
    """Up to `count` names of `known` most similar to `name`, best first (difflib's ratio >= `cutoff`)."""
    known = list(dict.fromkeys(known))
    by_key = {}
    for candidate in known:
        by_key.setdefault(_key(candidate), candidate)
    matches = difflib.get_close_matches(_key(name), list(by_key), n=count, cutoff=cutoff)
    return [by_key[match] for match in matches]


def did_you_mean(name: str, known: Iterable[str], count: int = 3) -> str:
    """ "; did you mean A, B?" for the closest names, or "" when none is close."""
    close = closest(name, known, count)
    return f"; did you mean {', '.join(close)}?" if close else ""
