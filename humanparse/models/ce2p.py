"""CE2P as SSSegmentation 1.7.0 builds it: dilated ResNet V1c, PPM, edge-perceiving module, two-stage decoder.

Head attribute names and Sequential indices follow SSSegmentation (`ppm_net`, `edge_net`, `shortcut`,
`decoder_stage1`, `decoder_stage2`), so its checkpoints only need `backbone_net.` renamed to `backbone.`.
Every resize is bilinear with align_corners=False, as in SSSegmentation.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from humanparse.configs import Config
from humanparse.models.backbones.resnet import ResNet, scaled
from humanparse.models.builder import require
from humanparse.models.layers import PyramidPoolingModule, conv_norm_act, leaky_relu, resize
from humanparse.registry import register_arch


class EdgePerceivingModule(nn.Module):
    """Edge branch: one 1x1 conv per stage, a shared 3x3 edge classifier applied before upsampling, a 1x1 fuse."""

    def __init__(self, in_channels_list: Sequence[int], hidden_channels: int, out_channels: int = 2) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(*conv_norm_act(channels, hidden_channels, act_layer=leaky_relu))
            for channels in in_channels_list
        )
        self.edge_conv = nn.Conv2d(hidden_channels, out_channels, 3, padding=1, bias=True)
        self.fuse_conv = nn.Conv2d(out_channels * len(in_channels_list), out_channels, 1, bias=True)

    def forward(self, features: List[torch.Tensor]) -> tuple:
        size = features[0].shape[2:]
        feats, edges = [], []
        for index, (branch, x) in enumerate(zip(self.branches, features)):
            feat = branch(x)
            edge = self.edge_conv(feat)
            if index > 0:
                feat, edge = resize(feat, size), resize(edge, size)
            feats.append(feat)
            edges.append(edge)
        return self.fuse_conv(torch.cat(edges, dim=1)), torch.cat(feats, dim=1)


def _decoder(in_channels: int, channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        *conv_norm_act(in_channels, channels, act_layer=leaky_relu),
        *conv_norm_act(channels, channels, act_layer=leaky_relu),
        nn.Dropout2d(dropout),
        nn.Conv2d(channels, num_classes, 1, bias=True),
    )


class CE2P(nn.Module):
    """CE2P (SSSegmentation layout). Eval: {"seg", "edge"}; train adds "seg_stage1". All at the layer1 size."""

    def __init__(
        self,
        num_classes: int,
        depth: int = 101,
        output_stride: int = 8,
        width: float = 1.0,
        stage_blocks: Optional[Sequence[int]] = None,
        stem: str = "v1c",
    ) -> None:
        super().__init__()
        self.backbone = ResNet(depth, stem, output_stride, width, stage_blocks)
        c1, c2, c3, c4 = self.backbone.out_channels
        feats = scaled(512, width)
        edge_hidden = scaled(256, width)
        shortcut = scaled(48, width)
        self.ppm_net = PyramidPoolingModule(c4, feats)
        self.edge_net = EdgePerceivingModule([c1, c2, c3], edge_hidden)
        self.shortcut = nn.Sequential(*conv_norm_act(c1, shortcut, act_layer=leaky_relu))
        self.decoder_stage1 = _decoder(feats + shortcut, feats, num_classes, dropout=0.0)
        self.decoder_stage2 = _decoder(feats + 3 * edge_hidden, feats, num_classes, dropout=0.1)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        x1, x2, x3, x4 = self.backbone(images)
        size = x1.shape[2:]
        ppm = resize(self.ppm_net(x4), size)
        edge, edge_feats = self.edge_net([x1, x2, x3])
        stage1_feats = self.decoder_stage1[:-1](torch.cat([ppm, self.shortcut(x1)], dim=1))
        outputs = {"seg": self.decoder_stage2(torch.cat([stage1_feats, edge_feats], dim=1)), "edge": edge}
        if self.training:
            outputs["seg_stage1"] = self.decoder_stage1[-1](stage1_feats)
        return outputs


def convert_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """SSSegmentation CE2P weights (`backbone_net.` keys) to ours (`backbone.`); other keys are unchanged."""
    prefix = "backbone_net."
    return {
        ("backbone." + key[len(prefix) :]) if key.startswith(prefix) else key: value
        for key, value in state_dict.items()
    }


@register_arch("ce2p", converter=convert_checkpoint)
def build(config: Config) -> CE2P:
    """CE2P for `config.model` (depth, stem, output stride, width, stage_blocks, num_classes)."""
    model = config.model
    require(model, "backbone_stem", ("v1c", "deep"))
    require(model, "output_stride", (8, 16))
    return CE2P(
        num_classes=model.num_classes,
        depth=model.backbone_depth,
        output_stride=model.output_stride,
        width=model.width,
        stage_blocks=model.stage_blocks,
        stem=model.backbone_stem,
    )
