"""Layers shared by the networks: one conv-norm-activation helper, pyramid pooling, the edge branch, flow
warping, the pixel-correlation module and bilinear resizing. Nothing here imports the inference module."""

from humanparse.models.layers.attention import pcm
from humanparse.models.layers.conv_norm_act import ActLayer, NormLayer, abn, conv_norm_act, leaky_relu, relu
from humanparse.models.layers.edge import EdgeModule
from humanparse.models.layers.flow import flow_warp
from humanparse.models.layers.pyramid import PSPModule, PyramidConv2d, PyramidPoolingModule, conv2d_stride1
from humanparse.models.layers.resize import interpolation_matrix, resize, upsample

__all__ = [
    "ActLayer",
    "EdgeModule",
    "NormLayer",
    "PSPModule",
    "PyramidConv2d",
    "PyramidPoolingModule",
    "abn",
    "conv2d_stride1",
    "conv_norm_act",
    "flow_warp",
    "interpolation_matrix",
    "leaky_relu",
    "pcm",
    "relu",
    "resize",
    "upsample",
]
