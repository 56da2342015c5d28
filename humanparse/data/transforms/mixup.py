"""CSENet's batch mixup (tjpulkl/BSSGNet train.py)."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import torch

PERMUTED_KEYS = ("label", "edge", "hgt", "wgt")


def mix_batch(
    batch: Dict[str, Any], lam: float, generator: torch.Generator
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Mix each image with a permuted partner: `x = lam * x + (1 - lam) * x[perm]`.

    `perm = torch.randperm(B, generator=generator)`. Returns `(mixed_batch, permuted_batch)`: the mixed batch
    keeps the original targets, the permuted batch holds the targets (label, edge, hgt, wgt) in `perm` order.
    """
    images = batch["image"]
    perm = torch.randperm(images.shape[0], generator=generator, device=generator.device).to(images.device)
    mixed = dict(batch)
    mixed["image"] = lam * images + (1 - lam) * images[perm]
    permuted = {key: batch[key][perm.to(batch[key].device)] for key in PERMUTED_KEYS if key in batch}
    return mixed, permuted
