"""Plain cross-entropy on the final logits (SegFormer's decode-head loss in mmsegmentation).

The logits are upsampled bilinearly to the label size (`train.align_corners`); 255 is ignored.
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.configs import Config
from humanparse.data.labels import IGNORE_INDEX
from humanparse.registry import register_loss


@register_loss("ce")
class CrossEntropyLoss(nn.Module):
    """`loss(outputs, batch)` on outputs["seg"] against batch["label"]."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.align_corners = config.train.align_corners

    def forward(
        self, outputs: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor]
    ) -> Dict[str, torch.Tensor]:
        label = batch["label"].long()
        logits = outputs["seg"]
        if logits.shape[-2:] != label.shape[-2:]:
            logits = F.interpolate(
                logits, size=label.shape[-2:], mode="bilinear", align_corners=self.align_corners
            )
        seg = F.cross_entropy(logits.float(), label, ignore_index=IGNORE_INDEX)
        return {"loss": seg, "loss_seg": seg}
