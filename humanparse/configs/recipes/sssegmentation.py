"""CE2P as SSSegmentation 1.7.0 trains it: ResNet-50/101 V1c at output stride 8 or 16 on LIP, CIHP, ATR and VOC."""

from __future__ import annotations

from humanparse.configs.recipes._common import IMAGENET_V1C
from humanparse.configs.schema import Config, DataConfig, EvalConfig, ModelConfig, TrainConfig
from humanparse.data.labels import get_label_set
from humanparse.registry import register_recipe

# Published single-scale mIoU (SSSegmentation docs/modelzoo/ce2p/README.md), keyed (dataset, depth, os).
_PUBLISHED_MIOU = {
    ("voc", 50, 8): 75.69, ("voc", 50, 16): 74.58, ("voc", 101, 8): 77.77, ("voc", 101, 16): 76.84,
    ("lip", 50, 8): 52.42, ("lip", 50, 16): 51.98, ("lip", 101, 8): 54.79, ("lip", 101, 16): 54.02,
    ("cihp", 50, 8): 61.15, ("cihp", 50, 16): 60.15, ("cihp", 101, 8): 63.83, ("cihp", 101, 16): 62.25,
    ("atr", 50, 8): 78.02, ("atr", 50, 16): 77.62, ("atr", 101, 8): 78.57, ("atr", 101, 16): 78.25,
}  # fmt: skip


def ce2p_sssegmentation(dataset: str, depth: int, output_stride: int) -> Config:
    """The recipe `ce2p_resnet{depth}os{output_stride}_{dataset}`."""
    name = f"ce2p_resnet{depth}os{output_stride}_{dataset}"
    is_voc = dataset == "voc"
    crop = (512, 512) if is_voc else (473, 473)
    data = DataConfig(
        dataset=dataset,
        train_split="trainaug" if is_voc else "train",
        pipeline="sssegmentation_voc" if is_voc else "sssegmentation",
        crop_size=crop,
        resize_size=(2048, 512) if is_voc else (520, 520),
        scale_range=(0.5, 2.0) if is_voc else (0.75, 1.25),
        rotation_degrees=0.0 if is_voc else 30.0,
        normalization="rgb",
    )
    train = TrainConfig(
        epochs=60 if is_voc else 150,
        batch_size=16 if is_voc else 32,
        lr=0.01,
        min_lr=1e-4,
        loss="ce2p",
        edge_loss_normalized=not is_voc,
        align_corners=False,
    )
    evaluation = EvalConfig(protocol="resize", input_size=crop, keep_ratio=is_voc, miou_over="present")
    return Config(
        name=name,
        description=f"CE2P, ResNet-{depth} V1c at output stride {output_stride}, {dataset.upper()} "
        f"(SSSegmentation 1.7.0 recipe)",
        model=ModelConfig(
            arch="ce2p",
            num_classes=get_label_set(dataset).num_classes,
            backbone_depth=depth,
            backbone_stem="v1c",
            output_stride=output_stride,
            input_size=crop,
        ),
        data=data,
        train=train,
        eval=evaluation,
        published={
            "source": "SSSegmentation docs/modelzoo/ce2p",
            "miou": _PUBLISHED_MIOU[(dataset, depth, output_stride)],
            "protocol": "single scale, no flip",
            "imagenet_url": IMAGENET_V1C[depth],
        },
    )


for _depth in (50, 101):
    for _output_stride in (8, 16):
        for _dataset in ("lip", "cihp", "atr", "voc"):
            register_recipe(f"ce2p_resnet{_depth}os{_output_stride}_{_dataset}")(
                lambda d=_dataset, r=_depth, o=_output_stride: ce2p_sssegmentation(d, r, o)
            )
