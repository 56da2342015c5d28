"""Values several recipe families share: ImageNet backbones and the official affine data recipe."""

from __future__ import annotations

from typing import Tuple

from humanparse.configs.schema import DataConfig, EvalConfig, ModelConfig

IMAGENET_V1C = {
    50: "https://download.openmmlab.com/pretrain/third_party/resnet50_v1c-2cccc1ad.pth",
    101: "https://download.openmmlab.com/pretrain/third_party/resnet101_v1c-e67eebb6.pth",
}
# The deep-stem ResNet-101 the official CE2P, SCHP, CDGNet and CSENet start from (README links).
IMAGENET_DEEP_STEM = "https://drive.google.com/open?id=1rzLU-wK6rEorCNJfwrmIu5hY2wRMyKTK"


def official_affine_data(dataset: str, crop: Tuple[int, int], **overrides) -> DataConfig:
    """The data recipe of the official CE2P / SCHP / CDGNet / CSENet code: the affine pipeline, BGR input."""
    values = dict(
        dataset=dataset,
        pipeline="affine",
        crop_size=crop,
        rotation_degrees=30.0,
        rotation_prob=0.6,
        scale_factor=0.25,
        photometric=False,
        normalization="bgr_rgb_stats",
    )
    values.update(overrides)
    return DataConfig(**values)


def deep_stem_model(arch: str, num_classes: int, input_size: Tuple[int, int]) -> ModelConfig:
    """The official codes' network size: ResNet-101 with the deep stem at output stride 16."""
    return ModelConfig(
        arch=arch,
        num_classes=num_classes,
        backbone_depth=101,
        backbone_stem="deep",
        output_stride=16,
        input_size=input_size,
    )


def official_multiscale_eval(input_size: Tuple[int, int]) -> EvalConfig:
    """CDGNet's and CSENet's `evaluate_multi`: the affine letterbox at scales 0.75/1/1.25 with flip, the int32
    centre of its inverse warp, mIoU over all classes."""
    return EvalConfig(
        protocol="affine",
        input_size=input_size,
        scales=[0.75, 1.0, 1.25],
        flip=True,
        miou_over="all",
        truncate_center=True,
    )
