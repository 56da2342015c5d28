"""CSENet's batch mixup (tjpulkl/BSSGNet train.py): a batch augmentation that owns its random streams."""

from __future__ import annotations

import random
from typing import Any, Dict, Optional, Tuple

import torch

PERMUTED_KEYS = ("label", "edge", "hgt", "wgt")
# The key a mixed batch carries: {"lam": float, "targets": the targets in the partners' order}; the loss built by
# `humanparse.losses.build_loss` scores such a batch as lam * L(batch) + (1 - lam) * L(targets).
MIXUP_KEY = "mixup"


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


class BatchMixup:
    """Mixes a batch with probability `prob`, marking it under MIXUP_KEY for the loss.

    The decision comes from its own Python `random.Random` (drawn with `<=` as tjpulkl/BSSGNet does), the
    permutation from its own torch.Generator; `state_dict` / `load_state_dict` carry both through checkpoints.
    """

    def __init__(self, prob: float, lam: float, seed: int) -> None:
        self.prob = prob
        self.lam = lam
        self.decisions = random.Random(seed)
        self.generator = torch.Generator().manual_seed(seed + 1)

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, Any]:
        if self.decisions.random() > self.prob:
            return batch
        mixed, permuted = mix_batch(batch, self.lam, self.generator)
        mixed[MIXUP_KEY] = {"lam": self.lam, "targets": permuted}
        return mixed

    def state_dict(self) -> Dict[str, Any]:
        """The random streams' state, as lists and tensors (a weights-only checkpoint can hold it)."""
        version, internal, gauss_next = self.decisions.getstate()
        return {"random": [version, list(internal), gauss_next], "generator": self.generator.get_state()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Continue the random streams `state_dict` recorded."""
        version, internal, gauss_next = state["random"]
        self.decisions.setstate((version, tuple(internal), gauss_next))
        self.generator.set_state(state["generator"].cpu())


def build_batch_augmentation(config: Any) -> Optional[BatchMixup]:
    """The recipe's batch augmentation (CSENet's mixup), or None when it has none (`train.mixup_prob == 0`)."""
    if config.train.mixup_prob <= 0:
        return None
    return BatchMixup(config.train.mixup_prob, config.train.mixup_lambda, config.train.seed)
