"""CDGNet (CVPR 2022) as tjpulkl/CDGNet trains and evaluates it."""

from __future__ import annotations

from humanparse.configs.recipes._common import (
    IMAGENET_DEEP_STEM,
    deep_stem_model,
    official_affine_data,
    official_multiscale_eval,
)
from humanparse.configs.schema import Config, TrainConfig
from humanparse.registry import register_recipe


@register_recipe("cdgnet_resnet101_lip")
def cdgnet_lip() -> Config:
    return Config(
        name="cdgnet_resnet101_lip",
        description="CDGNet (CVPR 2022) as tjpulkl/CDGNet builds and trains it",
        model=deep_stem_model("cdgnet", 20, (473, 473)),
        data=official_affine_data(
            "lip", (473, 473), photometric_block=True, blur_passes=3, class_distribution=True
        ),
        train=TrainConfig(
            epochs=150, batch_size=32, lr=3e-3, loss="cdg", align_corners=True, drop_last=False
        ),
        eval=official_multiscale_eval((473, 473)),
        published={
            "source": "tjpulkl/CDGNet README",
            "miou": 60.30,
            "protocol": "scales 0.75/1/1.25 + flip",
            "imagenet_url": IMAGENET_DEEP_STEM,
        },
    )
