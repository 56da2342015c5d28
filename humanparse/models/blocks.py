"""Small building blocks shared by the networks (SSSegmentation-style Sequential layouts)."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

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


# below these NNPACK's Winograd gains little or loses against oneDNN (measured on 2 AVX2 cores)
WINOGRAD_MIN_CHANNELS = 64
WINOGRAD_MIN_PIXELS = 60 * 60


def winograd_available() -> bool:
    """Whether NNPACK's Winograd convolution can run here (the call also initialises NNPACK)."""
    return bool(getattr(torch, "_nnpack_available", lambda: False)())


def winograd_eligible(conv: nn.Conv2d) -> bool:
    """A 3x3, stride-1, undilated, 'same'-padded, ungrouped conv wide enough for Winograd to pay off."""
    return (
        conv.kernel_size == (3, 3)
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.padding == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and min(conv.in_channels, conv.out_channels) >= WINOGRAD_MIN_CHANNELS
    )


def conv2d_same(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    padding: Tuple[int, int],
    dilation: Tuple[int, int],
    winograd: bool = False,
) -> torch.Tensor:
    """A stride-1 convolution; with `winograd`, fp32 CPU inference goes through NNPACK's Winograd kernels.

    Winograd F(6x6, 3x3) needs about a third of the multiplications (2-2.5x faster on maps of 60x60 and more
    here; smaller maps keep oneDNN), with rounding differences of ~5e-6 relative. NNPACK is fastest one image
    at a time, so a batch is split.
    """
    if (
        winograd
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.shape[-2] * x.shape[-1] >= WINOGRAD_MIN_PIXELS
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
    ):
        weight = weight.contiguous()
        outputs = [
            torch._nnpack_spatial_convolution(image[None].contiguous(), weight, bias, list(padding))
            for image in x
        ]
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs)
    return F.conv2d(x, weight, bias, 1, padding, dilation)


class WinogradConv2d(nn.Conv2d):
    """Conv2d whose inference runs NNPACK's Winograd kernels (see `conv2d_same`); set by `prepare_for_inference`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv2d_same(x, self.weight, self.bias, self.padding, self.dilation, winograd=True)


def interpolation_matrix(
    in_size: int, out_size: int, align_corners: bool, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """The (out_size, in_size) matrix of 1-D linear resizing, as `F.interpolate` computes it along one axis."""
    eye = torch.eye(in_size, dtype=dtype, device=device).unsqueeze(0)
    return F.interpolate(eye, size=out_size, mode="linear", align_corners=align_corners)[0].t()


class PyramidConv2d(nn.Conv2d):
    """A 'same'-padded Conv2d that also accepts the parts of a channel concatenation, some at low resolution.

    `conv([x, b1, b2], size=x.shape[-2:])` equals `conv(torch.cat([x, up(b1), up(b2)], 1))` where `up` is the
    bilinear resize to `size`, but the parts of another size (the PSP branches, 1x1 to 6x6) are convolved at
    their own size and resized by separable interpolation matrices afterwards (convolution and resizing are both
    linear). That skips most of the pyramid bottleneck's work: its 3x3 conv over 4096 channels is a third of
    CE2P's FLOPs. Parameters and state_dict keys are those of the plain Conv2d.
    """

    def __init__(self, *args, align_corners: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        kernel_h, kernel_w = self.kernel_size
        same = (self.dilation[0] * (kernel_h // 2), self.dilation[1] * (kernel_w // 2))
        if self.stride != (1, 1) or self.groups != 1 or self.padding != same or self.padding_mode != "zeros":
            raise ValueError("PyramidConv2d needs stride 1, one group and zero 'same' padding")
        self.align_corners = align_corners
        self.winograd = False  # set by prepare_for_inference for the full-resolution part

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
        out = conv2d_same(images, weight, self.bias, self.padding, self.dilation, self.winograd)
        return out if low is None else out + low

    def _shifted_matrix(self, in_size: int, out_size: int, axis: int, like: torch.Tensor) -> torch.Tensor:
        """(out, k, in): the resize matrix with each kernel tap's offset applied (zero rows past the border)."""
        matrix = interpolation_matrix(in_size, out_size, self.align_corners, like.dtype, like.device)
        pad, step = self.padding[axis], self.dilation[axis]
        padded = F.pad(matrix, (0, 0, pad, pad))
        taps = [padded[j * step : j * step + out_size] for j in range(self.kernel_size[axis])]
        return torch.stack(taps, dim=1)

    def _low_resolution_term(
        self, part: torch.Tensor, weight: torch.Tensor, size: Tuple[int, int]
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
