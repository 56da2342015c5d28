"""Flow warping of the CSENet alignment modules (tjpulkl/BSSGNet)."""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F


def flow_warp(inp: torch.Tensor, flow: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Sample ``inp`` at an identity grid of ``size`` shifted by ``flow`` (channel 0: x, 1: y).

    The flow is divided by the output size (w, h), not by (size - 1) / 2, as the official code does; with zero
    flow this is bilinear align_corners=True resampling to ``size`` (not bitwise).
    """
    out_h, out_w = size
    n = inp.shape[0]
    ys = torch.linspace(-1.0, 1.0, out_h).view(-1, 1).repeat(1, out_w)
    xs = torch.linspace(-1.0, 1.0, out_w).repeat(out_h, 1)
    grid = torch.stack((xs, ys), dim=2).repeat(n, 1, 1, 1).to(device=inp.device, dtype=inp.dtype)
    flow = flow.permute(0, 2, 3, 1)
    # divide by the sizes one channel at a time (not a torch.tensor of them) so ONNX tracing keeps them dynamic
    grid = grid + torch.stack((flow[..., 0] / out_w, flow[..., 1] / out_h), dim=3)
    return F.grid_sample(inp, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
