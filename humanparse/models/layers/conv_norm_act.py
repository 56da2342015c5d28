"""The one conv -> norm -> activation helper, in the Sequential layouts the reference checkpoints use.

SSSegmentation and the CDGNet/CSENet ``conv2d`` helpers store three flat entries ``[conv, bn, act]``
(keys ``<i>.weight``, ``<i+1>.*``); the official CE2P/SCHP/CDGNet heads store ``[conv, ABN]`` where the ABN (their
local ``InPlaceABNSync``) is itself ``Sequential(bn, act)`` (keys ``<i+1>.0.*``). Callers splat the returned list
into their own Sequential, so the indices, and with them the state_dict keys, are those of the references.
"""

from __future__ import annotations

import functools
from typing import Callable, List, Optional

from torch import nn

ActLayer = Callable[[], nn.Module]
NormLayer = Callable[[int], nn.Module]

# CE2P (both layouts) and CSENet heads: LeakyReLU(0.01) in place
leaky_relu: ActLayer = functools.partial(nn.LeakyReLU, 0.01, inplace=True)
# CDGNet head: a ReLU that is not in place
relu: ActLayer = nn.ReLU

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}
_NORM = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}


def abn(channels: int, act_layer: ActLayer, norm_layer: NormLayer = nn.BatchNorm2d) -> nn.Sequential:
    """The references' local ``InPlaceABNSync``: norm then activation in a Sequential (not the inplace_abn library)."""
    return nn.Sequential(norm_layer(channels), act_layer())


def conv_norm_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 1,
    *,
    act_layer: ActLayer,
    stride: int = 1,
    dims: int = 2,
    norm_layer: Optional[NormLayer] = None,
    conv_layer: Optional[Callable[..., nn.Module]] = None,
    abn: bool = False,
) -> List[nn.Module]:
    """A bias-free conv ('same' padding k//2), a norm and an activation, as modules to splat into a Sequential.

    Returns ``[conv, norm, act]``, or ``[conv, Sequential(norm, act)]`` with ``abn=True``. ``dims`` (1 or 2) picks
    Conv1d/Conv2d and the default BatchNorm1d/2d; ``conv_layer`` replaces the convolution class (it is called with
    the usual Conv2d arguments, e.g. `PyramidConv2d`).
    """
    conv_layer = conv_layer or _CONV[dims]
    norm_layer = norm_layer or _NORM[dims]
    conv = conv_layer(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, bias=False)
    norm_act = [norm_layer(out_channels), act_layer()]
    return [conv, nn.Sequential(*norm_act)] if abn else [conv, *norm_act]
