"""SegFormer's all-MLP decode head folded for inference: the fuse conv applied at each stage's own resolution.

The head computes, per stage i, ``W_i x_i + b_i`` (a Linear to the decoder width D), upsamples it bilinearly to
the stage-1 map, concatenates the four maps deepest first and applies the 1x1 fuse conv ``F`` (4D -> D, no bias),
BatchNorm, ReLU and the classifier. ``F``, ``W_i`` and the upsampling are linear, and bilinear weights sum to one
(a constant map stays constant), so with ``F_i`` the block of ``F``'s columns that reads stage i::

    F . cat(up(W_i x_i + b_i)) = sum_i up((F_i W_i) x_i) + sum_i F_i b_i

`FoldedMLPHead` precomputes ``M_i = s * F_i W_i`` (``s`` the BatchNorm scale) and applies it at the stage's own
resolution, before upsampling: stages 2-4 have 4-64x fewer pixels, and the 4D x D fuse conv at 1/4 of
the input (the head's largest cost, about 3072 x 768 multiply-adds per pixel for B2-B5) disappears. The outputs
equal the original head's up to float rounding (the sums run in another order).
"""

from __future__ import annotations

from typing import List, Optional, Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.models.segformer import AllMLPHead


class FoldedMLPHead(nn.Module):
    """`AllMLPHead` (eval mode) with its per-stage Linears, fuse conv and BatchNorm folded into one Linear per
    stage (see the module docstring); ReLU and the classifier as they were.

    It works on tokens (N, H*W, C), which are channels_last maps: the projections read the stage maps through a
    transposed view (no copy), and upsampling, sums, ReLU and the classifier run channels_last, oneDNN's and
    PyTorch's fastest layout for them. The logits come out as a channels_last (N, K, H, W) map.
    """

    def __init__(self, projections: Sequence[nn.Linear], classifier: nn.Conv2d) -> None:
        super().__init__()
        self.projections = nn.ModuleList(projections)
        self.classifier = classifier

    @classmethod
    def from_head(cls, head: AllMLPHead) -> FoldedMLPHead:
        """The folded form of `head`, whose BatchNorm running statistics are used (eval-mode outputs)."""
        norm = head.batch_norm
        if norm.running_mean is None or norm.running_var is None:
            raise ValueError("folding a SegFormer head needs BatchNorm running statistics")
        linears: List[nn.Linear] = [cast(nn.Linear, linear) for linear in head.linear_c]
        stages, width = len(linears), head.linear_fuse.out_channels
        # float64 products, so that folding adds no rounding of its own beyond the final float32 cast
        fuse = head.linear_fuse.weight.detach().double().reshape(width, stages * width)
        scale = norm.running_var.double().add(norm.eps).rsqrt()
        shift = -norm.running_mean.double() * scale
        if norm.affine:
            scale, shift = scale * norm.weight.double(), shift * norm.weight.double() + norm.bias.double()
        projections: List[nn.Linear] = []
        constant = shift
        for stage, linear in enumerate(linears):
            block = stages - 1 - stage  # the head concatenates the stages deepest first
            fuse_block = fuse[:, block * width : (block + 1) * width]
            constant = constant + scale * (fuse_block @ linear.bias.detach().double())
            projection = nn.Linear(linear.in_features, width, bias=stage == stages - 1)
            projection.weight.data = scale[:, None] * (fuse_block @ linear.weight.detach().double())
            projections.append(projection)
        # the constant rides on the deepest stage, the smallest map (upsampling keeps a constant constant)
        assert projections[-1].bias is not None
        projections[-1].bias.data = constant
        reference = head.classifier.weight
        for projection in projections:
            projection.to(device=reference.device, dtype=reference.dtype)
        return cls(projections, head.classifier)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        batch, _, height, width = features[0].shape
        fused: Optional[torch.Tensor] = None
        for feature, projection in zip(features, self.projections):
            tokens = projection(feature.flatten(2).transpose(1, 2))
            stage_map = channels_last_map(tokens, feature.shape[2], feature.shape[3])
            if fused is None:  # stage 1: already at the output size
                fused = stage_map
                continue
            fused.add_(F.interpolate(stage_map, size=(height, width), mode="bilinear", align_corners=False))
        assert fused is not None
        # the classifier as a Linear on the tokens of the channels_last map: a view, no copy
        classifier = self.classifier
        tokens = F.linear(
            fused.relu_().permute(0, 2, 3, 1).reshape(batch, height * width, -1),
            classifier.weight.flatten(1),
            classifier.bias,
        )
        return channels_last_map(tokens, height, width)


def channels_last_map(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, H*W, C) tokens as an (N, C, H, W) view with exactly channels_last strides.

    `segformer.tokens_to_map`'s reshape gives a batch of one the batch stride C, which PyTorch's upsampling
    does not take for channels_last: it then writes NCHW through a transposing copy, several times slower.
    """
    return tokens.view(tokens.shape[0], height, width, tokens.shape[2]).permute(0, 3, 1, 2)


def fold_mlp_heads(model: nn.Module) -> int:
    """Replace every `AllMLPHead` of `model` (in eval mode) by its `FoldedMLPHead`; returns how many.

    The state_dict changes: fold a copy, never a model you will save or train.
    """
    if model.training:
        raise ValueError("fold_mlp_heads needs a model in eval mode (it uses BatchNorm running statistics)")
    heads = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, AllMLPHead) and name  # a bare head (the root) has no parent to hold its fold
    ]
    for name, head in heads:
        parent_name, _, attribute = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        with torch.no_grad():
            setattr(parent, attribute, FoldedMLPHead.from_head(head))
    return len(heads)
