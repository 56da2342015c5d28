"""Small building blocks shared by the networks (SSSegmentation-style Sequential layouts)."""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_lrelu(
    in_channels: int, out_channels: int, kernel_size: int = 1, negative_slope: float = 0.01
) -> List[nn.Module]:
    """[Conv (no bias, 'same' padding), BatchNorm, LeakyReLU]: the three Sequential entries SSSegmentation uses."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(negative_slope, inplace=True),
    ]


def resize(x: torch.Tensor, size: Tuple[int, int], align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize to an explicit (H, W)."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)
