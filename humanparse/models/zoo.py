"""The model zoo: published weights of each named config, found in (or downloaded to) the torch hub cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import torch

from humanparse.configs import get_config, list_configs
from humanparse.errors import CheckpointError
from humanparse.suggest import did_you_mean

_MANUAL_HOSTS = ("drive.google.com", "pan.baidu.com")


@dataclass(frozen=True)
class ZooEntry:
    """Where a config's published weights live and the file name they are cached under."""

    name: str
    url: str
    file_name: str

    @property
    def direct(self) -> bool:
        """True when the URL downloads the file itself (not a sharing page)."""
        return not any(host in self.url for host in _MANUAL_HOSTS)


def zoo_table() -> Dict[str, ZooEntry]:
    """Every named config that has published weights, cached under its recipe's `published["weights_file"]`."""
    table = {}
    for name in list_configs():
        published = get_config(name).published
        url = published.get("weights_url", "")
        if url:
            file_name = published.get("weights_file") or url.rstrip("/").rsplit("/", 1)[-1]
            table[name] = ZooEntry(name, url, file_name)
    return table


def get_entry(name: str) -> Optional[ZooEntry]:
    """The zoo entry of a config name, or None."""
    return zoo_table().get(name)


def cached_path(entry: ZooEntry) -> Path:
    """Where the torch hub cache keeps (or would keep) the entry's file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / entry.file_name


def resolve(name: str, download: bool = True) -> Path:
    """The local file of a zoo name: the cached copy, else a download for direct links.

    Weights behind Google Drive / Baidu links must be downloaded by hand; the error says from where and to where.
    """
    entry = get_entry(name)
    if entry is None:
        raise CheckpointError(
            f"{name!r} is neither an existing file nor a model-zoo name with published weights"
            f"{did_you_mean(name, zoo_table())}"
        )
    path = cached_path(entry)
    if path.is_file():
        return path
    if not entry.direct:
        raise CheckpointError(
            f"weights of {name!r} ({entry.file_name}) cannot be downloaded automatically: download them from "
            f"{entry.url} and pass the file's path (or place it at {path})"
        )
    if not download:
        raise CheckpointError(f"weights of {name!r} are not in the cache ({path}) and downloading is off")

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(entry.url, str(path), progress=True)
    except Exception as error:  # network errors come in many types
        raise CheckpointError(f"could not download {entry.url} to {path}: {error}") from error
    return path
