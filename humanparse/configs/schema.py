"""The shape of a config: plain dataclasses, printable and overridable with dotted keys."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import yaml

from humanparse.errors import ConfigError


@dataclass
class ModelConfig:
    """Which network to build and how big it is."""

    arch: str  # "ce2p" (SSSegmentation layout) | "ce2p_official" (CE2P/SCHP layout) | "cdgnet" | "csenet"
    num_classes: int
    backbone_depth: int = 101  # 50 | 101
    backbone_stem: str = "v1c"  # "v1c": 32-32-64 stem (OpenMMLab) | "deep": 64-64-128 stem (official code)
    output_stride: int = 8  # 8 | 16
    input_size: Tuple[int, int] = (
        473,
        473,
    )  # (H, W) the network is built for (CSENet's class-distribution length)
    pretrained: str = ""  # local ImageNet backbone file; "" trains from scratch
    # Scaling knobs for small models (tests, the demo); the published configs keep the defaults.
    width: float = 1.0  # multiplies every backbone and head channel count
    stage_blocks: Optional[Tuple[int, int, int, int]] = None  # overrides the ResNet block counts
    sync_bn: bool = True  # SyncBatchNorm under DDP, BatchNorm otherwise


@dataclass
class DataConfig:
    """Which dataset, where, and the augmentation recipe that feeds it."""

    dataset: str  # "lip" | "cihp" | "atr" | "voc" | "pascal_person_part" | "folder" | "synthetic"
    root: str = ""  # dataset root; the CLI's --data-root sets it
    train_split: str = "train"
    val_split: str = "val"
    pipeline: str = "sssegmentation"  # "sssegmentation" | "sssegmentation_voc" | "affine"
    crop_size: Tuple[int, int] = (473, 473)
    # sssegmentation family
    resize_size: Tuple[int, int] = (520, 520)  # base size of the random resize (VOC: (2048, 512), keep ratio)
    scale_range: Tuple[float, float] = (0.75, 1.25)
    one_category_max_ratio: float = 0.75
    rotation_degrees: float = 30.0  # 0 disables rotation
    rotation_prob: float = 0.6
    flip_prob: float = 0.5
    photometric: bool = True
    # affine family (official CE2P / CDGNet / CSENet)
    scale_factor: float = 0.25
    photometric_block: bool = False  # CSENet/CDGNet's blur / colour jitter / grayscale block
    blur_passes: int = 2  # Pillow box passes of that block's Gaussian blur (CSENet 2, CDGNet 3)
    # "rgb": SSSegmentation (BGR->RGB, then ImageNet mean/std); "bgr_rgb_stats": official CE2P, CDGNet and CSENet
    # (BGR kept, RGB-order ImageNet stats applied to it); "bgr": SCHP (BGR kept, stats reordered to BGR).
    normalization: str = "rgb"
    class_distribution: bool = False  # add the row/column class-distribution targets (CDGNet, CSENet)
    # generic folder dataset
    images_dir: str = "images"
    labels_dir: str = "labels"
    image_suffix: str = ".jpg"
    label_suffix: str = ".png"
    num_classes: int = 0  # only for "folder"; the named datasets know their own
    flip_pairs: List[Tuple[int, int]] = field(default_factory=list)  # only for "folder"
    num_workers: int = 2


@dataclass
class TrainConfig:
    """Optimiser, schedule and loss of a recipe."""

    epochs: int = 150
    batch_size: int = 32  # total over all processes; each process takes batch_size // world_size
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    min_lr: float = 0.0  # poly floor (SSSegmentation: 0.01 * lr)
    loss: str = "ce2p"  # "ce2p" | "cdg" (CE + Lovasz + edge + class distribution)
    edge_loss_normalized: bool = True  # False: SSSegmentation's VOC variant
    align_corners: bool = False  # how logits are upsampled to the label size in the loss
    mixup_prob: float = 0.0  # CSENet: 0.3
    mixup_lambda: float = 0.7
    eval_interval: int = 10  # epochs; the last epoch is always evaluated
    drop_last: bool = True
    seed: int = 1234
    amp: bool = True  # mixed precision, on CUDA only


@dataclass
class EvalConfig:
    """Test protocol of a recipe."""

    protocol: str = "resize"  # "resize": SSSegmentation | "affine": official letterbox + inverse warp
    input_size: Tuple[int, int] = (473, 473)
    keep_ratio: bool = (
        False  # resize protocol: keep the aspect ratio (VOC's short side 512, long side <= 2048)
    )
    keep_ratio_size: Tuple[int, int] = (2048, 512)
    scales: List[float] = field(default_factory=lambda: [1.0])
    flip: bool = False
    output: str = "seg"  # which model output is scored
    miou_over: str = "present"  # "present": nanmean over classes with a union | "all": mean over all classes
    truncate_center: bool = False  # official evaluators' int32 centre in the inverse warp (CSENet's 61.27)
    # affine protocol: where the crop's centre lies. "size": CE2P/CDGNet/CSENet (w/2, h/2), width w;
    # "size_minus_one": SCHP's utils/transforms.py ((w-1)/2, (h-1)/2), width w-1
    affine_convention: str = "size"
    # which reference script `predict` / `Predictor` reproduces (`test` always follows the evaluator):
    # "evaluate": argmax at the input size, label map warped back (nearest), centre as `truncate_center`;
    # "simple_extractor": SCHP's simple_extractor.py, logits warped back (bilinear, float centre), then argmax
    predict_script: str = "evaluate"


@dataclass
class Config:
    """A complete named recipe."""

    name: str
    model: ModelConfig
    data: DataConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    description: str = ""
    published: Dict[str, Any] = field(default_factory=dict)  # published results and weight URL

    def to_dict(self) -> Dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> Config:
        """Rebuild a config from `to_dict` output (e.g. the copy stored in a checkpoint)."""
        return cls(
            name=data["name"],
            model=_build(ModelConfig, data["model"]),
            data=_build(DataConfig, data["data"]),
            train=_build(TrainConfig, data.get("train", {})),
            eval=_build(EvalConfig, data.get("eval", {})),
            description=data.get("description", ""),
            published=dict(data.get("published", {})),
        )

    def override(self, assignments: List[str]) -> Config:
        """Return a copy with `section.key=value` assignments applied (values parsed as YAML)."""
        data = self.to_dict()
        for assignment in assignments:
            if "=" not in assignment:
                raise ConfigError(f"--set expects key=value, got {assignment!r}")
            key, raw = assignment.split("=", 1)
            parts = key.strip().split(".")
            node = data
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"unknown config key {key!r}")
                node = node[part]
            if parts[-1] not in node:
                raise ConfigError(f"unknown config key {key!r}; known in this section: {', '.join(node)}")
            node[parts[-1]] = yaml.safe_load(raw)
        return Config.from_dict(data)


def _build(cls, values: Dict[str, Any]):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(known)
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    converted = {}
    for name, value in values.items():
        default = _default_of(known[name])
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        if known[name].name == "stage_blocks" and isinstance(value, list):
            value = tuple(value)
        if known[name].name == "flip_pairs" and value is not None:
            value = [tuple(pair) for pair in value]
        converted[name] = value
    return cls(**converted)


def _default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _plain(value):
    """Tuples to lists, recursively, so the dict is YAML- and torch.load(weights_only)-safe."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
