"""The edge branch of the official CE2P / SCHP and CDGNet heads (one key layout, two activations)."""

from __future__ import annotations

from typing import Sequence, Tuple

import torch
from torch import nn

from humanparse.models.layers.conv_norm_act import ActLayer, conv_norm_act
from humanparse.models.layers.resize import upsample


class EdgeModule(nn.Module):
    """1x1 conv-ABN reductions of three stages, one shared 3x3 edge classifier, a 1x1 fuse of the three edges.

    Keys: ``conv1..3`` (``.0`` conv, ``.1.0`` norm), ``conv4`` (classifier, run before the upsampling),
    ``conv5`` (fuse). Returns the fused edge logits and the three reduced features concatenated, both at the
    first input's size (align_corners=True).
    """

    def __init__(self, in_channels: Sequence[int], mid: int, out: int = 2, *, act_layer: ActLayer) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(*conv_norm_act(in_channels[0], mid, act_layer=act_layer, abn=True))
        self.conv2 = nn.Sequential(*conv_norm_act(in_channels[1], mid, act_layer=act_layer, abn=True))
        self.conv3 = nn.Sequential(*conv_norm_act(in_channels[2], mid, act_layer=act_layer, abn=True))
        self.conv4 = nn.Conv2d(mid, out, 3, padding=1, bias=True)
        self.conv5 = nn.Conv2d(out * 3, out, 1, bias=True)

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        size = (x1.shape[2], x1.shape[3])
        features = [self.conv1(x1), self.conv2(x2), self.conv3(x3)]
        edges = [self.conv4(f) for f in features]
        features[1:] = [upsample(f, size) for f in features[1:]]
        edges[1:] = [upsample(e, size) for e in edges[1:]]
        return self.conv5(torch.cat(edges, 1)), torch.cat(features, 1)
