"""`prepare_for_inference`: SegFormer head and BatchNorm folding, channels_last and Winograd kernels, outputs
unchanged; autocast."""

from __future__ import annotations

import copy
from contextlib import nullcontext
from dataclasses import replace
from typing import ContextManager, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights
from torch.overrides import TorchFunctionMode

from humanparse.models.prepare.autotune import KernelChoice, choose_kernels, eligible_layers
from humanparse.models.prepare.segformer_head import fold_mlp_heads
from humanparse.models.prepare.winograd import use_winograd, winograd_available

PRECISIONS = ("fp32", "bf16", "fp16")


class _ConvolutionsAsZeros(TorchFunctionMode):
    """Every `F.conv2d` answers zeros of its output's shape: a forward that only follows the data flow.

    A real convolution would cost oneDNN a kernel set-up per layer (about a second for a ResNet-101 at 65x65)
    for shapes the network never sees again.
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is not F.conv2d:
            return func(*args, **kwargs)
        names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
        given = {**dict(zip(names, args)), **kwargs}
        x, weight = given["input"], given["weight"]
        stride, padding, dilation = (
            _pair(given.get(name, 1 if name != "padding" else 0)) for name in names[3:6]
        )
        size = []
        for axis in (0, 1):
            side, reach = x.shape[axis - 2], dilation[axis] * (weight.shape[axis + 2] - 1)
            if padding == ("same", "same"):
                size.append(side)
                continue
            pad = 0 if padding == ("valid", "valid") else int(padding[axis])
            size.append((side + 2 * pad - reach - 1) // stride[axis] + 1)
        return x.new_zeros((*x.shape[:-3], weight.shape[0], *size))


def _pair(value) -> Tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def find_conv_bn_pairs(model: nn.Module, example: torch.Tensor) -> List[Tuple[str, str]]:
    """Names of (conv, batchnorm) pairs where the norm reads exactly the convolution's output.

    Found by running `example` once with hooks rather than by module order, so a norm applied to a concatenation,
    a sum or an upsampled map is never mistaken for the conv registered before it. The convolutions only give
    zeros of their shape there (`_ConvolutionsAsZeros`): which tensor feeds which layer is all that is read.
    """
    produced_by: Dict[int, Tuple[str, torch.Tensor]] = {}
    consumers: Dict[str, List[str]] = {}
    handles = []

    def remember_output(name: str):
        def hook(_module, _inputs, output):
            produced_by[id(output)] = (name, output)  # keep the tensor alive so its id stays unique

        return hook

    def note_input(name: str):
        def hook(_module, inputs):
            source = produced_by.get(id(inputs[0]))
            if source is not None and source[1] is inputs[0]:
                consumers.setdefault(source[0], []).append(name)

        return hook

    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(remember_output(name)))
        elif isinstance(module, nn.BatchNorm2d):
            handles.append(module.register_forward_pre_hook(note_input(name)))
    try:
        with torch.no_grad(), _ConvolutionsAsZeros():
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    # a conv called more than once, or whose output feeds several norms, is left alone
    return [(conv, norms[0]) for conv, norms in consumers.items() if len(norms) == 1]


def fold_batchnorm(model: nn.Module, example: torch.Tensor) -> int:
    """Fold every eval-mode BatchNorm2d that directly follows a Conv2d into it; returns how many were folded.

    The norm is replaced by `nn.Identity`, so the model's state_dict changes: fold a copy, never a model you
    will save or train.
    """
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode (it uses the running statistics)")
    modules = dict(model.named_modules())
    pairs = find_conv_bn_pairs(model, example)
    for conv_name, norm_name in pairs:
        conv, norm = modules[conv_name], modules[norm_name]
        _fold_into(conv, norm)
        parent_name, _, attribute = norm_name.rpartition(".")
        setattr(modules[parent_name] if parent_name else model, attribute, nn.Identity())
    return len(pairs)


def _fold_into(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    # find_conv_bn_pairs keeps only norms with running statistics
    assert norm.running_mean is not None and norm.running_var is not None
    with torch.no_grad():
        conv.weight, conv.bias = fuse_conv_bn_weights(
            conv.weight,
            conv.bias,
            norm.running_mean,
            norm.running_var,
            norm.eps,
            norm.weight if norm.affine else None,
            norm.bias if norm.affine else None,
        )


def prepare_for_inference(
    model: nn.Module,
    example: torch.Tensor,
    *,
    fold_bn: bool = True,
    fold_heads: bool = True,
    channels_last: Optional[bool] = None,
    winograd: Optional[bool] = None,
    inplace: bool = False,
    kernels: Optional[str] = None,
    input_shape: Optional[Sequence[int]] = None,
    precision: str = "fp32",
) -> nn.Module:
    """An eval-mode copy of `model` made faster for inference; outputs are unchanged to float32 noise.

    SegFormer's all-MLP heads are folded (`segformer_head.FoldedMLPHead`: the fuse conv applied per stage before
    upsampling) and BatchNorm into the convolutions; then the CPU kernels are chosen (`autotune.choose_kernels`):
    `kernels` "auto" (default, else $HUMANPARSE_KERNELS) measures, for inputs of `input_shape` (N, 3, H, W) at
    `precision`, whether channels_last and NNPACK's Winograd kernels pay off on this CPU (cached per CPU, threads,
    torch, shape), "winograd" / "onednn" force them. Without `input_shape` nothing is measured: Winograd is
    assumed on AVX2-class CPUs only. `winograd` / `channels_last` given explicitly override the choice.
    `example` is a small input on the model's device used to trace which norms follow which convs.
    `prepare_with_choice` also returns the choice.
    """
    return prepare_with_choice(
        model,
        example,
        fold_bn=fold_bn,
        fold_heads=fold_heads,
        channels_last=channels_last,
        winograd=winograd,
        inplace=inplace,
        kernels=kernels,
        input_shape=input_shape,
        precision=precision,
    )[0]


def prepare_with_choice(
    model: nn.Module,
    example: torch.Tensor,
    *,
    fold_bn: bool = True,
    fold_heads: bool = True,
    channels_last: Optional[bool] = None,
    winograd: Optional[bool] = None,
    inplace: bool = False,
    kernels: Optional[str] = None,
    input_shape: Optional[Sequence[int]] = None,
    precision: str = "fp32",
) -> Tuple[nn.Module, KernelChoice]:
    """`prepare_for_inference`, and the kernel choice it made (what, from where, and why)."""
    prepared = model if inplace else copy.deepcopy(model)
    prepared.eval()
    if fold_heads:
        fold_mlp_heads(prepared)
    if fold_bn:
        fold_batchnorm(prepared, example)
    choice = choose_kernels(
        prepared, input_shape, device=example.device, precision=precision, kernels=kernels
    )
    if winograd is not None:  # an explicit argument (tests, benchmarks) beats the choice
        names = eligible_layers(prepared) if winograd and winograd_available() else []
        choice = replace(choice, winograd_layers=tuple(names), source="forced", reason="winograd argument")
    if channels_last is not None and channels_last != choice.channels_last:
        choice = replace(
            choice, channels_last=channels_last, source="forced", reason="channels_last argument"
        )
    if choice.winograd_layers:
        use_winograd(prepared, only=set(choice.winograd_layers))
    if choice.channels_last:
        prepared = prepared.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs omit it
    for parameter in prepared.parameters():
        parameter.requires_grad_(False)
    return prepared, choice


def autocast(device: torch.device | str, precision: str) -> ContextManager:
    """The autocast context for `precision` ("fp32" is a no-op) on `device`'s type."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "fp32":
        return nullcontext()
    device_type = torch.device(device).type
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device_type, dtype=dtype)


def uses_channels_last(model: nn.Module) -> bool:
    """Whether the model's first 4-d weight is stored channels_last (as `prepare_for_inference` leaves it)."""
    for parameter in model.parameters():
        if parameter.dim() == 4:
            return (
                parameter.is_contiguous(memory_format=torch.channels_last) and not parameter.is_contiguous()
            )
    return False


def to_input(images: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
    """Images in the memory format the prepared model expects."""
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images


def count_batchnorms(model: nn.Module, kinds: Sequence[type] = (nn.BatchNorm2d,)) -> int:
    """How many norm layers of `kinds` the model still has."""
    return sum(isinstance(module, tuple(kinds)) for module in model.modules())
