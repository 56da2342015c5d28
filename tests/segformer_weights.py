"""Seeded SegFormer weights in Hugging Face's published key space, for the parity fixtures and their tests.

The same function runs in tests/fixtures/segformer/make_fixtures.py (which loads the weights into transformers'
SegformerForSemanticSegmentation and records its outputs) and in the tests (which load them into ours), so the
fixtures hold only inputs and outputs. Keys are enumerated as transformers' `save_pretrained` writes them;
test_segformer_parity checks that against the committed tiny `save_pretrained` folder.

Values: per key, a PCG64 stream seeded by crc32(key) and the seed; matrices and kernels N(0, 1/fan_in) times a
gain, biases N(0, 0.05^2), norm weights 1 + N(0, 0.1^2), BatchNorm running variance U(0.5, 1.5).
"""

from __future__ import annotations

import zlib
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from humanparse.models.segformer import SegformerSpec

Shapes = List[Tuple[str, Tuple[int, ...]]]


def spec_of(variant: str = "", **overrides: Any) -> SegformerSpec:
    """A spec from a MiT variant ("b0".."b5", "" for transformers' defaults) and SegformerConfig keys."""
    options: Dict[str, Any] = {"variant": variant} if variant else {}
    options.update(overrides)
    return SegformerSpec.from_options(options)


def hf_config(spec: SegformerSpec, num_labels: int) -> Dict[str, Any]:
    """The SegformerConfig keyword arguments of `spec` (what config.json holds)."""
    return {
        "depths": list(spec.depths),
        "hidden_sizes": list(spec.hidden_sizes),
        "num_attention_heads": list(spec.num_attention_heads),
        "sr_ratios": list(spec.sr_ratios),
        "mlp_ratios": list(spec.mlp_ratios),
        "patch_sizes": list(spec.patch_sizes),
        "strides": list(spec.strides),
        "decoder_hidden_size": spec.decoder_hidden_size,
        "num_encoder_blocks": len(spec.depths),
        "num_labels": num_labels,
    }


def hf_shapes(spec: SegformerSpec, num_labels: int) -> Shapes:
    """(key, shape) of SegformerForSemanticSegmentation's published state dict."""
    entries: Shapes = []

    def linear(key: str, out_features: int, in_features: int) -> None:
        entries.extend([(f"{key}.weight", (out_features, in_features)), (f"{key}.bias", (out_features,))])

    def norm(key: str, channels: int) -> None:
        entries.extend([(f"{key}.weight", (channels,)), (f"{key}.bias", (channels,))])

    in_channels = spec.num_channels
    for stage, hidden in enumerate(spec.hidden_sizes):
        embed = f"segformer.encoder.patch_embeddings.{stage}"
        size = spec.patch_sizes[stage]
        entries.extend(
            [(f"{embed}.proj.weight", (hidden, in_channels, size, size)), (f"{embed}.proj.bias", (hidden,))]
        )
        norm(f"{embed}.layer_norm", hidden)
        inner = hidden * spec.mlp_ratios[stage]
        ratio = spec.sr_ratios[stage]
        for index in range(spec.depths[stage]):
            block = f"segformer.encoder.block.{stage}.{index}"
            norm(f"{block}.layer_norm_1", hidden)
            for name in ("query", "key", "value"):
                linear(f"{block}.attention.self.{name}", hidden, hidden)
            if ratio > 1:
                entries.extend(
                    [
                        (f"{block}.attention.self.sr.weight", (hidden, hidden, ratio, ratio)),
                        (f"{block}.attention.self.sr.bias", (hidden,)),
                    ]
                )
                norm(f"{block}.attention.self.layer_norm", hidden)
            linear(f"{block}.attention.output.dense", hidden, hidden)
            norm(f"{block}.layer_norm_2", hidden)
            linear(f"{block}.mlp.dense1", inner, hidden)
            entries.extend(
                [
                    (f"{block}.mlp.dwconv.dwconv.weight", (inner, 1, 3, 3)),
                    (f"{block}.mlp.dwconv.dwconv.bias", (inner,)),
                ]
            )
            linear(f"{block}.mlp.dense2", hidden, inner)
        norm(f"segformer.encoder.layer_norm.{stage}", hidden)
        in_channels = hidden
    width = spec.decoder_hidden_size
    for stage, hidden in enumerate(spec.hidden_sizes):
        linear(f"decode_head.linear_c.{stage}.proj", width, hidden)
    entries.append(("decode_head.linear_fuse.weight", (width, width * len(spec.hidden_sizes), 1, 1)))
    norm("decode_head.batch_norm", width)
    entries.extend(
        [
            ("decode_head.batch_norm.running_mean", (width,)),
            ("decode_head.batch_norm.running_var", (width,)),
            ("decode_head.batch_norm.num_batches_tracked", ()),
            ("decode_head.classifier.weight", (num_labels, width, 1, 1)),
            ("decode_head.classifier.bias", (num_labels,)),
        ]
    )
    return entries


def _value(key: str, shape: Tuple[int, ...], seed: int, gain: float) -> np.ndarray:
    rng = np.random.Generator(np.random.PCG64([zlib.crc32(key.encode("utf-8")), seed]))
    last = key.rsplit(".", 1)[-1]
    if last == "num_batches_tracked":
        return np.zeros(shape, dtype=np.int64)
    if last == "running_var":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if last == "running_mean":
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)
    if last == "bias":
        return (0.05 * rng.standard_normal(shape)).astype(np.float32)
    if len(shape) == 1:  # LayerNorm / BatchNorm weight
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return (gain / np.sqrt(fan_in) * rng.standard_normal(shape)).astype(np.float32)


def hf_state_dict(
    spec: SegformerSpec, num_labels: int, seed: int = 0, gain: float = 1.0
) -> Dict[str, torch.Tensor]:
    """Seeded weights for `spec` in the published key space (see the module docstring)."""
    return {
        key: torch.from_numpy(_value(key, shape, seed, gain if "classifier" not in key else 4.0 * gain))
        for key, shape in hf_shapes(spec, num_labels)
    }


def seeded_input(shape: Tuple[int, ...], seed: int) -> torch.Tensor:
    """A normalised-image-like float32 input, N(0, 1), from seed."""
    rng = np.random.Generator(np.random.PCG64(seed))
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
