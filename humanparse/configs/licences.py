"""The licence of a recipe's published weights (`published["licence"]`), and the notice printed once per process
when weights whose licence forbids commercial use (`published["commercial_use"] is False`) are used.

humanparse's own code stays under its own licence; this only names the terms of the weights a recipe loads.
"""

from __future__ import annotations

import logging
from typing import Set

_logger = logging.getLogger(__name__)
_noticed: Set[str] = set()


def weights_licence(config) -> str:
    """The short licence of `config`'s published weights ("-" when the recipe publishes none)."""
    return str(config.published.get("licence", "-"))


def notify_licence(config) -> bool:
    """Log the licence of non-commercial weights once per process (per licence); True when it was logged now."""
    published = config.published
    if published.get("commercial_use", True) is not False:
        return False
    licence = weights_licence(config)
    if licence in _noticed:
        return False
    _noticed.add(licence)
    url = published.get("licence_url", "")
    _logger.warning(
        "%s: its weights are under the %s%s; humanparse's code is under its own licence",
        config.name,
        licence,
        f" ({url})" if url else "",
    )
    return True
