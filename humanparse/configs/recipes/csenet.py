"""CSENet (Image and Vision Computing 2024) as tjpulkl/BSSGNet trains and evaluates it."""

from __future__ import annotations

from humanparse.configs.recipes._common import (
    IMAGENET_DEEP_STEM,
    deep_stem_model,
    official_affine_data,
    official_multiscale_eval,
)
from humanparse.configs.schema import Config, TrainConfig
from humanparse.registry import register_recipe


@register_recipe("csenet_resnet101_lip")
def csenet_lip() -> Config:
    return Config(
        name="csenet_resnet101_lip",
        description="CSENet (Image and Vision Computing 2024) as tjpulkl/BSSGNet builds and trains it",
        model=deep_stem_model("csenet", 20, (473, 473)),
        data=official_affine_data(
            "lip", (473, 473), photometric_block=True, blur_passes=2, class_distribution=True
        ),
        train=TrainConfig(
            epochs=150,
            batch_size=16,
            lr=2.5e-3,
            loss="cdg",
            align_corners=True,
            mixup_prob=0.3,
            mixup_lambda=0.7,
            drop_last=False,
        ),
        eval=official_multiscale_eval((473, 473)),
        published={
            "source": "tjpulkl/BSSGNet README",
            "miou": 61.27,
            "protocol": "scales 0.75/1/1.25 + flip",
            "imagenet_url": IMAGENET_DEEP_STEM,
        },
    )
