"""CE2P as the official code builds it: liutinglt/CE2P ``networks/CE2P.py`` and SCHP's "Augmented CE2P"
(GoGoDuck912/Self-Correction-Human-Parsing ``networks/AugmentCE2P.py``).

The two networks are the same computation under different attribute names (SCHP: ``context_encoding``, ``edge``,
``decoder``, ``fushion``; CE2P: ``layer5``, ``edge_layer``, ``layer6``, ``layer7``); SCHP only runs the edge branch
after the decoder, which changes nothing. This module uses SCHP's names, the more widely distributed checkpoints.

Both references normalise with InPlace-ABN, whose scale is ``|weight| + eps``. Here each InPlace-ABN of the head is
a plain ``BatchNorm2d`` + ``LeakyReLU(0.01)`` pair (so that SyncBatchNorm conversion keeps the activation) and the
backbone's are ``BatchNorm2d`` followed by its ReLU; `convert_checkpoint` rewrites the reference weights for them.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from humanparse.configs import Config
from humanparse.models.backbones.resnet import ResNet, scaled
from humanparse.models.builder import require
from humanparse.models.conversions import convert_official_keys
from humanparse.models.layers import EdgeModule, PSPModule, conv_norm_act, leaky_relu, upsample
from humanparse.registry import register_arch

# InPlace-ABN's default eps, used by every norm of both references
INPLACE_ABN_EPS = 1e-5

# liutinglt/CE2P attribute -> SCHP attribute (ours)
_CE2P_HEAD_NAMES = {
    "layer5": "context_encoding",
    "edge_layer": "edge",
    "layer6": "decoder",
    "layer7": "fushion",
}


def _conv_abn(in_channels: int, out_channels: int) -> List[nn.Module]:
    """1x1 conv + the head's InPlaceABNSync (leaky_relu 0.01): keys ``<pos>.0.*`` for the reference's ``<pos>.*``."""
    return conv_norm_act(in_channels, out_channels, act_layer=leaky_relu, abn=True)


class DecoderModule(nn.Module):
    """Parsing decoder: context 512->256 upsampled, layer1 ->48, concat, two 1x1 conv-ABN, classifier (seg1)."""

    def __init__(
        self, context_channels: int, low_channels: int, num_classes: int, width: float = 1.0
    ) -> None:
        super().__init__()
        mid, shortcut = scaled(256, width), scaled(48, width)
        self.conv1 = nn.Sequential(*_conv_abn(context_channels, mid))
        self.conv2 = nn.Sequential(*_conv_abn(low_channels, shortcut))
        self.conv3 = nn.Sequential(*_conv_abn(mid + shortcut, mid), *_conv_abn(mid, mid))
        self.conv4 = nn.Conv2d(mid, num_classes, 1, bias=True)
        self.out_channels = mid

    def forward(self, context: torch.Tensor, low: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        size = (low.shape[2], low.shape[3])
        x = torch.cat([upsample(self.conv1(context), size), self.conv2(low)], 1)
        x = self.conv3(x)
        return self.conv4(x), x


class AugmentedCE2P(nn.Module):
    """Official CE2P / SCHP network: deep-stem ResNet, PSP, parsing decoder, edge branch and fusion.

    Eval and train both return ``{"seg": fusion logits (seg2), "seg_stage1": decoder logits (seg1), "edge"}`` at
    the layer1 resolution (1/4 of the input); nothing is upsampled here.
    """

    def __init__(
        self,
        num_classes: int,
        depth: int = 101,
        stem: str = "deep",
        output_stride: int = 16,
        width: float = 1.0,
        stage_blocks: Optional[Sequence[int]] = None,
    ) -> None:
        super().__init__()
        self.backbone = ResNet(
            depth, stem=stem, output_stride=output_stride, width=width, stage_blocks=stage_blocks
        )
        c1, c2, c3, c4 = self.backbone.out_channels
        context = scaled(512, width)
        edge_mid = scaled(256, width)
        self.context_encoding = PSPModule(c4, context, act_layer=leaky_relu)
        self.edge = EdgeModule((c1, c2, c3), edge_mid, act_layer=leaky_relu)
        self.decoder = DecoderModule(context, c1, num_classes, width)
        fusion_mid = scaled(256, width)
        # "fushion" is SCHP's spelling, kept so checkpoints map one to one
        self.fushion = nn.Sequential(
            *_conv_abn(self.decoder.out_channels + 3 * edge_mid, fusion_mid),
            nn.Dropout2d(0.1),
            nn.Conv2d(fusion_mid, num_classes, 1, bias=True),
        )

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        x1, x2, x3, x4 = self.backbone(images)
        seg_stage1, parsing_features = self.decoder(self.context_encoding(x4), x1)
        edge, edge_features = self.edge(x1, x2, x3)
        seg = self.fushion(torch.cat([parsing_features, edge_features], 1))
        return {"seg": seg, "seg_stage1": seg_stage1, "edge": edge}


def convert_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """SCHP or liutinglt/CE2P weights (``module.`` optional) to this model's keys and plain-BN values.

    Every InPlace-ABN scale becomes ``|weight| + eps`` and gains a ``num_batches_tracked`` buffer; head norms move
    from ``<pos>.*`` to ``<pos>.0.*`` (the BatchNorm of the BN + LeakyReLU pair). A state dict that already has
    ``num_batches_tracked`` buffers is plain BatchNorm (ours) and only loses its ``module.`` prefix.
    """
    state = convert_official_keys(state_dict)  # no ``module.``; flat conv1./layerN. keys under backbone.
    if any(key.endswith(".num_batches_tracked") for key in state):
        return state
    norms = {key[: -len(".running_mean")] for key in state if key.endswith(".running_mean")}
    converted: Dict[str, torch.Tensor] = {}
    for key, value in state.items():
        prefix, leaf = key.rsplit(".", 1)
        if prefix in norms and leaf == "weight":
            value = value.abs() + INPLACE_ABN_EPS
        converted[_our_key(prefix, prefix in norms) + "." + leaf] = value
    for prefix in norms:
        converted[_our_key(prefix, True) + ".num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return converted


def _our_key(prefix: str, is_norm: bool) -> str:
    """Our name for a module path after `convert_official_keys` (backbone paths are already ours)."""
    if prefix.startswith("backbone."):
        return prefix
    head, _, rest = prefix.partition(".")
    prefix = _CE2P_HEAD_NAMES.get(head, head) + ("." + rest if rest else "")
    return prefix + ".0" if is_norm else prefix


@register_arch("ce2p_official", converter=convert_checkpoint)
def build(config: Config) -> AugmentedCE2P:
    """The official CE2P / SCHP network for `config.model` (num_classes, backbone, width, stage_blocks)."""
    model = config.model
    require(model, "backbone_stem", ("v1c", "deep"))
    require(model, "output_stride", (8, 16))
    return AugmentedCE2P(
        num_classes=model.num_classes,
        depth=model.backbone_depth,
        stem=model.backbone_stem,
        output_stride=model.output_stride,
        width=model.width,
        stage_blocks=model.stage_blocks,
    )
