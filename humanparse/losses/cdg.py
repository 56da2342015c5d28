"""The CDGNet / CSENet training loss, as both official repositories' ``CriterionAll`` computes it.

* parsing: for (seg_aux, seg_decoder, seg) with weights (0.4, 1, 1), logits upsampled bilinearly to the label
  size, CE (ignore 255) + Lovász-softmax of the softmax (present classes, batch-flattened);
* edge: CE weighted by the batch's class balance, [w0, w1] = [pos, neg] / (pos + neg);
* class distribution: 45 * (MSE(hgt, hpred) + MSE(wgt, wpred)), the predictions linearly upsampled
  (align_corners=True) to the label height and width.
"""

from __future__ import annotations

from typing import Dict, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.configs import Config
from humanparse.data.labels import IGNORE_INDEX
from humanparse.errors import ConfigError
from humanparse.losses.lovasz import lovasz_softmax
from humanparse.registry import register_loss

PARSING_WEIGHTS = (("seg_aux", 0.4), ("seg_decoder", 1.0), ("seg", 1.0))
CLASS_DISTRIBUTION_WEIGHT = 45.0

LossDict = Dict[str, torch.Tensor]


@register_loss("cdg")
class CDGLoss(nn.Module):
    """``loss(outputs, batch)`` with batch keys "label", "edge", "hgt", "wgt"; returns the total and each term."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.align_corners = config.train.align_corners
        self.ignore_index = IGNORE_INDEX

    def _upsample(self, logits: torch.Tensor, size) -> torch.Tensor:
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=self.align_corners)

    def parsing_loss(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        size = labels.shape[-2:]
        total = labels.new_zeros((), dtype=torch.float32)
        for key, weight in PARSING_WEIGHTS:
            logits = self._upsample(outputs[key], size)
            term = F.cross_entropy(logits, labels, ignore_index=self.ignore_index)
            term = term + lovasz_softmax(F.softmax(logits, dim=1), labels, self.ignore_index)
            total = total + term * weight
        return total

    def edge_loss(self, edge_logits: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        positives = (edges == 1).sum().float()
        negatives = (edges == 0).sum().float()
        weights = torch.stack([positives, negatives]) / (positives + negatives)
        logits = self._upsample(edge_logits, edges.shape[-2:])
        return F.cross_entropy(logits, edges, weights.to(logits.dtype), ignore_index=self.ignore_index)

    def class_distribution_loss(
        self, hpred: torch.Tensor, wpred: torch.Tensor, hgt: torch.Tensor, wgt: torch.Tensor
    ) -> torch.Tensor:
        # 1-D linear interpolation written as the reference's (L x 1) bilinear resize
        hpred = self._upsample(hpred.unsqueeze(3), (hgt.shape[2], 1)).squeeze(3)
        wpred = self._upsample(wpred.unsqueeze(2), (1, wgt.shape[2])).squeeze(2)
        hloss = torch.mean((hgt - hpred) * (hgt - hpred))
        wloss = torch.mean((wgt - wpred) * (wgt - wpred))
        return (hloss + wloss) * CLASS_DISTRIBUTION_WEIGHT

    def forward(self, outputs: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> LossDict:
        if "hgt" not in batch or "wgt" not in batch:
            raise ConfigError(
                "the cdg loss needs class-distribution targets: set data.class_distribution=true"
            )
        parsing = self.parsing_loss(outputs, batch["label"])
        edge = self.edge_loss(outputs["edge"], batch["edge"])
        distribution = self.class_distribution_loss(
            outputs["hpred"], outputs["wpred"], batch["hgt"], batch["wgt"]
        )
        return {
            "loss": parsing + edge + distribution,
            "loss_parsing": parsing,
            "loss_edge": edge,
            "loss_class_distribution": distribution,
        }
