"""Pyramid pooling: `PyramidConv2d` and the two PSP layouts (SSSegmentation's CE2P; official CE2P/SCHP/CDGNet)."""

from __future__ import annotations

from functools import partial
from typing import Callable, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.models.layers.conv_norm_act import ActLayer, conv_norm_act, leaky_relu
from humanparse.models.layers.resize import interpolation_matrix

# (x, weight, bias, padding, dilation) -> a stride-1, ungrouped convolution
FullResolutionConv = Callable[
    [torch.Tensor, torch.Tensor, Optional[torch.Tensor], Tuple[int, int], Tuple[int, int]], torch.Tensor
]


def conv2d_stride1(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    padding: Tuple[int, int],
    dilation: Tuple[int, int],
) -> torch.Tensor:
    """`F.conv2d` with stride 1 and one group: `PyramidConv2d`'s default full-resolution convolution."""
    return F.conv2d(x, weight, bias, 1, padding, dilation)


class PyramidConv2d(nn.Conv2d):
    """A 'same'-padded Conv2d that also accepts the parts of a channel concatenation, some at low resolution.

    `conv([x, b1, b2], size=x.shape[-2:])` equals `conv(torch.cat([x, up(b1), up(b2)], 1))` where `up` is the
    bilinear resize to `size`, but the parts of another size (the PSP branches, 1x1 to 6x6) are convolved at
    their own size and resized by separable interpolation matrices afterwards (convolution and resizing are both
    linear). That skips most of the pyramid bottleneck's work: its 3x3 conv over 4096 channels is a third of
    CE2P's FLOPs. Parameters and state_dict keys are those of the plain Conv2d.

    `full_resolution_conv` computes the full-resolution part; `prepare_for_inference` may swap in a faster kernel
    of the same signature (the layers know nothing of the inference module).
    """

    def __init__(self, *args, align_corners: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        kernel_h, kernel_w = self.kernel_size
        same = (self.dilation[0] * (kernel_h // 2), self.dilation[1] * (kernel_w // 2))
        if self.stride != (1, 1) or self.groups != 1 or self.padding != same or self.padding_mode != "zeros":
            raise ValueError("PyramidConv2d needs stride 1, one group and zero 'same' padding")
        self.align_corners = align_corners
        self.full_resolution_conv: FullResolutionConv = conv2d_stride1

    def forward(self, parts, size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """A plain convolution of a tensor, or of the concatenation of `parts` resized to `size` (H, W)."""
        if isinstance(parts, torch.Tensor):
            return super().forward(parts)
        if size is None:
            raise ValueError("PyramidConv2d needs the output size with a list of parts")
        size = tuple(size)  # not int(): ONNX tracing keeps the sizes dynamic
        full, full_weights, low = [], [], None
        start = 0
        for part in parts:
            weight = self.weight[:, start : start + part.shape[1]]
            start += part.shape[1]
            if tuple(part.shape[-2:]) == size:
                full.append(part)
                full_weights.append(weight)
            else:
                term = self._low_resolution_term(part, weight, size)
                low = term if low is None else low + term
        if start != self.in_channels:
            raise ValueError(f"the parts have {start} channels, the convolution takes {self.in_channels}")
        if not full:
            raise ValueError(f"no part has the output size {size}")
        images = full[0] if len(full) == 1 else torch.cat(full, 1)
        weight = full_weights[0] if len(full_weights) == 1 else torch.cat(full_weights, 1)
        # nn.Conv2d types padding as str | tuple; ours is always the numeric pair (set in __init__)
        out = self.full_resolution_conv(images, weight, self.bias, self.padding, self.dilation)  # type: ignore[arg-type]
        return out if low is None else out + low

    def _shifted_matrix(self, in_size: int, out_size: int, axis: int, like: torch.Tensor) -> torch.Tensor:
        """(out, k, in): the resize matrix with each kernel tap's offset applied (zero rows past the border)."""
        matrix = interpolation_matrix(in_size, out_size, self.align_corners, like.dtype, like.device)
        pad, step = self.padding[axis], self.dilation[axis]
        padded = F.pad(matrix, (0, 0, pad, pad))  # type: ignore[arg-type]  # numeric padding, as above
        taps = [padded[j * step : j * step + out_size] for j in range(self.kernel_size[axis])]
        return torch.stack(taps, dim=1)

    def _low_resolution_term(
        self, part: torch.Tensor, weight: torch.Tensor, size: Tuple[int, ...]
    ) -> torch.Tensor:
        n, channels, h, w = part.shape
        out_channels, _, kh, kw = weight.shape
        rows = self._shifted_matrix(h, size[0], 0, part).reshape(size[0], kh * h)
        cols = self._shifted_matrix(w, size[1], 1, part).reshape(size[1], kw * w)
        # every tap's channel mixing at low resolution: (n, o, kh*h, kw*w), then rows @ taps @ cols^T
        # (plain matmuls rather than einsum, so that ONNX opset 11 can export it)
        taps = torch.matmul(
            weight.permute(0, 2, 3, 1).reshape(-1, channels), part.reshape(n, channels, h * w)
        )
        taps = taps.reshape(n, out_channels, kh, kw, h, w).permute(0, 1, 2, 4, 3, 5)
        taps = taps.reshape(n, out_channels, kh * h, kw * w)
        return torch.matmul(torch.matmul(rows, taps), cols.t())


class PyramidPoolingModule(nn.Module):
    """SSSegmentation's PPM: branches at scales (1, 2, 3, 6) concatenated after the input, then a 3x3 bottleneck.

    Keys ``branches.<i>.{1,2}`` and ``bottleneck.{0,1}`` (flat conv, BN, LeakyReLU); resizes use
    align_corners=False.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        pool_scales: Sequence[int] = (1, 2, 3, 6),
        act_layer: ActLayer = leaky_relu,
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d(scale), *conv_norm_act(in_channels, out_channels, act_layer=act_layer)
            )
            for scale in pool_scales
        )
        concatenated = in_channels + len(pool_scales) * out_channels
        self.bottleneck = nn.Sequential(
            *conv_norm_act(
                concatenated,
                out_channels,
                3,
                act_layer=act_layer,
                conv_layer=partial(PyramidConv2d, align_corners=False),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # = bottleneck(cat([x, resize(branch(x)) ...])) without upsampling the pooled maps (PyramidConv2d)
        parts = [x, *(branch(x) for branch in self.branches)]
        return self.bottleneck[1:](self.bottleneck[0](parts, size=x.shape[-2:]))


class PSPModule(nn.Module):
    """Pyramid pooling of the official CE2P, SCHP and CDGNet (bins 1, 2, 3, 6); the concat puts the pooled
    branches first, then the input, and resizes with align_corners=True. Keys ``stages.<i>.{1,2.0}`` and
    ``bottleneck.{0,1.0}`` (conv, then the ABN Sequential); `act_layer` is the head's ABN activation."""

    def __init__(
        self, features: int, out_features: int, act_layer: ActLayer, sizes: Sequence[int] = (1, 2, 3, 6)
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(
                nn.AdaptiveAvgPool2d((size, size)),
                *conv_norm_act(features, out_features, act_layer=act_layer, abn=True),
            )
            for size in sizes
        )
        concatenated = features + len(sizes) * out_features
        self.bottleneck = nn.Sequential(
            *conv_norm_act(
                concatenated,
                out_features,
                3,
                act_layer=act_layer,
                abn=True,
                conv_layer=partial(PyramidConv2d, align_corners=True),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # = bottleneck(cat([upsample(stage(x)) ..., x])) without upsampling the pooled maps (PyramidConv2d)
        parts = [*(stage(x) for stage in self.stages), x]
        return self.bottleneck[1:](self.bottleneck[0](parts, size=x.shape[-2:]))
