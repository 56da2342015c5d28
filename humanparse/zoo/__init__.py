"""The model zoo: published weights by name, their sources, sizes, hashes and licences (table.py), the cache
(cache.py), verified downloads (fetch.py, download.py) and the resolution of a weights argument (resolve.py).

Imports no torch: `humanparse models` and `humanparse download` stay quick, and every layer may use it.
"""

from humanparse.zoo.cache import models_dir
from humanparse.zoo.download import download_entry
from humanparse.zoo.resolve import default_weights, resolve, resolve_weights
from humanparse.zoo.table import ZOO, ZooEntry, ZooFile, get_entry, zoo_names

__all__ = [
    "ZOO",
    "ZooEntry",
    "ZooFile",
    "default_weights",
    "download_entry",
    "get_entry",
    "models_dir",
    "resolve",
    "resolve_weights",
    "zoo_names",
]
