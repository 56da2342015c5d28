"""The one licence notice: the terms of weights not cleared for commercial use, printed once per process.

The licences themselves live in the zoo table (`table.py`, one `Licence` per entry); a recipe's weights licence is
that of the zoo entry with its name. Both ways of giving weights call `notify_licence` with that name: a zoo name
when it resolves (`resolve.py`), a recipe when weights are loaded for it (`models/weights.py`, `inference/
backends.py`: a recipe with the user's own file, or a model file). A licence is shown once per process, whichever
path came first. humanparse's own code stays under its own licence; this only names the terms of the weights.
"""

from __future__ import annotations

import logging
from typing import Optional, Set

from humanparse.zoo.table import Licence, get_entry

_logger = logging.getLogger(__name__)
_noticed: Set[str] = set()


def weights_licence(name: str) -> Optional[Licence]:
    """The licence of the published weights named `name` (a zoo entry, or the recipe of the same name)."""
    entry = get_entry(name)
    return entry.licence if entry is not None else None


def notify_licence(name: str) -> bool:
    """Log the licence of `name`'s weights once per process unless it allows commercial use; True when logged now."""
    licence = weights_licence(name)
    if licence is None or licence.commercial == "yes" or licence.name in _noticed:
        return False
    _noticed.add(licence.name)
    note = f" ({licence.note})" if licence.note else ""
    url = f" <{licence.url}>" if licence.url else ""
    _logger.warning(
        "note: the published weights of %s are under: %s%s%s; commercial use: %s. humanparse's code is under its "
        "own licence; shown once; `humanparse models` lists every licence.",
        name,
        licence.name,
        url,
        note,
        licence.commercial,
    )
    return True
