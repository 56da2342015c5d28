"""CE2P as the official liutinglt/CE2P code trains it, and SCHP's "Augmented CE2P" inference configs."""

from __future__ import annotations

from humanparse.configs.recipes._common import IMAGENET_DEEP_STEM, deep_stem_model, official_affine_data
from humanparse.configs.schema import Config, EvalConfig, TrainConfig
from humanparse.data.labels import get_label_set
from humanparse.registry import register_recipe


@register_recipe("ce2p_official_resnet101_lip")
def ce2p_official_lip() -> Config:
    return Config(
        name="ce2p_official_resnet101_lip",
        description="CE2P as the official liutinglt/CE2P code builds and trains it (InPlace-ABN semantics)",
        model=deep_stem_model("ce2p_official", 20, (384, 384)),
        data=official_affine_data("lip", (384, 384)),
        train=TrainConfig(
            epochs=150, batch_size=96, lr=1e-3, min_lr=0.0, loss="ce2p", align_corners=True, drop_last=False
        ),
        eval=EvalConfig(protocol="affine", input_size=(384, 384), miou_over="all", truncate_center=True),
        published={
            "source": "liutinglt/CE2P README",
            "miou": 53.88,
            "protocol": "single scale, no flip, 384x384",
            "imagenet_url": IMAGENET_DEEP_STEM,
        },
    )


# key -> (dataset, input size, published mIoU); the weights themselves are in the model zoo (humanparse/zoo)
_SCHP = {
    "lip": ("lip", (473, 473), 59.36),
    "atr": ("atr", (512, 512), 82.29),
    "pascal": ("pascal_person_part", (512, 512), 71.46),
}


def schp(key: str) -> Config:
    """The SCHP inference config of `simple_extractor.py --dataset {lip,atr,pascal}`."""
    dataset, size, miou = _SCHP[key]
    return Config(
        name=f"schp_resnet101_{key}",
        description=f"SCHP's Augmented CE2P on {dataset} (inference config of simple_extractor.py)",
        model=deep_stem_model("ce2p_official", get_label_set(dataset).num_classes, size),
        data=official_affine_data(dataset, size, normalization="bgr"),
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
        },
    )


for _key in _SCHP:
    register_recipe(f"schp_resnet101_{_key}")(lambda k=_key: schp(k))
