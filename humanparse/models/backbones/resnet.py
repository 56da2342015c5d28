"""Dilated ResNet-50/101 in the two layouts human-parsing recipes use.

* ``stem="v1c"``: OpenMMLab's ResNetV1c (three 3x3 convs 32-32-64 in ``stem``), as SSSegmentation builds it, at
  output stride 8 or 16 with contracted dilation (the first block of a dilated stage uses half the dilation).
* ``stem="deep"``: the deep-stem ResNet of the official CE2P, SCHP, CDGNet and CSENet code (``conv1..3`` 64-64-128),
  output stride 16 with dilation 2 in every layer4 block.

Module names follow each layout's checkpoints, so ImageNet files load without renaming.
"""

from __future__ import annotations

import functools
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from humanparse.models.layers import conv_norm_act

STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}

# output stride -> per-stage (strides, dilations)
_STRIDES_DILATIONS = {
    8: ((1, 2, 1, 1), (1, 1, 2, 4)),
    16: ((1, 2, 2, 1), (1, 1, 1, 2)),
}


def scaled(channels: int, width: float) -> int:
    """Channel count scaled by a width multiplier (at least 4)."""
    return channels if width == 1.0 else max(4, int(round(channels * width)))


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride and dilation here, the "pytorch" style) -> 1x1 x4, with a residual."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: Optional[nn.Module] = None,
    ) -> None:
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = nn.Conv2d(in_channels, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = out + identity
        return self.relu(out)


class ResNet(nn.Module):
    """Dilated ResNet returning the four stage outputs (1/4, 1/8, and 1/8 or 1/16 twice)."""

    # set with setattr in __init__ (their names are the references' state-dict keys)
    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(
        self,
        depth: int = 101,
        stem: str = "v1c",
        output_stride: int = 8,
        width: float = 1.0,
        stage_blocks: Optional[Sequence[int]] = None,
    ) -> None:
        super().__init__()
        if depth not in STAGE_BLOCKS:
            raise ValueError(f"ResNet depth must be one of {sorted(STAGE_BLOCKS)}, got {depth}")
        if output_stride not in _STRIDES_DILATIONS:
            raise ValueError(f"output stride must be 8 or 16, got {output_stride}")
        if stem not in ("v1c", "deep"):
            raise ValueError(f"stem must be 'v1c' or 'deep', got {stem!r}")
        self.stem_type = stem
        blocks = tuple(stage_blocks) if stage_blocks is not None else STAGE_BLOCKS[depth]
        strides, dilations = _STRIDES_DILATIONS[output_stride]
        # The official code runs every layer4 block at the full dilation; OpenMMLab halves the first one.
        contract_dilation = stem == "v1c"

        if stem == "v1c":
            c1, c2 = scaled(32, width), scaled(64, width)
            self.stem = nn.Sequential(
                *_conv_bn_relu(3, c1, stride=2), *_conv_bn_relu(c1, c1), *_conv_bn_relu(c1, c2)
            )
            in_channels = c2
        else:
            c1, c2 = scaled(64, width), scaled(128, width)
            self.conv1, self.bn1, self.relu1 = _conv_bn_relu(3, c1, stride=2, inplace=False)
            self.conv2, self.bn2, self.relu2 = _conv_bn_relu(c1, c1, inplace=False)
            self.conv3, self.bn3, self.relu3 = _conv_bn_relu(c1, c2, inplace=False)
            in_channels = c2
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.out_channels: List[int] = []
        for index, (num_blocks, stride, dilation) in enumerate(zip(blocks, strides, dilations)):
            planes = scaled(64 * 2**index, width)
            layer, in_channels = _make_stage(
                in_channels, planes, num_blocks, stride, dilation, contract_dilation
            )
            setattr(self, f"layer{index + 1}", layer)
            self.out_channels.append(in_channels)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.stem_type == "v1c":
            x = self.stem(x)
        else:
            x = self.relu1(self.bn1(self.conv1(x)))
            x = self.relu2(self.bn2(self.conv2(x)))
            x = self.relu3(self.bn3(self.conv3(x)))
        return self.maxpool(x)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        x1 = self.layer1(self.forward_stem(x))
        x2 = self.layer2(x1)
        x3 = self.layer3(x2)
        x4 = self.layer4(x3)
        return x1, x2, x3, x4


def _conv_bn_relu(
    in_channels: int, out_channels: int, stride: int = 1, inplace: bool = True
) -> List[nn.Module]:
    """A stem's 3x3 conv, BN, ReLU (the deep stem's ReLUs are not in place, as in the official code)."""
    return conv_norm_act(
        in_channels, out_channels, 3, stride=stride, act_layer=functools.partial(nn.ReLU, inplace=inplace)
    )


def _make_stage(
    in_channels: int, planes: int, num_blocks: int, stride: int, dilation: int, contract_dilation: bool
) -> Tuple[nn.Sequential, int]:
    out_channels = planes * Bottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
        )
    first_dilation = dilation // 2 if contract_dilation and dilation > 1 else dilation
    layers = [Bottleneck(in_channels, planes, stride, first_dilation, downsample)]
    layers += [Bottleneck(out_channels, planes, 1, dilation) for _ in range(1, num_blocks)]
    return nn.Sequential(*layers), out_channels
