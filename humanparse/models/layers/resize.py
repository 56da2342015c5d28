"""Bilinear resizing: the two conventions the networks use, and the matrix form `PyramidConv2d` needs."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def resize(x: torch.Tensor, size: Sequence[int], align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize to an explicit (H, W); SSSegmentation's CE2P (align_corners=False)."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)


def upsample(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize with align_corners=True, the only resize of the official CE2P/SCHP, CDGNet and CSENet."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


def interpolation_matrix(
    in_size: int, out_size: int, align_corners: bool, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """The (out_size, in_size) matrix of 1-D linear resizing, as `F.interpolate` computes it along one axis."""
    eye = torch.eye(in_size, dtype=dtype, device=device).unsqueeze(0)
    return F.interpolate(eye, size=out_size, mode="linear", align_corners=align_corners)[0].t()
