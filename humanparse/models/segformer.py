"""SegFormer (NeurIPS 2021): the Mix Transformer encoder (MiT-B0..B5) and the all-MLP decode head.

Written from the paper and NVlabs' description; the numerics follow `transformers`' SegformerForSemanticSegmentation,
whose published checkpoints (a `save_pretrained` folder: `config.json` + `model.safetensors` or
`pytorch_model.bin`) load here through `convert_checkpoint`. `transformers` is never imported.

* Overlapping patch embeddings: a strided conv (kernel 7/3, stride 4/2, padding kernel // 2), then LayerNorm.
* Efficient self-attention: keys and values come from the tokens reduced by a `sr`-strided conv (+ LayerNorm).
* Mix-FFN: Linear, depth-wise 3x3 conv (the positional information), GELU (erf), Linear.
* Decode head: one Linear per stage to the decoder width, all upsampled to the 1/4 map (bilinear,
  align_corners=False), concatenated deepest first, 1x1 conv (no bias) + BatchNorm + ReLU, 1x1 classifier.

Every LayerNorm uses eps 1e-5, as transformers builds them (its config's `layer_norm_eps` is not used).
The model gives ``{"seg": logits}`` at 1/4 of the input size, never upsampled.

Fine-tuning starts from an ImageNet MiT encoder (`model.pretrained`, as mmsegmentation's SegFormer configs do):
NVlabs' `mit_bN.pth` or a Hugging Face `nvidia/mit-bN` folder, loaded into the encoder by `load_imagenet_encoder`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from humanparse.configs import Config
from humanparse.errors import CheckpointError, ConfigError
from humanparse.models.builder import require
from humanparse.models.checkpoint_io import abbreviate, read_checkpoint, unwrap
from humanparse.models.conversions import LoadReport, compare_shapes, shapes
from humanparse.registry import register_arch

# MiT variants of the paper (Table 6) with the decoder width NVlabs pairs them with (256 for B0/B1, 768 above)
_WIDE = [64, 128, 320, 512]
MIT_VARIANTS: Dict[str, Dict[str, Any]] = {
    "b0": {"depths": [2, 2, 2, 2], "hidden_sizes": [32, 64, 160, 256], "decoder_hidden_size": 256},
    "b1": {"depths": [2, 2, 2, 2], "hidden_sizes": _WIDE, "decoder_hidden_size": 256},
    "b2": {"depths": [3, 4, 6, 3], "hidden_sizes": _WIDE, "decoder_hidden_size": 768},
    "b3": {"depths": [3, 4, 18, 3], "hidden_sizes": _WIDE, "decoder_hidden_size": 768},
    "b4": {"depths": [3, 8, 27, 3], "hidden_sizes": _WIDE, "decoder_hidden_size": 768},
    "b5": {"depths": [3, 6, 40, 3], "hidden_sizes": _WIDE, "decoder_hidden_size": 768},
}


@dataclasses.dataclass(frozen=True)
class SegformerSpec:
    """The architecture values of a transformers `SegformerConfig` (its key names), with its defaults."""

    depths: Sequence[int] = (2, 2, 2, 2)
    hidden_sizes: Sequence[int] = (32, 64, 160, 256)
    num_attention_heads: Sequence[int] = (1, 2, 5, 8)
    sr_ratios: Sequence[int] = (8, 4, 2, 1)
    mlp_ratios: Sequence[int] = (4, 4, 4, 4)
    patch_sizes: Sequence[int] = (7, 3, 3, 3)
    strides: Sequence[int] = (4, 2, 2, 2)
    decoder_hidden_size: int = 256
    num_channels: int = 3
    drop_path_rate: float = 0.1  # training only (stochastic depth)
    classifier_dropout_prob: float = 0.1  # training only

    @classmethod
    def from_options(cls, options: Mapping[str, Any], where: str = "model.arch_options") -> SegformerSpec:
        """A spec from `ModelConfig.arch_options` (`variant` "b0".."b5" first, then any key overriding it)."""
        values: Dict[str, Any] = {}
        variant = options.get("variant")
        if variant is not None:
            if variant not in MIT_VARIANTS:
                raise ConfigError(
                    f"{where}: unknown variant {variant!r}; choose from {', '.join(MIT_VARIANTS)}"
                )
            values.update(MIT_VARIANTS[variant])
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(options) - known - {"variant"}
        if unknown:
            raise ConfigError(f"{where}: unknown SegFormer keys {', '.join(sorted(unknown))}")
        values.update({key: value for key, value in options.items() if key in known})
        spec = cls(**values)
        spec.check(where)
        return spec

    def check(self, where: str) -> None:
        lists = (
            "depths",
            "hidden_sizes",
            "num_attention_heads",
            "sr_ratios",
            "mlp_ratios",
            "patch_sizes",
            "strides",
        )
        stages = len(self.depths)
        for name in lists:
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)) or len(value) != stages:
                raise ConfigError(
                    f"{where}: {name} must list one integer per stage ({stages}), got {value!r}"
                )
            if any(not isinstance(item, int) or item < 1 for item in value):
                raise ConfigError(f"{where}: {name} must hold positive integers, got {value!r}")
        for hidden, heads in zip(self.hidden_sizes, self.num_attention_heads):
            if hidden % heads:
                raise ConfigError(
                    f"{where}: hidden size {hidden} is not divisible by {heads} attention heads"
                )
        if self.decoder_hidden_size < 1 or self.num_channels < 1:
            raise ConfigError(f"{where}: decoder_hidden_size and num_channels must be positive")


class DropPath(nn.Module):
    """Stochastic depth: drops the whole residual branch of a sample with probability `p` (training only)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return x / keep * torch.floor(mask + keep)


class OverlapPatchEmbed(nn.Module):
    """Strided conv over overlapping patches, flattened to tokens, LayerNorm."""

    def __init__(self, in_channels: int, channels: int, patch_size: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, channels, patch_size, stride, padding=patch_size // 2)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor):
        x = self.proj(x)
        height, width = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), height, width


def tokens_to_map(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, H*W, C) tokens to an (N, C, H, W) map."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], height, width)


class EfficientSelfAttention(nn.Module):
    """Multi-head attention whose keys and values come from the tokens reduced `sr_ratio` times per side."""

    def __init__(self, channels: int, heads: int, sr_ratio: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(channels, channels)
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)
        self.proj = nn.Linear(channels, channels)
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(channels, channels, sr_ratio, sr_ratio)
            self.norm = nn.LayerNorm(channels)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, channels = x.shape
        return x.reshape(batch, length, self.heads, channels // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        context = x
        if self.sr_ratio > 1:
            reduced = self.sr(tokens_to_map(x, height, width))
            context = self.norm(reduced.flatten(2).transpose(1, 2))
        query, key, value = (
            self._split(self.query(x)),
            self._split(self.key(context)),
            self._split(self.value(context)),
        )
        attended = F.scaled_dot_product_attention(query, key, value)
        return self.proj(attended.transpose(1, 2).reshape(x.shape))


class MixFFN(nn.Module):
    """Linear, depth-wise 3x3 conv, GELU, Linear."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, 1, 1, groups=hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = self.dwconv(tokens_to_map(self.fc1(x), height, width)).flatten(2).transpose(1, 2)
        return self.fc2(F.gelu(x))


class MiTBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + ffn(norm2(x)), with stochastic depth."""

    def __init__(self, channels: int, heads: int, sr_ratio: int, mlp_ratio: int, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attn = EfficientSelfAttention(channels, heads, sr_ratio)
        self.norm2 = nn.LayerNorm(channels)
        self.mlp = MixFFN(channels, channels * mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), height, width))
        return x + self.drop_path(self.mlp(self.norm2(x), height, width))


class MixTransformer(nn.Module):
    """The MiT encoder: four stages of (patch embedding, blocks, LayerNorm); returns the four stage maps."""

    def __init__(self, spec: SegformerSpec) -> None:
        super().__init__()
        total = sum(spec.depths)
        rates = [spec.drop_path_rate * index / max(total - 1, 1) for index in range(total)]
        self.patch_embeds = nn.ModuleList()
        self.blocks = nn.ModuleList()
        self.norms = nn.ModuleList()
        in_channels, start = spec.num_channels, 0
        for stage, channels in enumerate(spec.hidden_sizes):
            self.patch_embeds.append(
                OverlapPatchEmbed(in_channels, channels, spec.patch_sizes[stage], spec.strides[stage])
            )
            depth = spec.depths[stage]
            self.blocks.append(
                nn.ModuleList(
                    MiTBlock(
                        channels,
                        spec.num_attention_heads[stage],
                        spec.sr_ratios[stage],
                        spec.mlp_ratios[stage],
                        rates[start + index],
                    )
                    for index in range(depth)
                )
            )
            self.norms.append(nn.LayerNorm(channels))
            in_channels, start = channels, start + depth
        self.out_channels = list(spec.hidden_sizes)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        features = []
        for embed, blocks, norm in zip(self.patch_embeds, self.blocks, self.norms):
            tokens, height, width = embed(x)
            for block in blocks:  # type: ignore[attr-defined]  # an nn.ModuleList (zip types it as Module)
                tokens = block(tokens, height, width)
            x = tokens_to_map(norm(tokens), height, width).contiguous()
            features.append(x)
        return features


class AllMLPHead(nn.Module):
    """SegFormer's decode head (attribute names as transformers' SegformerDecodeHead)."""

    def __init__(self, in_channels: Sequence[int], channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.linear_c = nn.ModuleList(nn.Linear(width, channels) for width in in_channels)
        self.linear_fuse = nn.Conv2d(channels * len(in_channels), channels, 1, bias=False)
        self.batch_norm = nn.BatchNorm2d(channels)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        size = features[0].shape[2:]
        projected = []
        for feature, linear in zip(features, self.linear_c):
            height, width = feature.shape[2:]
            x = tokens_to_map(linear(feature.flatten(2).transpose(1, 2)), height, width)
            projected.append(F.interpolate(x, size=size, mode="bilinear", align_corners=False))
        fused = F.relu(self.batch_norm(self.linear_fuse(torch.cat(projected[::-1], dim=1))))
        return self.classifier(self.dropout(fused))


class SegFormer(nn.Module):
    """MiT encoder + all-MLP head. Eval and train: {"seg": logits at 1/4 of the input}."""

    def __init__(self, spec: SegformerSpec, num_classes: int) -> None:
        super().__init__()
        self.spec = spec
        self.backbone = MixTransformer(spec)
        self.decode_head = AllMLPHead(
            spec.hidden_sizes, spec.decoder_hidden_size, num_classes, spec.classifier_dropout_prob
        )

    def forward(self, images: torch.Tensor) -> Dict[str, torch.Tensor]:
        return {"seg": self.decode_head(self.backbone(images))}


# ---------------------------------------------------------------------------------- Hugging Face checkpoints
# the published (transformers 4) layout, which transformers 5 still writes, -> ours
_HF_RULES = [
    (r"^segformer\.encoder\.patch_embeddings\.(\d+)\.layer_norm\.", r"backbone.patch_embeds.\1.norm."),
    (r"^segformer\.encoder\.patch_embeddings\.(\d+)\.proj\.", r"backbone.patch_embeds.\1.proj."),
    (r"^segformer\.encoder\.layer_norm\.(\d+)\.", r"backbone.norms.\1."),
    (r"^segformer\.encoder\.block\.(\d+)\.(\d+)\.", r"backbone.blocks.\1.\2."),
    (r"\.attention\.self\.(query|key|value|sr)\.", r".attn.\1."),
    (r"\.attention\.self\.layer_norm\.", r".attn.norm."),
    (r"\.attention\.output\.dense\.", r".attn.proj."),
    (r"\.layer_norm_1\.", r".norm1."),
    (r"\.layer_norm_2\.", r".norm2."),
    (r"\.mlp\.dense1\.", r".mlp.fc1."),
    (r"\.mlp\.dense2\.", r".mlp.fc2."),
    (r"\.mlp\.dwconv\.dwconv\.", r".mlp.dwconv."),
    (r"^decode_head\.linear_c\.(\d+)\.proj\.", r"decode_head.linear_c.\1."),
]
# transformers 5's in-memory names (a state_dict() taken from its model object), -> the published ones
_HF5_RULES = [
    (r"^segformer\.stages\.(\d+)\.patch_embeddings\.", r"segformer.encoder.patch_embeddings.\1."),
    (r"^segformer\.stages\.(\d+)\.blocks\.", r"segformer.encoder.block.\1."),
    (r"^segformer\.stages\.(\d+)\.layer_norm\.", r"segformer.encoder.layer_norm.\1."),
    (r"\.attention\.sequence_reduction\.sequence_reduction\.", r".attention.self.sr."),
    (r"\.attention\.sequence_reduction\.layer_norm\.", r".attention.self.layer_norm."),
    (r"\.attention\.(q|k|v)_proj\.", None),  # handled below
    (r"\.attention\.o_proj\.", r".attention.output.dense."),
    (r"\.layernorm_before\.", r".layer_norm_1."),
    (r"\.layernorm_after\.", r".layer_norm_2."),
    (r"\.mlp\.fc1\.", r".mlp.dense1."),
    (r"\.mlp\.fc2\.", r".mlp.dense2."),
    (r"^decode_head\.linear_projections\.", r"decode_head.linear_c."),
]
_QKV = {"q": "query", "k": "key", "v": "value"}


def _hf5_to_published(key: str) -> str:
    for pattern, replacement in _HF5_RULES:
        if replacement is None:
            key = re.sub(pattern, lambda m: f".attention.self.{_QKV[m.group(1)]}.", key)
        else:
            key = re.sub(pattern, replacement, key)
    return key


def convert_checkpoint(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Hugging Face SegformerForSemanticSegmentation keys (as published, or transformers 5's in-memory names) to
    ours; keys already ours pass unchanged. Values are unchanged."""
    converted = {}
    for key, value in state_dict.items():
        if key.startswith("segformer.stages.") or key.startswith("decode_head.linear_projections."):
            key = _hf5_to_published(key)
        if key.startswith("segformer.") or key.startswith("decode_head.linear_c."):
            for pattern, replacement in _HF_RULES:
                key = re.sub(pattern, replacement, key)
        converted[key] = value
    return converted


def arch_options_from_hf(hf_config: Mapping[str, Any], path: str) -> Dict[str, Any]:
    """`ModelConfig.arch_options` of a transformers SegformerConfig (config.json); CheckpointError names the file
    when it is not a SegFormer config."""
    model_type = hf_config.get("model_type")
    if model_type != "segformer":
        raise CheckpointError(f"{path}: config.json describes a {model_type!r} model, not a SegFormer")
    if hf_config.get("reshape_last_stage", True) is False:
        raise CheckpointError(
            f"{path}: reshape_last_stage=false (a classification backbone) is not supported"
        )
    if hf_config.get("hidden_act", "gelu") != "gelu":
        raise CheckpointError(
            f"{path}: hidden_act {hf_config.get('hidden_act')!r} is not supported (gelu only)"
        )
    keys = [field.name for field in dataclasses.fields(SegformerSpec)]
    options = {key: hf_config[key] for key in keys if key in hf_config}
    for key, value in options.items():
        if isinstance(value, tuple):
            options[key] = list(value)
    blocks = hf_config.get("num_encoder_blocks", len(options.get("depths", SegformerSpec.depths)))
    if blocks != len(options.get("depths", SegformerSpec.depths)):
        raise CheckpointError(f"{path}: num_encoder_blocks={blocks} does not match depths")
    try:
        SegformerSpec.from_options(options, f"{path}")
    except (ConfigError, TypeError) as error:
        raise CheckpointError(f"{path}: {error}") from error
    return options


def num_labels_from_hf(hf_config: Mapping[str, Any]) -> Optional[int]:
    """The number of classes a transformers config.json gives (`num_labels`, else `id2label`)."""
    if "num_labels" in hf_config:
        return int(hf_config["num_labels"])
    if isinstance(hf_config.get("id2label"), Mapping):
        return len(hf_config["id2label"])
    return None


def configure_from_hf(config: Config, hf_config: Mapping[str, Any], path: str) -> Config:
    """`config` with its network taken from a transformers config.json (architecture and number of labels).

    The recipe's classes stay: a config.json with another number of labels is a CheckpointError.
    """
    options = arch_options_from_hf(hf_config, path)
    labels = num_labels_from_hf(hf_config)
    if labels is not None and labels != config.model.num_classes:
        raise CheckpointError(
            f"{path}: config.json has {labels} labels, but {config.name} parses {config.model.num_classes} classes"
        )
    model = dataclasses.replace(config.model, arch_options=options)
    return dataclasses.replace(config, model=model)


# ------------------------------------------------------------------------------- ImageNet MiT encoders
# NVlabs' mit_bN.pth (mix_transformer.py's names: patch_embed1, block1.0, norm1, head), -> ours (stages from 0)
_NVLABS_RULES = [
    (re.compile(r"^patch_embed(\d+)\."), lambda m: f"patch_embeds.{int(m.group(1)) - 1}."),
    (re.compile(r"^block(\d+)\."), lambda m: f"blocks.{int(m.group(1)) - 1}."),
    (re.compile(r"^norm(\d+)\."), lambda m: f"norms.{int(m.group(1)) - 1}."),
    (re.compile(r"\.attn\.q\."), lambda m: ".attn.query."),
    (re.compile(r"\.mlp\.dwconv\.dwconv\."), lambda m: ".mlp.dwconv."),
]
# the classification head of an ImageNet file (NVlabs `head`, Hugging Face `classifier`), or a whole segmentation
# model's decode head: not the encoder's, so not loaded
_NOT_ENCODER = ("head.", "classifier.", "decode_head.")


def _from_nvlabs(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    converted = {}
    for key, value in state.items():
        for pattern, replacement in _NVLABS_RULES:
            key = pattern.sub(replacement, key)
        if ".attn.kv." in key:  # NVlabs: keys and values in one Linear, keys in its first rows
            half = value.shape[0] // 2
            converted[key.replace(".attn.kv.", ".attn.key.")] = value[:half]
            converted[key.replace(".attn.kv.", ".attn.value.")] = value[half:]
        else:
            converted[key] = value
    return converted


def convert_imagenet_encoder(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """An ImageNet MiT file's state dict to our encoder's keys (`MixTransformer`, no `backbone.` prefix).

    Layouts: NVlabs `mit_bN.pth` (`patch_embed1.proj.weight`, `block1.0.attn.kv.weight`, ...), the same under
    `backbone.` (NVlabs' segmentation checkpoints), and Hugging Face's `segformer.encoder.*` (`nvidia/mit-bN`).
    The classification or decode head is dropped; anything unrecognised is kept, for the shape check to name.
    """
    hugging_face = any(key.startswith(("segformer.encoder.", "segformer.stages.")) for key in state)
    if hugging_face:
        state = {
            key[len("backbone.") :] if key.startswith("backbone.") else key: value
            for key, value in convert_checkpoint(state).items()
        }
    elif state and all(key.startswith("backbone.") or key.startswith(_NOT_ENCODER) for key in state):
        state = {
            key[len("backbone.") :] if key.startswith("backbone.") else key: v for key, v in state.items()
        }
    state = {key: value for key, value in state.items() if not key.startswith(_NOT_ENCODER)}
    return state if hugging_face else _from_nvlabs(state)


def _encoder_sizes(state: Mapping[str, torch.Tensor]) -> str:
    """ "depths [2, 2, 2, 2], widths [32, 64, 160, 256] (MiT-B0)" of an encoder state dict in our keys."""
    widths, depths = [], []
    stage = 0
    while f"patch_embeds.{stage}.proj.weight" in state:
        widths.append(int(state[f"patch_embeds.{stage}.proj.weight"].shape[0]))
        blocks = {key.split(".")[2] for key in state if key.startswith(f"blocks.{stage}.")}
        depths.append(len(blocks))
        stage += 1
    if not widths:
        return "no MiT patch embeddings"
    variant = next(
        (
            name
            for name, values in MIT_VARIANTS.items()
            if list(values["depths"]) == depths and list(values["hidden_sizes"]) == widths
        ),
        None,
    )
    return f"depths {depths}, widths {widths}" + (f" (MiT-{variant.upper()})" if variant else "")


def load_imagenet_encoder(backbone: nn.Module, path: Any) -> LoadReport:
    """An ImageNet MiT file or folder (`convert_imagenet_encoder`'s layouts) into `backbone`, strictly; read with
    weights_only=True. An encoder of another size (B2 for a B0 network) is one CheckpointError line naming both."""
    state, fmt = unwrap(read_checkpoint(path), str(path))
    state = convert_imagenet_encoder(state)
    expected = backbone.state_dict()
    missing, unexpected, mismatched = compare_shapes(shapes(expected), shapes(state))
    report = LoadReport(str(path), f"imagenet MiT ({fmt})", 0, missing, unexpected, mismatched)
    if not report.ok:
        given, ours = _encoder_sizes(state), _encoder_sizes(expected)
        if "patch_embeds.0.proj.weight" not in state:
            problem = f"it holds no MiT encoder (keys: {abbreviate(sorted(state))})"
        elif given != ours:
            problem = (
                f"its MiT encoder ({given}) is not this network's ({ours}); give the file of the network's "
                "variant, or set model.arch_options.variant to the file's"
            )
        else:
            first = (mismatched or missing or unexpected)[0]
            problem = (
                f"its MiT encoder does not fit ({len(missing)} missing, {len(unexpected)} unexpected, "
                f"{len(mismatched)} of another shape; first: {first})"
            )
        raise CheckpointError(f"{path}: not an ImageNet encoder for this SegFormer: {problem}")
    backbone.load_state_dict(state)
    report.converted = len(state)
    return report


@register_arch(
    "segformer", converter=convert_checkpoint, configure=configure_from_hf, imagenet=load_imagenet_encoder
)
def build(config: Config) -> SegFormer:
    """SegFormer for `config.model` (`arch_options`: a MiT `variant` and/or SegformerConfig keys; `width` and
    `stage_blocks` scale it down)."""
    model = config.model
    require(model, "output_stride", (4,))
    require(model, "backbone_stem", ("v1c",))  # the default: SegFormer has no ResNet stem
    spec = scaled_spec(SegformerSpec.from_options(model.arch_options), model.width, model.stage_blocks)
    return SegFormer(spec, model.num_classes)


def scaled_spec(spec: SegformerSpec, width: float, stage_blocks: Optional[Sequence[int]]) -> SegformerSpec:
    """`spec` with `model.width` applied to every channel count (a multiple of each stage's heads) and
    `model.stage_blocks` replacing the depths: the small networks of tests and demos."""
    if width == 1.0 and stage_blocks is None:
        return spec
    hidden = [
        max(heads, round(size * width / heads) * heads)
        for size, heads in zip(spec.hidden_sizes, spec.num_attention_heads)
    ]
    depths = list(stage_blocks) if stage_blocks is not None else list(spec.depths)
    if len(depths) != len(spec.depths):
        raise ConfigError(f"model.stage_blocks must list {len(spec.depths)} stages, got {list(depths)}")
    decoder = max(8, round(spec.decoder_hidden_size * width))
    return dataclasses.replace(spec, hidden_sizes=hidden, depths=depths, decoder_hidden_size=decoder)
