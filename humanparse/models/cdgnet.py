"""CDGNet (CVPR 2022) as tjpulkl/CDGNet builds it (``networks/CDGNet.py``, ``utils/attention.py``).

Attribute names are the official ones, so a released checkpoint loads after `convert_checkpoint` moves the flat
backbone keys under ``backbone.``. Hard-coded channel counts are scaled by ``ModelConfig.width`` for small test
models.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.configs import Config
from humanparse.models.backbones.resnet import ResNet, scaled
from humanparse.models.builder import require
from humanparse.models.conversions import convert_official_keys
from humanparse.models.layers import EdgeModule, PSPModule, conv_norm_act, pcm, relu, upsample
from humanparse.registry import register_arch

# tjpulkl/CDGNet hard-codes the class-distribution length as 473 // 4 whatever the crop size.
CLASS_DISTRIBUTION_LENGTH = 473 // 4


def _conv_abn(in_channels: int, out_channels: int, kernel_size: int) -> List[nn.Module]:
    """Conv (no bias) + the head's ABN (ReLU); in a Sequential, keys ``.0.weight`` and ``.1.0.*``."""
    return conv_norm_act(in_channels, out_channels, kernel_size, act_layer=relu, abn=True)


class CDGAttention(nn.Module):
    """Class-distribution module (attribute ``hwAttention``): row/column class predictions that gate the features."""

    def __init__(
        self, feat_in: int, feat_out: int, num_classes: int, size: Sequence[int], kernel_size: int = 7
    ) -> None:
        super().__init__()
        h, w = size[0], size[1]
        self.gamma = nn.Parameter(torch.ones(1))
        self.beta = nn.Parameter(torch.ones(1))
        self.rowpool = nn.AdaptiveAvgPool2d((h, 1))
        self.colpool = nn.AdaptiveAvgPool2d((1, w))
        self.conv_hgt1 = nn.Sequential(*conv_norm_act(feat_in, feat_out, 3, act_layer=relu, dims=1))
        self.conv_hgt2 = nn.Sequential(*conv_norm_act(feat_in, feat_out, 3, act_layer=relu, dims=1))
        self.conv_hwPred1 = nn.Sequential(nn.Conv1d(feat_out, num_classes, 3, padding=1), nn.Sigmoid())
        self.conv_hwPred2 = nn.Sequential(nn.Conv1d(feat_out, num_classes, 3, padding=1), nn.Sigmoid())
        pad = kernel_size // 2
        self.conv_upDim1 = nn.Sequential(nn.Conv1d(feat_out, feat_in, kernel_size, padding=pad), nn.Sigmoid())
        self.conv_upDim2 = nn.Sequential(nn.Conv1d(feat_out, feat_in, kernel_size, padding=pad), nn.Sigmoid())
        self.cmbFea = nn.Sequential(*conv_norm_act(feat_in * 3, feat_in, 3, act_layer=relu))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h, w = x.shape[2], x.shape[3]
        rows = self.conv_hgt1(self.rowpool(x).squeeze(3))
        cols = self.conv_hgt2(self.colpool(x).squeeze(2))
        hpred = self.conv_hwPred1(rows)
        wpred = self.conv_hwPred2(cols)
        rows_up = upsample(self.conv_upDim1(rows).unsqueeze(3), (h, w))
        cols_up = upsample(self.conv_upDim2(cols).unsqueeze(2), (h, w))
        mask = self.beta * cols_up + self.gamma * rows_up
        return self.cmbFea(torch.cat([x, x * mask, mask], dim=1)), hpred, wpred


class DecoderModule(nn.Module):
    """Decoder with the pixel-correlation module (attribute ``layer6``); affinity softmax over dim -1."""

    def __init__(self, num_classes: int, context: int, x2_channels: int, mid: int, low: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(*_conv_abn(context, mid, 1))
        self.conv2 = nn.Sequential(*_conv_abn(x2_channels, low, 3))
        self.conv3 = nn.Sequential(*_conv_abn(mid + low, mid, 3), *_conv_abn(mid, mid, 1))
        self.conv4 = nn.Conv2d(mid, num_classes, 1)
        self.addCAM = nn.Sequential(*_conv_abn(mid * 2, mid, 3))

    def forward(
        self, xt: torch.Tensor, xl: torch.Tensor, affinity_features: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        size = (xl.shape[2], xl.shape[3])
        xt = upsample(self.conv1(xt), size)
        x = self.conv3(torch.cat([xt, self.conv2(xl)], dim=1))
        with torch.no_grad():
            cam = F.relu(x.detach())
        cam = upsample(cam, (affinity_features.shape[2], affinity_features.shape[3]))
        propagated = upsample(pcm(cam, affinity_features, softmax_dim=-1), size)
        x = self.addCAM(torch.cat([x, propagated], dim=1))
        return self.conv4(x), x


class CDGNet(nn.Module):
    """CDGNet on the deep-stem dilated ResNet (output stride 16)."""

    def __init__(
        self,
        num_classes: int,
        depth: int = 101,
        width: float = 1.0,
        stage_blocks: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = ResNet(depth, stem="deep", output_stride=16, width=width, stage_blocks=stage_blocks)
        c2, c3, c4, c5 = self.backbone.out_channels
        mid, context, low = scaled(256, width), scaled(512, width), scaled(48, width)
        self.layer5 = PSPModule(c5, context, act_layer=relu)
        self.edge_layer = EdgeModule([c2, c3, c4], mid, 2, act_layer=relu)
        self.layer6 = DecoderModule(num_classes, context, c2, mid, low)
        self.layer7 = nn.Sequential(
            *_conv_abn(mid * 4, mid, 3),
            nn.Dropout2d(0.1),
            nn.Conv2d(mid, num_classes, 1),
        )
        self.sq4 = nn.Sequential(*_conv_abn(c4, mid, 1))
        self.sq5 = nn.Sequential(*_conv_abn(c2, mid, 1))
        self.f9 = nn.Sequential(*_conv_abn(mid * 2 + 3, mid, 1))
        length = CLASS_DISTRIBUTION_LENGTH
        self.hwAttention = CDGAttention(context, mid, num_classes, [length, length], 7)
        self.L = nn.Conv2d(c4, num_classes, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        # Official init matches Conv2d/BatchNorm2d only, so the Conv1d layers keep PyTorch's default init.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        x2, x3, x4, x5 = self.backbone(images)
        seg_aux = self.L(x4)
        x, hpred, wpred = self.hwAttention(self.layer5(x5))
        edge, edge_fea = self.edge_layer(x2, x3, x4)
        size = (x4.shape[2], x4.shape[3])
        fr1 = F.relu(upsample(self.sq5(x2), size))
        fr2 = F.relu(upsample(self.sq4(x4), size))
        image = upsample(images, size)
        affinity_features = self.f9(torch.cat([image, fr1, fr2], dim=1))
        seg_decoder, x = self.layer6(x, x2, affinity_features)
        seg = self.layer7(torch.cat([x, edge_fea], dim=1))
        return {
            "seg": seg,
            "seg_decoder": seg_decoder,
            "seg_aux": seg_aux,
            "edge": edge,
            "hpred": hpred,
            "wpred": wpred,
        }


def convert_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official CDGNet keys (``module.`` optional, flat ``conv1.``/``layerN.``) to this model's keys."""
    return convert_official_keys(state_dict)


@register_arch("cdgnet", converter=convert_checkpoint)
def build(config: Config) -> CDGNet:
    """CDGNet for `config.model` (num_classes, backbone_depth, width, stage_blocks).

    ``input_size`` does not change the network: the official code fixes the class-distribution length at 118.
    """
    model = config.model
    # the official network is fixed: deep stem, output stride 16
    require(model, "backbone_stem", ("deep",))
    require(model, "output_stride", (16,))
    return CDGNet(
        num_classes=model.num_classes,
        depth=model.backbone_depth,
        width=model.width,
        stage_blocks=model.stage_blocks,
    )
