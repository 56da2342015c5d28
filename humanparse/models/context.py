"""Pieces shared by the CDGNet and CSENet heads (tjpulkl/CDGNet, tjpulkl/BSSGNet).

Both repositories build their blocks as plain ``nn.Sequential`` lists; the helpers here return the same lists so
that state_dict keys match the official checkpoints (e.g. an "ABN" nested in a Sequential gives ``x.1.0.weight``).
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.models.blocks import PyramidConv2d

Activation = Callable[[], nn.Module]


def leaky_relu() -> nn.Module:
    """CSENet's head activation (LeakyReLU 0.01)."""
    return nn.LeakyReLU(inplace=True)


def relu() -> nn.Module:
    """CDGNet's head activation."""
    return nn.ReLU()


def abn(channels: int, activation: Activation) -> nn.Sequential:
    """The repositories' local ``InPlaceABNSync``: BatchNorm2d then the activation (not the inplace_abn library)."""
    return nn.Sequential(nn.BatchNorm2d(channels), activation())


def conv_bn_act(
    in_channels: int, out_channels: int, kernel_size: int, activation: Activation, dims: int = 2
) -> nn.Sequential:
    """The repositories' ``conv2d``/``conv1d`` helper: conv (padding k//2, no bias), BN, activation."""
    conv = nn.Conv2d if dims == 2 else nn.Conv1d
    norm = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return nn.Sequential(
        conv(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        norm(out_channels),
        activation(),
    )


def upsample(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize with align_corners=True, the only resize both networks use."""
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


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


_BACKBONE_PREFIXES = (
    "conv1.",
    "bn1.",
    "conv2.",
    "bn2.",
    "conv3.",
    "bn3.",
    "layer1.",
    "layer2.",
    "layer3.",
    "layer4.",
)


def convert_official_keys(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official CDGNet/CSENet keys to ours: drop ``module.``, put the flat stem/layerN keys under ``backbone.``.

    Head keys are already ours (the heads keep the official attribute names); values need no change (plain BN).
    """
    converted: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        if key.startswith(_BACKBONE_PREFIXES):
            key = "backbone." + key
        converted[key] = value
    return converted


class PSPModule(nn.Module):
    """Pyramid pooling of the official CE2P, SCHP and CDGNet (bins 1, 2, 3, 6); the concat puts the pooled
    branches first, then the input, and resizes with align_corners=True. `activation` is the head's ABN one."""

    def __init__(
        self, features: int, out_features: int, activation: Activation, sizes: Sequence[int] = (1, 2, 3, 6)
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d((size, size)),
                nn.Conv2d(features, out_features, 1, bias=False),
                abn(out_features, activation),
            )
            for size in sizes
        )
        concatenated = features + len(sizes) * out_features
        self.bottleneck = nn.Sequential(
            PyramidConv2d(concatenated, out_features, 3, padding=1, bias=False, align_corners=True),
            abn(out_features, activation),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # = bottleneck(cat([upsample(stage(x)) ..., x])) without upsampling the pooled maps (PyramidConv2d)
        parts = [*(stage(x) for stage in self.stages), x]
        return self.bottleneck[1:](self.bottleneck[0](parts, size=x.shape[-2:]))
