"""Preparing a network for inference: `prepare_for_inference` (prepare.py), SegFormer's folded decode head
(segformer_head.py), the Winograd CPU kernels it may use (winograd.py) and the measured choice between kernels
(autotune.py)."""

from humanparse.models.prepare.autotune import (
    KERNEL_MODES,
    KERNELS_ENV,
    KernelChoice,
    choose_kernels,
    resolve_kernel_mode,
)
from humanparse.models.prepare.prepare import (
    PRECISIONS,
    autocast,
    count_batchnorms,
    find_conv_bn_pairs,
    fold_batchnorm,
    prepare_for_inference,
    prepare_with_choice,
    to_input,
    uses_channels_last,
)
from humanparse.models.prepare.segformer_head import FoldedMLPHead, fold_mlp_heads
from humanparse.models.prepare.winograd import (
    WINOGRAD_MIN_CHANNELS,
    WINOGRAD_MIN_PIXELS,
    WinogradConv2d,
    conv2d_same,
    use_winograd,
    winograd_available,
    winograd_conv2d,
    winograd_eligible,
)

__all__ = [
    "KERNEL_MODES",
    "KERNELS_ENV",
    "KernelChoice",
    "choose_kernels",
    "resolve_kernel_mode",
    "PRECISIONS",
    "WINOGRAD_MIN_CHANNELS",
    "WINOGRAD_MIN_PIXELS",
    "WinogradConv2d",
    "autocast",
    "conv2d_same",
    "count_batchnorms",
    "find_conv_bn_pairs",
    "fold_batchnorm",
    "fold_mlp_heads",
    "FoldedMLPHead",
    "prepare_for_inference",
    "prepare_with_choice",
    "to_input",
    "use_winograd",
    "uses_channels_last",
    "winograd_available",
    "winograd_conv2d",
    "winograd_eligible",
]
