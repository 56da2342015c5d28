"""CSENet (Image and Vision Computing 2024) as tjpulkl/BSSGNet builds it (``networks/BSSGNet.py``,
``utils/attention.py``).

Attribute names are the official ones, so a released checkpoint loads after `convert_checkpoint` moves the flat
backbone keys under ``backbone.``. Operations keep the official evaluation order (``x * g + x`` and so on) for
float32 parity. Hard-coded channel counts are scaled by ``ModelConfig.width`` for small test models.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from humanparse.configs import Config
from humanparse.models.backbones.resnet import ResNet, scaled
from humanparse.models.builder import require
from humanparse.models.conversions import convert_official_keys
from humanparse.models.layers import conv_norm_act, flow_warp, leaky_relu, pcm, upsample
from humanparse.registry import register_arch


def _cbl(in_channels: int, out_channels: int, kernel_size: int, dims: int = 2) -> nn.Sequential:
    """The official ``conv2d``/``conv1d`` helper: conv, BN, LeakyReLU flat in a Sequential (keys ``.0``-``.1``)."""
    return nn.Sequential(
        *conv_norm_act(in_channels, out_channels, kernel_size, act_layer=leaky_relu, dims=dims)
    )


def _conv_abn(in_channels: int, out_channels: int, kernel_size: int) -> List[nn.Module]:
    """Conv + the head's ABN (LeakyReLU); in a Sequential, keys ``.0.weight`` and ``.1.0.*``."""
    return conv_norm_act(in_channels, out_channels, kernel_size, act_layer=leaky_relu, abn=True)


def _linear_lrelu(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, out_features, bias=False), nn.LeakyReLU(inplace=True))


def _channel_gate(channels: int) -> nn.Sequential:
    """Bottleneck MLP that turns the pooled high-low difference into a sigmoid gate."""
    return nn.Sequential(
        nn.Linear(channels, channels // 4, bias=False),
        nn.LeakyReLU(inplace=True),
        nn.Linear(channels // 4, channels, bias=False),
        nn.Sigmoid(),
    )


class PSPAlign(nn.Module):
    """Context module on x5: 3x3-pooled global context fused with the local map (channel + spatial enhancement)."""

    def __init__(self, features: int, in_features: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1))
        self.beta = nn.Parameter(torch.ones(1))
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(output_size=(3, 3)),
            _cbl(features, features, 1),
            _cbl(features, in_features, 3),
        )
        self.adapt = nn.Sequential(_cbl(features, features, 1), _cbl(features, in_features, 3))
        self.delta_gen1 = nn.Sequential(
            _cbl(in_features * 2, in_features, 3),
            nn.Dropout2d(0.1),
            nn.Conv2d(in_features, 2, kernel_size=3, padding=1, bias=False),
        )
        self.avg_pool1 = nn.Sequential(nn.AdaptiveAvgPool2d(1))
        self.avg_pool2 = nn.Sequential(nn.AdaptiveAvgPool2d(1))
        self.glpool_h = _linear_lrelu(in_features, in_features)
        self.glpool_l = _linear_lrelu(in_features, in_features)
        self.conv_pool = _channel_gate(in_features)
        self.conv2d_h = _cbl(in_features, in_features, 1)
        self.conv2d_l = _cbl(in_features, in_features, 1)
        self.convWeight = nn.Sequential(
            _cbl(in_features, in_features, 3),
            nn.Dropout2d(0.1),
            nn.Conv2d(in_features, 1, kernel_size=3, padding=1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        high = self.pool(x)
        low = self.adapt(x)
        b, c, h, w = low.shape
        pooled_h = self.glpool_h(self.avg_pool2(high).view(b, c))
        pooled_l = self.glpool_l(self.avg_pool1(low).view(b, c))
        gate = self.conv_pool(pooled_h - pooled_l)
        pooled_l = (self.gamma * gate * pooled_l + pooled_l).view(b, c, 1, 1)
        pooled_h = (self.beta * (1 - gate) * pooled_h + pooled_h).view(b, c, 1, 1)
        high = self.conv2d_h(pooled_h * high + high)
        low = self.conv2d_l(pooled_l * low + low)
        flow = self.delta_gen1(torch.cat((low, upsample(high, (h, w))), 1))
        high = flow_warp(high, flow, (h, w))
        weight = self.convWeight(high - low)
        low = (1 - weight) * low + low
        high = weight * high + high
        return low + high


class HeightWidthAttention(nn.Module):
    """Class-distribution module: row/column class predictions that gate the features (attribute ``CDGNet``)."""

    def __init__(
        self, feat_in: int, feat_out: int, num_classes: int, size: Sequence[int], kernel_size: int = 7
    ) -> None:
        super().__init__()
        h, w = size[0], size[1]
        hidden = feat_out // 2
        self.gamma = nn.Parameter(torch.ones(num_classes))
        self.rowpool = nn.AdaptiveAvgPool2d((h, 1))
        self.colpool = nn.AdaptiveAvgPool2d((1, w))
        self.conv_hgt1 = _cbl(feat_in, hidden, 3, dims=1)
        self.conv_hgt2 = _cbl(feat_in, hidden, 3, dims=1)
        self.conv_hwPred1 = self._prediction(hidden, num_classes)
        self.conv_hwPred2 = self._prediction(hidden, num_classes)
        self.conv_clsUp = nn.Sequential(
            nn.Conv2d(num_classes, hidden, 1, bias=False),
            nn.LeakyReLU(inplace=True),
            nn.Conv2d(hidden, feat_out, 1, bias=False),
            nn.Sigmoid(),
        )
        self.conv_upDim1 = self._up_dim(hidden, feat_out, kernel_size)
        self.conv_upDim2 = self._up_dim(hidden, feat_out, kernel_size)
        self.cmbFea = nn.Sequential(_cbl(feat_in * 2, feat_in, 3), _cbl(feat_in, feat_in, 1))

    @staticmethod
    def _prediction(hidden: int, num_classes: int) -> nn.Sequential:
        return nn.Sequential(_cbl(hidden, hidden, 3, dims=1), nn.Conv1d(hidden, num_classes, 1), nn.Sigmoid())

    @staticmethod
    def _up_dim(hidden: int, feat_out: int, kernel_size: int) -> nn.Sequential:
        return nn.Sequential(
            _cbl(hidden, feat_out, kernel_size, dims=1), nn.Conv1d(feat_out, feat_out, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, _, h, w = x.shape
        rows = self.conv_hgt1(self.rowpool(x).squeeze(3))
        cols = self.conv_hgt2(self.colpool(x).squeeze(2))
        hpred = self.conv_hwPred1(rows)
        wpred = self.conv_hwPred2(cols)
        rows = self.conv_upDim1(rows)
        cols = self.conv_upDim2(cols)
        gamma = self.conv_clsUp(self.gamma.view(1, -1, 1, 1).expand(n, -1, -1, -1))
        beta = 1 - gamma
        rows_up = upsample(rows.unsqueeze(3), (h, w))
        cols_up = upsample(cols.unsqueeze(2), (h, w))
        mask = beta * beta * cols_up + gamma * gamma * rows_up
        x = x * mask + x
        return self.cmbFea(torch.cat([x, mask], dim=1)), hpred, wpred


class AlignedModule(nn.Module):
    """Spatial enhancement: flow-align both inputs to the low feature's size, then gate them by their difference."""

    def __init__(self, inplane: int, outplane: int) -> None:
        super().__init__()
        self.down_h = _cbl(inplane, outplane, 1)
        self.down_l = _cbl(inplane, outplane, 1)
        self.delta_gen1 = nn.Sequential(
            nn.Dropout2d(0.1), nn.Conv2d(inplane * 2, 2, 3, padding=1, bias=False)
        )
        self.delta_gen2 = nn.Sequential(
            nn.Dropout2d(0.1), nn.Conv2d(inplane * 2, 2, 3, padding=1, bias=False)
        )
        self.weight_conv = nn.Sequential(
            _cbl(outplane, outplane, 3),
            nn.Dropout2d(0.1),
            nn.Conv2d(outplane, 1, kernel_size=3, padding=1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        size = (low.shape[2], low.shape[3])
        projected = torch.cat([upsample(self.down_h(high), size), self.down_l(low)], dim=1)
        # The flows come from the projected features but warp the un-projected inputs (official code).
        high = flow_warp(high, self.delta_gen1(projected), size)
        low = flow_warp(low, self.delta_gen2(projected), size)
        weight = self.weight_conv(high - low)
        high = weight * high + high
        low = (1 - weight) * low + low
        return high + low


class SPFlt(nn.Module):
    """Top-down fusion of a backbone stage (feat1) with the decoder feature above it (feat2)."""

    def __init__(self, feat_in1: int, feat_in2: int, feat_mid: int, feat_out: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1))
        self.beta = nn.Parameter(torch.ones(1))
        self.AlignModule = AlignedModule(feat_mid, feat_mid)
        self.feat1_conv = _cbl(feat_in1, feat_mid, 1)
        self.feat2_conv = _cbl(feat_in2, feat_mid, 1)
        self.avg_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1))
        self.glpool_h = _linear_lrelu(feat_mid, feat_mid)
        self.glpool_l = _linear_lrelu(feat_mid, feat_mid)
        self.conv_pool = _channel_gate(feat_mid)
        self.conv2d_h = _cbl(feat_mid, feat_mid, 1)
        self.conv2d_l = _cbl(feat_mid, feat_mid, 1)
        self.feat_cmb = _cbl(feat_mid * 2, feat_out, 3)

    def forward(self, feat1: torch.Tensor, feat2: torch.Tensor) -> torch.Tensor:
        feat1 = self.feat1_conv(feat1)
        feat2 = self.feat2_conv(feat2)
        b, c = feat1.shape[:2]
        pooled_h = self.glpool_h(self.avg_pool(feat2).view(b, c))
        pooled_l = self.glpool_l(self.avg_pool(feat1).view(b, c))
        gate = self.conv_pool(pooled_h - pooled_l)
        pooled_l = (self.gamma * gate * pooled_l + pooled_l).view(b, c, 1, 1)
        pooled_h = (self.beta * (1 - gate) * pooled_h + pooled_h).view(b, c, 1, 1)
        feat2 = self.conv2d_h(feat2 * pooled_h + feat2)
        enhanced = self.conv2d_l(feat1 * pooled_l + feat1)
        # Concatenates the un-enhanced feat1 with the aligned output (official code).
        return self.feat_cmb(torch.cat([self.AlignModule(enhanced, feat2), feat1], dim=1))


class AttentionModule(nn.Module):
    """Decoder with the pixel-correlation module (attribute ``Attention``); affinity softmax over dim 1."""

    def __init__(self, num_classes: int, x2_channels: int, x4_channels: int, mid: int, low: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(*_conv_abn(x2_channels, low, 3))
        self.conv2 = nn.Sequential(
            *_conv_abn(x4_channels, mid, 1),
            *_conv_abn(mid, mid, 3),
        )
        self.conv3 = nn.Sequential(*_conv_abn(mid + low, mid, 3))
        self.conv4 = nn.Sequential(*_conv_abn(mid, mid, 3))
        self.seg = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(mid, num_classes, 1))
        self.addCAM = nn.Sequential(*_conv_abn(mid * 2, mid, 3))

    def forward(
        self, fea: torch.Tensor, x2: torch.Tensor, x4: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        size = (x4.shape[2], x4.shape[3])
        x2 = upsample(self.conv1(x2), size)
        combined = self.conv3(torch.cat([self.conv2(x4), x2], dim=1))
        fea = self.conv4(fea)
        with torch.no_grad():
            cam = torch.relu(fea.detach())
        cam = upsample(cam, size)
        propagated = upsample(pcm(cam, combined, softmax_dim=1), (fea.shape[2], fea.shape[3]))
        x = self.addCAM(torch.cat([fea, propagated], dim=1))
        return self.seg(x), x


class Edge(nn.Module):
    """Edge head on the decoder features; its argmax doubles the features on predicted edge pixels."""

    def __init__(self, x2_channels: int, mid: int, low: int) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(*_conv_abn(x2_channels, low, 3))
        self.conv2 = nn.Sequential(*_conv_abn(mid + low, mid, 3))
        self.conv_edge = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(mid, 2, 1))
        self.sigmoid = nn.Sigmoid()  # unused, kept as in the official module

    def forward(self, feat: torch.Tensor, x2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        feat_edge = self.conv2(torch.cat([feat, self.conv1(x2)], dim=1))
        edge = self.conv_edge(feat_edge)
        edge_mask = torch.argmax(edge, dim=1).unsqueeze(1)  # int64, no gradient, ties -> 0 (official)
        return feat_edge * edge_mask + feat_edge, edge


def _classifier(in_channels: int, mid: int, num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        *_conv_abn(in_channels, mid, 1),
        nn.Dropout2d(0.1),
        nn.Conv2d(mid, num_classes, 1),
    )


class CSENet(nn.Module):
    """CSENet on the deep-stem dilated ResNet (output stride 16).

    ``input_size`` (H, W) is the crop the network is built for: the class-distribution outputs have a fixed
    length taken from it (118 for 473), whatever the input size.
    """

    def __init__(
        self,
        num_classes: int,
        input_size: Tuple[int, int] = (473, 473),
        depth: int = 101,
        width: float = 1.0,
        stage_blocks: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.backbone = ResNet(depth, stem="deep", output_stride=16, width=width, stage_blocks=stage_blocks)
        c2, c3, c4, c5 = self.backbone.out_channels
        mid, context, low = scaled(256, width), scaled(512, width), scaled(48, width)
        img_height, img_width = input_size
        self.PSPAlign = PSPAlign(c5, context)
        # Official: size=[img_width//4, img_height//4] unpacked as (h, w): swapped for non-square crops.
        self.CDGNet = HeightWidthAttention(context, context, num_classes, [img_width // 4, img_height // 4])
        self.seg1 = _classifier(c4, mid, num_classes)
        self.seg3 = _classifier(mid, mid, num_classes)
        self.edge = Edge(c2, mid, scaled(64, width))
        self.SPFlt1 = SPFlt(c5, context, mid, mid)
        self.SPFlt2 = SPFlt(c4, mid, mid, mid)
        self.SPFlt3 = SPFlt(c3, mid, mid, mid)
        self.SPFlt4 = SPFlt(c2, mid, mid, mid)
        self.Attention = AttentionModule(num_classes, c2, c4, mid, low)
        self.cmbEdge = nn.Sequential(*_conv_abn(mid * 2, mid, 3))
        self._init_heads()

    def _init_heads(self) -> None:
        # Official init: kaiming_normal_ on every conv, BN to (1, 0); ImageNet weights then replace the backbone.
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv1d)):
                nn.init.kaiming_normal_(module.weight)
            elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        x2, x3, x4, x5 = self.backbone(images)
        seg_aux = self.seg1(x4)
        x, hpred, wpred = self.CDGNet(self.PSPAlign(x5))
        feat = self.SPFlt1(x5, x)
        feat = self.SPFlt2(x4, feat)
        feat = self.SPFlt3(x3, feat)
        feat = self.SPFlt4(x2, feat)
        seg_decoder, feat = self.Attention(feat, x2, x4)
        feat_edge, edge = self.edge(feat, x2)
        feat = self.cmbEdge(torch.cat([feat, feat_edge], dim=1))
        return {
            "seg": self.seg3(feat),
            "seg_decoder": seg_decoder,
            "seg_aux": seg_aux,
            "edge": edge,
            "hpred": hpred,
            "wpred": wpred,
        }


def convert_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Official CSENet keys (``module.`` optional, flat ``conv1.``/``layerN.``) to this model's keys."""
    return convert_official_keys(state_dict)


@register_arch("csenet", converter=convert_checkpoint)
def build(config: Config) -> CSENet:
    """CSENet for `config.model` (num_classes, input_size, backbone_depth, width, stage_blocks)."""
    model = config.model
    # the official network is fixed: deep stem, output stride 16
    require(model, "backbone_stem", ("deep",))
    require(model, "output_stride", (16,))
    return CSENet(
        num_classes=model.num_classes,
        input_size=(model.input_size[0], model.input_size[1]),
        depth=model.backbone_depth,
        width=model.width,
        stage_blocks=model.stage_blocks,
    )
