"""Every named recipe, as data: one module per network family registers its configs with `@register_recipe`.

`humanparse configs` lists them and `humanparse configs show NAME` prints one. A recipe's `published` dict keeps
its metadata beside it: the published mIoU and protocol. Published weights are in the model zoo
(`humanparse/zoo/table.py`, `humanparse models`), under the recipe's name.
"""

from __future__ import annotations

from typing import List

from humanparse.configs.schema import Config
from humanparse.registry import RECIPES


def list_configs() -> List[str]:
    """Names of every recipe."""
    return RECIPES.names()


def get_config(name: str) -> Config:
    """A fresh copy of a named recipe (ConfigError naming close matches when there is none)."""
    return RECIPES.get(name)()
