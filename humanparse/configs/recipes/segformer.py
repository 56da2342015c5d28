"""SegFormer parsers as try-on pipelines run them: FASHN's human parser (MiT-B4) and segformer_b2_clothes (MiT-B2).

Both load the Hugging Face model folder as published (`humanparse predict fashn_segformer_b4 MODEL_DIR ...`);
its config.json sizes the network. Their weights' licences are in the zoo table (`humanparse models`).
"""

from __future__ import annotations

from humanparse.configs.schema import Config, DataConfig, EvalConfig, ModelConfig, TrainConfig
from humanparse.registry import register_recipe


def segformer_model(variant: str, num_classes: int, input_size) -> ModelConfig:
    """A MiT `variant` ("b0".."b5") with its decoder width; a model folder's config.json replaces these sizes.

    Fine-tuning starts from the ImageNet encoder of the same variant with `--set model.pretrained=PATH`: NVlabs'
    `mit_bN.pth` or a Hugging Face `nvidia/mit-bN` folder (`models.segformer.load_imagenet_encoder`)."""
    return ModelConfig(
        arch="segformer",
        num_classes=num_classes,
        output_stride=4,
        input_size=input_size,
        arch_options={"variant": variant},
    )


def segformer_data(dataset: str, size) -> DataConfig:
    """Fine-tuning data at the recipe's input size (mmseg's random scale 0.5-2, no rotation), pixels in [0, 1]."""
    return DataConfig(
        dataset=dataset,
        crop_size=size,
        resize_size=size,
        scale_range=(0.5, 2.0),
        rotation_degrees=0.0,
        normalization="rgb_01",
    )


def segformer_train(**overrides) -> TrainConfig:
    """mmsegmentation's SegFormer schedule: AdamW lr 6e-5, betas (0.9, 0.999), weight decay 0.01, 10x lr on the
    head, no decay on norms and positional (depth-wise) convs, 1,500 linear warm-up iterations, then poly 1.0."""
    values = dict(
        epochs=50,
        batch_size=8,
        optimizer="adamw",
        lr=6e-5,
        betas=(0.9, 0.999),
        weight_decay=0.01,
        head_lr_mult=10.0,
        no_decay_norms=True,
        warmup_iterations=1500,
        warmup_ratio=1e-6,
        poly_power=1.0,
        min_lr=0.0,
        loss="ce",
        align_corners=False,
        eval_interval=5,
    )
    values.update(overrides)
    return TrainConfig(**values)


@register_recipe("fashn_segformer_b4")
def fashn_segformer_b4() -> Config:
    """FASHN's human parser as `fashn_human_parser.FashnHumanParser.predict` (0.1.1) runs it."""
    size = (576, 384)  # (H, W): cv2.resize to 384x576 (W x H)
    return Config(
        name="fashn_segformer_b4",
        description="FASHN's human parser (SegFormer MiT-B4, 18 try-on classes) as FashnHumanParser.predict runs it",
        model=segformer_model("b4", 18, size),
        data=segformer_data("fashn", size),
        train=segformer_train(),
        # EXIF transpose, RGB, cv2.INTER_AREA to 384x576, /255, ImageNet mean/std; logits bilinear to the photo
        eval=EvalConfig(protocol="fashn_parser", input_size=size, miou_over="present"),
        published={
            "source": "fashn-ai/fashn-human-parser (Hugging Face), fashn-human-parser 0.1.1 (PyPI)",
            "protocol": "FashnHumanParser.predict (INTER_AREA 384x576)",
        },
    )


@register_recipe("segformer_b2_clothes")
def segformer_b2_clothes() -> Config:
    """mattmdjaga/segformer_b2_clothes as its model card runs it (SegformerImageProcessor, PIL backend)."""
    size = (512, 512)
    return Config(
        name="segformer_b2_clothes",
        description="mattmdjaga/segformer_b2_clothes (SegFormer MiT-B2, ATR's 18 classes) as its model card runs it",
        model=segformer_model("b2", 18, size),
        data=segformer_data("atr", size),
        train=segformer_train(),
        # SegformerImageProcessorPil: Pillow BILINEAR to 512x512, rescale 1/255, ImageNet mean/std
        eval=EvalConfig(protocol="segformer_processor", input_size=size, miou_over="present"),
        published={
            "source": "mattmdjaga/segformer_b2_clothes (Hugging Face model card)",
            "protocol": "model card (PIL bilinear 512x512)",
        },
    )
