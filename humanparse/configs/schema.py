"""The shape of a config: plain dataclasses, printable and overridable with dotted keys."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Tuple

import yaml

from humanparse.configs.checks import (
    MAX_SIDE,
    Rules,
    above,
    at_least,
    at_most,
    between,
    check_fields,
    non_empty,
    ordered,
    required_fields,
    type_hints,
    working_size_problem,
)
from humanparse.errors import ConfigError
from humanparse.suggest import did_you_mean


class _Section:
    """A config section: its values are type- and range-checked (see `checks`) whenever it is built.

    Each section names itself (`SECTION`, the prefix of its keys) and lists the range rules of its fields
    (`RULES`, field -> rule or tuple of rules); a field without a rule is only type-checked.
    """

    SECTION: ClassVar[str] = ""
    RULES: ClassVar[Rules] = {}

    def __post_init__(self) -> None:
        check_fields(self, self.SECTION, self.RULES)


@dataclass
class ModelConfig(_Section):
    """Which network to build and how big it is."""

    arch: str  # "ce2p" (SSSegmentation layout) | "ce2p_official" (CE2P/SCHP layout) | "cdgnet" | "csenet" | "segformer"
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
    # the network's own sizes where a family has more than a ResNet depth (SegFormer: a MiT `variant` and/or
    # transformers SegformerConfig keys: depths, hidden_sizes, decoder_hidden_size, ...)
    arch_options: Dict[str, Any] = field(default_factory=dict)

    SECTION: ClassVar[str] = "model"
    RULES: ClassVar[Rules] = {
        "num_classes": at_least(1),
        "backbone_depth": at_least(1),
        "output_stride": at_least(1),
        "input_size": (at_least(1), at_most(MAX_SIDE)),
        "width": above(0),
        "stage_blocks": at_least(1),
    }


@dataclass
class DataConfig(_Section):
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
    one_category_max_ratio: float = 0.75  # a crop is redrawn while one class fills more than this share
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

    SECTION: ClassVar[str] = "data"
    RULES: ClassVar[Rules] = {
        "crop_size": (at_least(1), at_most(MAX_SIDE)),
        "resize_size": (at_least(1), at_most(MAX_SIDE)),
        "scale_range": (above(0), ordered),
        "one_category_max_ratio": above(0),  # >= 1 turns the crop's one-category check off
        "rotation_degrees": at_least(0),
        "rotation_prob": between(0, 1),
        "flip_prob": between(0, 1),
        "scale_factor": at_least(0),
        "blur_passes": at_least(0),
        "num_classes": at_least(0),
        "flip_pairs": at_least(0),
        "num_workers": at_least(0),
    }


@dataclass
class TrainConfig(_Section):
    """Optimiser, schedule and loss of a recipe."""

    epochs: int = 150
    batch_size: int = 32  # total over all processes; each process takes batch_size // world_size
    lr: float = 0.01
    momentum: float = 0.9  # sgd
    weight_decay: float = 5e-4
    poly_power: float = 0.9
    min_lr: float = 0.0  # poly floor (SSSegmentation: 0.01 * lr)
    # "sgd": one group (CE2P, SCHP, CDGNet, CSENet) | "adamw": parameter groups (SegFormer), see engine/optim.py
    optimizer: str = "sgd"
    betas: Tuple[float, float] = (0.9, 0.999)  # adamw
    head_lr_mult: float = 1.0  # adamw: lr multiplier of the parameters outside the backbone (mmseg 'head')
    no_decay_norms: bool = False  # adamw: no weight decay on norm layers and depth-wise positional convs
    warmup_iterations: int = 0  # linear warm-up before the poly schedule
    warmup_ratio: float = 1e-6  # the warm-up's first lr, as a fraction of lr (mmengine LinearLR start_factor)
    loss: str = "ce2p"  # "ce2p" | "cdg" (CE + Lovasz + edge + class distribution) | "ce" (SegFormer)
    edge_loss_normalized: bool = True  # False: SSSegmentation's VOC variant
    align_corners: bool = False  # how logits are upsampled to the label size in the loss
    mixup_prob: float = 0.0  # CSENet: 0.3
    mixup_lambda: float = 0.7
    eval_interval: int = 10  # epochs; the last epoch is always evaluated (0: only the last)
    drop_last: bool = True
    seed: int = 1234
    amp: bool = True  # mixed precision, on CUDA only

    SECTION: ClassVar[str] = "train"
    RULES: ClassVar[Rules] = {
        "epochs": at_least(1),
        "batch_size": at_least(1),
        "lr": above(0),
        "momentum": between(0, 1, include_high=False),
        "weight_decay": at_least(0),
        "poly_power": at_least(0),
        "min_lr": at_least(0),
        "betas": between(0, 1, include_high=False),
        "head_lr_mult": above(0),
        "warmup_iterations": at_least(0),
        "warmup_ratio": between(0, 1),
        "mixup_prob": between(0, 1),
        "mixup_lambda": between(0, 1),
        "eval_interval": at_least(0),  # 0: the last epoch only
        "seed": at_least(0),
    }


@dataclass
class EvalConfig(_Section):
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

    SECTION: ClassVar[str] = "eval"
    RULES: ClassVar[Rules] = {
        "input_size": (at_least(1), at_most(MAX_SIDE)),
        "keep_ratio_size": (at_least(1), at_most(MAX_SIDE)),
        "scales": (
            non_empty,
            above(0),
        ),  # finite: every float field is (`checks.coerce`); as values.check_scales
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        problem = working_size_problem(self.input_size, self.scales)
        if problem:
            raise ConfigError(f"eval.input_size with eval.scales: {problem}")


@dataclass
class Config(_Section):
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
        """Rebuild a config from `to_dict` output (e.g. the copy stored in a checkpoint, a YAML file).

        Every value is type- and range-checked; a missing or wrong one is a ConfigError naming its key.
        """
        if not isinstance(data, dict):
            raise ConfigError("a config must be a mapping with name, model and data sections")
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown config sections: {', '.join(sorted(unknown))}")
        for key in required_fields(cls):
            if key not in data:
                raise ConfigError(f"missing key {key!r}")
        return cls(
            name=data["name"],
            model=_build(ModelConfig, data["model"]),
            data=_build(DataConfig, data["data"]),
            train=_build(TrainConfig, data.get("train") or {}),
            eval=_build(EvalConfig, data.get("eval") or {}),
            description=data.get("description", ""),
            published=data.get("published") or {},
        )

    def override(self, assignments: List[str]) -> Config:
        """A copy with `section.key=value` assignments applied, checked like any config.

        Values are parsed as YAML, except that a string field takes the text as typed (`data.root=~/lip` is a
        path, `model.pretrained=` an empty string); quote it ('...') for YAML's reading.
        """
        data = self.to_dict()
        for assignment in assignments:
            if "=" not in assignment:
                raise ConfigError(f"--set expects key=value, got {assignment!r}")
            key, raw = assignment.split("=", 1)
            parts = key.strip().split(".")
            node = data
            section: Any = self
            for part in parts[:-1]:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"unknown config key {key!r}{did_you_mean(part, node)}")
                node = node[part]
                section = getattr(section, part, None)
            if parts[-1] not in node:
                raise ConfigError(
                    f"unknown config key {key!r}{did_you_mean(parts[-1], node)}; known in this section: "
                    f"{', '.join(node)}"
                )
            node[parts[-1]] = _parse_value(raw, type_hints(type(section)).get(parts[-1]))
        return Config.from_dict(data)


def _parse_value(raw: str, hint: Any) -> Any:
    if hint is str and not raw.strip().startswith(("'", '"')):
        return raw
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw  # not YAML: the type check says what the key expects


def _build(cls, values: Any):
    if not isinstance(values, dict):
        raise ConfigError(f"{cls.SECTION}: expected a mapping of keys to values, got {values!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    for key in required_fields(cls):
        if key not in values:
            raise ConfigError(f"missing key {cls.SECTION}.{key}")
    return cls(**values)


def _plain(value):
    """Tuples to lists, recursively, so the dict is YAML- and torch.load(weights_only)-safe."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
