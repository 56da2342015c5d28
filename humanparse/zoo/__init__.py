"""The model zoo: published weights by name, their sources, sizes, hashes and licences (table.py), the cache
(cache.py), verified downloads (fetch.py, download.py), the resolution of a weights argument (resolve.py) and the
one licence notice (licences.py).

Imports no torch: `humanparse models` and `humanparse download` stay quick, and every layer may use it.
"""

from pathlib import Path
from typing import Optional, Union

from humanparse.errors import ConfigError
from humanparse.zoo.cache import models_dir
from humanparse.zoo.download import download_entry
from humanparse.zoo.licences import notify_licence, weights_licence
from humanparse.zoo.resolve import default_weights, resolve, resolve_weights
from humanparse.zoo.table import ZOO, ZooEntry, ZooFile, get_entry, zoo_names

__all__ = [
    "ZOO",
    "ZooEntry",
    "ZooFile",
    "default_weights",
    "download_entry",
    "download_weights",
    "get_entry",
    "models_dir",
    "notify_licence",
    "resolve",
    "resolve_weights",
    "weights_licence",
    "zoo_names",
]


def download_weights(name: str, to: Optional[Union[str, Path]] = None, progress: bool = True) -> Path:
    """`humanparse download NAME` from Python: the verified local path of a zoo entry (cache, or the folder `to`)."""
    entry = get_entry(name)
    if entry is None:
        raise ConfigError(f"not a model-zoo name: {name} (`humanparse models` lists them)")
    return download_entry(entry, Path(to) if to is not None else None, progress=progress)
