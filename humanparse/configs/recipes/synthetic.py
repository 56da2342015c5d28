"""A small CE2P the demo trains on synthetic people on the CPU in minutes."""

from __future__ import annotations

from humanparse.configs.schema import Config, DataConfig, EvalConfig, ModelConfig, TrainConfig
from humanparse.registry import register_recipe


@register_recipe("ce2p_tiny_synthetic")
def ce2p_tiny_synthetic() -> Config:
    """SSSegmentation's CE2P recipe scaled down: ResNet-50 V1c layout at width 1/4, one block per stage."""
    crop = (128, 128)
    return Config(
        name="ce2p_tiny_synthetic",
        description="A small CE2P (ResNet-50 V1c layout at width 1/4, one block per stage) for synthetic people",
        model=ModelConfig(
            arch="ce2p",
            num_classes=20,
            backbone_depth=50,
            backbone_stem="v1c",
            output_stride=8,
            input_size=crop,
            width=0.25,
            stage_blocks=(1, 1, 1, 1),
        ),
        data=DataConfig(
            dataset="lip",
            pipeline="sssegmentation",
            crop_size=crop,
            resize_size=(140, 140),
            normalization="rgb",
            num_workers=2,
        ),
        train=TrainConfig(
            epochs=12, batch_size=8, lr=0.02, min_lr=2e-4, loss="ce2p", eval_interval=4, align_corners=False
        ),
        eval=EvalConfig(protocol="resize", input_size=crop, miou_over="present"),
    )
