"""The CE2P loss as SSSegmentation computes it: stage-1 CE + stage-2 CE + class-balanced edge CE.

Logits are upsampled bilinearly to the label size; 255 is ignored everywhere (SSSegmentation maps it to -100).
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.configs import Config
from humanparse.data.labels import IGNORE_INDEX
from humanparse.registry import register_loss


def edge_class_weights(edge: torch.Tensor) -> torch.Tensor:
    """[w_neg, w_pos] of a batch of edge targets: w_pos = N_neg / N, w_neg = N_pos / N over non-ignored pixels."""
    positives = (edge == 1).sum().float()
    negatives = (edge == 0).sum().float()
    total = (positives + negatives).clamp(min=1.0)
    return torch.stack([positives / total, negatives / total])


def edge_loss(logits: torch.Tensor, edge: torch.Tensor, normalized: bool = True) -> torch.Tensor:
    """Class-weighted edge CE; normalized divides by the sum of the weights, otherwise by the valid count."""
    weights = edge_class_weights(edge).to(logits.dtype)
    if normalized:
        return F.cross_entropy(logits, edge, weight=weights, ignore_index=IGNORE_INDEX)
    per_pixel = F.cross_entropy(logits, edge, weight=weights, ignore_index=IGNORE_INDEX, reduction="none")
    # SSSegmentation's norm_loss_with_class_weight=False (its VOC configs): mean over the valid pixels.
    return per_pixel.sum() / (edge != IGNORE_INDEX).sum().clamp(min=1)


@register_loss("ce2p")
class CE2PLoss(nn.Module):
    """`loss(outputs, batch)` on {"seg_stage1", "seg", "edge"} against batch["label"] and batch["edge"]."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.align_corners = config.train.align_corners
        self.edge_normalized = config.train.edge_loss_normalized

    def _upsample(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.shape[-2:] == target.shape[-2:]:
            return logits
        return F.interpolate(
            logits, size=target.shape[-2:], mode="bilinear", align_corners=self.align_corners
        )

    def forward(
        self, outputs: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        label, edge = batch["label"].long(), batch["edge"].long()
        stage1 = F.cross_entropy(
            self._upsample(outputs["seg_stage1"], label).float(), label, ignore_index=IGNORE_INDEX
        )
        stage2 = F.cross_entropy(
            self._upsample(outputs["seg"], label).float(), label, ignore_index=IGNORE_INDEX
        )
        edge_term = edge_loss(self._upsample(outputs["edge"], edge).float(), edge, self.edge_normalized)
        return {
            "loss": stage1 + stage2 + edge_term,
            "loss_seg_stage1": stage1,
            "loss_seg_stage2": stage2,
            "loss_edge": edge_term,
        }
