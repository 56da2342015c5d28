"""CSENet's mixup loss: a batch that `humanparse.data.transforms.BatchMixup` mixed is scored against both targets."""

from __future__ import annotations

from typing import Callable, Dict, Mapping

import torch
from torch import nn

from humanparse.data.transforms.mixup import MIXUP_KEY

LossDict = Dict[str, torch.Tensor]
LossFn = Callable[[Mapping[str, torch.Tensor], Mapping[str, torch.Tensor]], LossDict]


def mixup_loss(
    loss_fn: LossFn,
    outputs: Mapping[str, torch.Tensor],
    batch: Mapping[str, torch.Tensor],
    batch_perm: Mapping[str, torch.Tensor],
    lam: float,
) -> LossDict:
    """CSENet's mixup loss, term by term: ``lam * L(outputs, batch) + (1 - lam) * L(outputs, batch_perm)``.

    ``batch_perm`` holds the targets permuted as the mixed images were (``x = lam * x + (1 - lam) * x[perm]``).
    """
    own = loss_fn(outputs, batch)
    permuted = loss_fn(outputs, batch_perm)
    return {key: lam * own[key] + (1 - lam) * permuted[key] for key in own}


class MixupLoss(nn.Module):
    """Wraps a recipe's loss: a plain batch goes to it as it is, a mixed one (MIXUP_KEY) through `mixup_loss`."""

    def __init__(self, loss: LossFn) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> LossDict:
        mix = batch.get(MIXUP_KEY)
        if mix is None:
            return self.loss(outputs, batch)
        return mixup_loss(self.loss, outputs, batch, mix["targets"], mix["lam"])
