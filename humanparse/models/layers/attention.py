"""The pixel-correlation module of the CDGNet and CSENet decoders."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pcm(cam: torch.Tensor, features: torch.Tensor, softmax_dim: int) -> torch.Tensor:
    """Pixel-correlation module: propagate ``cam`` with the scaled dot-product affinity of ``features``.

    ``cam`` and ``features`` share their spatial size. CSENet normalises the affinity over dim 1 (source
    positions), CDGNet over dim -1; each network passes its own.
    """
    n, c, h, w = features.shape
    f = features.view(n, -1, h * w)
    cam = cam.view(n, -1, h * w)
    affinity = torch.matmul(f.transpose(1, 2), f)
    affinity = (c**-0.5) * affinity
    affinity = F.softmax(affinity, dim=softmax_dim)
    return torch.matmul(cam, affinity).view(n, -1, h, w)
