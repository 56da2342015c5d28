"""Every named recipe, as data. `humanparse configs show NAME` prints one."""

from __future__ import annotations

from typing import Callable, Dict, List

from humanparse.configs.schema import Config, DataConfig, EvalConfig, ModelConfig, TrainConfig
from humanparse.data.labels import get_label_set
from humanparse.errors import ConfigError

_SSSEG_MODELSTORE = "https://github.com/SegmentationBLWX/modelstore/releases/download/ssseg_ce2p"

# Published single-scale mIoU of SSSegmentation's CE2P (docs/modelzoo/ce2p/README.md), keyed (dataset, depth, os).
_CE2P_PUBLISHED_MIOU = {
    ("voc", 50, 8): 75.69, ("voc", 50, 16): 74.58, ("voc", 101, 8): 77.77, ("voc", 101, 16): 76.84,
    ("lip", 50, 8): 52.42, ("lip", 50, 16): 51.98, ("lip", 101, 8): 54.79, ("lip", 101, 16): 54.02,
    ("cihp", 50, 8): 61.15, ("cihp", 50, 16): 60.15, ("cihp", 101, 8): 63.83, ("cihp", 101, 16): 62.25,
    ("atr", 50, 8): 78.02, ("atr", 50, 16): 77.62, ("atr", 101, 8): 78.57, ("atr", 101, 16): 78.25,
}  # fmt: skip

_IMAGENET_V1C = {
    50: "https://download.openmmlab.com/pretrain/third_party/resnet50_v1c-2cccc1ad.pth",
    101: "https://download.openmmlab.com/pretrain/third_party/resnet101_v1c-e67eebb6.pth",
}
# The deep-stem ResNet-101 the official CE2P, SCHP, CDGNet and CSENet start from (README links).
_IMAGENET_DEEP_STEM = "https://drive.google.com/open?id=1rzLU-wK6rEorCNJfwrmIu5hY2wRMyKTK"


def _ce2p_sssegmentation(dataset: str, depth: int, output_stride: int) -> Config:
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
            "miou": _CE2P_PUBLISHED_MIOU[(dataset, depth, output_stride)],
            "protocol": "single scale, no flip",
            "weights_url": f"{_SSSEG_MODELSTORE}/{name}.pth",
            "imagenet_url": _IMAGENET_V1C[depth],
        },
    )


def _official_affine_data(dataset: str, crop, **overrides) -> DataConfig:
    return DataConfig(
        dataset=dataset,
        pipeline="affine",
        crop_size=crop,
        rotation_degrees=30.0,
        rotation_prob=0.6,
        scale_factor=0.25,
        photometric=False,
        normalization="bgr_rgb_stats",
        **overrides,
    )


def _ce2p_official_lip() -> Config:
    return Config(
        name="ce2p_official_resnet101_lip",
        description="CE2P as the official liutinglt/CE2P code builds and trains it (InPlace-ABN semantics)",
        model=ModelConfig(
            arch="ce2p_official",
            num_classes=20,
            backbone_depth=101,
            backbone_stem="deep",
            output_stride=16,
            input_size=(384, 384),
        ),
        data=_official_affine_data("lip", (384, 384)),
        train=TrainConfig(
            epochs=150, batch_size=96, lr=1e-3, min_lr=0.0, loss="ce2p", align_corners=True, drop_last=False
        ),
        eval=EvalConfig(protocol="affine", input_size=(384, 384), miou_over="all", truncate_center=True),
        published={
            "source": "liutinglt/CE2P README",
            "miou": 53.88,
            "protocol": "single scale, no flip, 384x384",
            "weights_url": "https://drive.google.com/open?id=1rzLU-wK6rEorCNJfwrmIu5hY2wRMyKTK",
            "imagenet_url": _IMAGENET_DEEP_STEM,
        },
    )


_SCHP = {
    "lip": ("lip", (473, 473), 59.36, "https://drive.google.com/file/d/1k4dllHpu0bdx38J7H28rVVLpU-kOHmnH"),
    "atr": ("atr", (512, 512), 82.29, "https://drive.google.com/file/d/1ruJg4lqR_jgQPj-9K0PP-L2vJERYOxLP"),
    "pascal": (
        "pascal_person_part",
        (512, 512),
        71.46,
        "https://drive.google.com/file/d/1E5YwNKW2VOEayK9mWCS3Kpsxf-3z04ZE",
    ),
}


def _schp(key: str) -> Config:
    dataset, size, miou, url = _SCHP[key]
    data = _official_affine_data(dataset, size)
    data.normalization = "bgr"
    return Config(
        name=f"schp_resnet101_{key}",
        description=f"SCHP's Augmented CE2P on {dataset} (inference config of simple_extractor.py)",
        model=ModelConfig(
            arch="ce2p_official",
            num_classes=get_label_set(dataset).num_classes,
            backbone_depth=101,
            backbone_stem="deep",
            output_stride=16,
            input_size=size,
        ),
        data=data,
        train=TrainConfig(
            epochs=150, batch_size=48, lr=7e-3, loss="ce2p", align_corners=True, drop_last=False
        ),
        # test: evaluate.py (int32 centre); predict: simple_extractor.py; both with SCHP's (w-1) affine
        eval=EvalConfig(
            protocol="affine",
            input_size=size,
            miou_over="all",
            truncate_center=True,
            affine_convention="size_minus_one",
            predict_script="simple_extractor",
        ),
        published={
            "source": "GoGoDuck912/Self-Correction-Human-Parsing README",
            "miou": miou,
            "protocol": "single scale",
            "weights_url": url,
        },
    )


def _cdgnet_lip() -> Config:
    return Config(
        name="cdgnet_resnet101_lip",
        description="CDGNet (CVPR 2022) as tjpulkl/CDGNet builds and trains it",
        model=ModelConfig(
            arch="cdgnet",
            num_classes=20,
            backbone_depth=101,
            backbone_stem="deep",
            output_stride=16,
            input_size=(473, 473),
        ),
        data=_official_affine_data(
            "lip", (473, 473), photometric_block=True, blur_passes=3, class_distribution=True
        ),
        train=TrainConfig(
            epochs=150, batch_size=32, lr=3e-3, loss="cdg", align_corners=True, drop_last=False
        ),
        eval=EvalConfig(
            protocol="affine",
            input_size=(473, 473),
            scales=[0.75, 1.0, 1.25],
            flip=True,
            miou_over="all",
            truncate_center=True,
        ),
        published={
            "source": "tjpulkl/CDGNet README",
            "miou": 60.30,
            "protocol": "scales 0.75/1/1.25 + flip",
            "weights_url": "https://pan.baidu.com/s/1WyifPOOE0SqIzCje-d1kzA?pwd=81la",
            "imagenet_url": _IMAGENET_DEEP_STEM,
        },
    )


def _csenet_lip() -> Config:
    return Config(
        name="csenet_resnet101_lip",
        description="CSENet (Image and Vision Computing 2024) as tjpulkl/BSSGNet builds and trains it",
        model=ModelConfig(
            arch="csenet",
            num_classes=20,
            backbone_depth=101,
            backbone_stem="deep",
            output_stride=16,
            input_size=(473, 473),
        ),
        data=_official_affine_data(
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
        eval=EvalConfig(
            protocol="affine",
            input_size=(473, 473),
            scales=[0.75, 1.0, 1.25],
            flip=True,
            miou_over="all",
            truncate_center=True,
        ),
        published={
            "source": "tjpulkl/BSSGNet README",
            "miou": 61.27,
            "protocol": "scales 0.75/1/1.25 + flip",
            "weights_url": "https://pan.baidu.com/s/1-9pR_ycvqkWBnDoKyI2nUw?pwd=bb9c",
            "imagenet_url": _IMAGENET_DEEP_STEM,
        },
    )


def _ce2p_tiny_synthetic() -> Config:
    """A small CE2P the demo trains on the CPU in minutes; the recipe is SSSegmentation's, scaled down."""
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
            epochs=20, batch_size=8, lr=0.02, min_lr=2e-4, loss="ce2p", eval_interval=4, align_corners=False
        ),
        eval=EvalConfig(protocol="resize", input_size=crop, miou_over="present"),
    )


def _registry() -> Dict[str, Callable[[], Config]]:
    entries: Dict[str, Callable[[], Config]] = {}
    for depth in (50, 101):
        for output_stride in (8, 16):
            for dataset in ("lip", "cihp", "atr", "voc"):
                name = f"ce2p_resnet{depth}os{output_stride}_{dataset}"
                entries[name] = lambda d=dataset, r=depth, o=output_stride: _ce2p_sssegmentation(d, r, o)
    entries["ce2p_official_resnet101_lip"] = _ce2p_official_lip
    for key in _SCHP:
        entries[f"schp_resnet101_{key}"] = lambda k=key: _schp(k)
    entries["cdgnet_resnet101_lip"] = _cdgnet_lip
    entries["csenet_resnet101_lip"] = _csenet_lip
    entries["ce2p_tiny_synthetic"] = _ce2p_tiny_synthetic
    return entries


CONFIGS = _registry()


def list_configs() -> List[str]:
    """Names of every recipe."""
    return list(CONFIGS)


def get_config(name: str) -> Config:
    """A fresh copy of a named recipe."""
    if name not in CONFIGS:
        close = [n for n in CONFIGS if name.split("_")[0] in n][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"unknown config {name!r}{hint} (`humanparse configs` lists them)")
    return CONFIGS[name]()
