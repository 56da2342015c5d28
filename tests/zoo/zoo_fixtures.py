"""The tiny recipe's weights published in the zoo under its name, for the zoo tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Tuple

import torch

import humanparse
from humanparse.models.checkpoint_io import checkpoint_dict
from humanparse.zoo import models_dir, table
from humanparse.zoo.table import Licence, Source, ZooEntry, ZooFile

TINY = "ce2p_tiny_synthetic"


def publish_tiny(
    monkeypatch, licence: Licence, url: str = "https://example.invalid"
) -> Tuple[torch.nn.Module, Path]:
    """Seeded tiny weights written into the cache as the zoo's file of TINY (hash known) under `licence`; returns
    the model and the cached file."""
    torch.manual_seed(0)
    model = humanparse.build_model(TINY)
    path = models_dir() / "tiny.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint_dict(model, model.config), path)
    data = path.read_bytes()
    file = ZooFile("tiny.pth", len(data), hashlib.sha256(data).hexdigest(), (Source(url, "x"),))
    monkeypatch.setitem(table.ZOO, TINY, ZooEntry(TINY, "CE2P", 20, "lip", (file,), licence, "synthetic"))
    return model, path
