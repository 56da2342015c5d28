"""NNPACK Winograd kernels for fp32 CPU inference of wide 3x3 convolutions (set up by `prepare_for_inference`)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.models.layers import PyramidConv2d, conv2d_stride1

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


def winograd_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor],
    padding: Tuple[int, int],
    dilation: Tuple[int, int],
) -> torch.Tensor:
    """`conv2d_same` with Winograd on: the full-resolution convolution `use_winograd` gives a PyramidConv2d."""
    return conv2d_same(x, weight, bias, padding, dilation, winograd=True)


class WinogradConv2d(nn.Conv2d):
    """Conv2d whose inference runs NNPACK's Winograd kernels (see `conv2d_same`); set by `use_winograd`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # nn.Conv2d types padding as str | tuple; `use_winograd` converts only numeric 3x3 convolutions
        return winograd_conv2d(x, self.weight, self.bias, self.padding, self.dilation)  # type: ignore[arg-type]


def use_winograd(model: nn.Module) -> int:
    """Switch the model's wide 3x3 convolutions to NNPACK's Winograd kernels for CPU inference; returns how many.

    The parameters stay where they are (same state_dict); only the forward changes, and only for fp32 CPU
    inference without autograd (anything else takes the ordinary path).
    """
    switched = 0
    for module in model.modules():
        if isinstance(module, PyramidConv2d):
            eligible = winograd_eligible(module)
            module.full_resolution_conv = winograd_conv2d if eligible else conv2d_stride1
            switched += eligible
        elif type(module) is nn.Conv2d and winograd_eligible(module):
            module.__class__ = WinogradConv2d
            switched += 1
    return switched
