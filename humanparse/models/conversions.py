"""Fitting a state dict to a network: the key conversions of the reference layouts (the official flat
CE2P/CDGNet/CSENet keys, ImageNet backbone files), the shape comparison and the load report.

The checkpoint file format itself (layout, reader, writer, format detection) is `checkpoint_io`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Tuple, Union

import torch
from torch import nn

from humanparse.errors import CheckpointError
from humanparse.models.checkpoint_io import StateDict, abbreviate, read_checkpoint, unwrap

PathLike = Union[str, Path]


@dataclass
class LoadReport:
    """What a weights file held and how it fitted the model."""

    path: str
    format: str
    converted: int
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[str] = field(default_factory=list)
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when every model entry was loaded and nothing was left over."""
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        lines = [f"weights: {self.path}", f"format: {self.format}", f"entries loaded: {self.converted}"]
        for title, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("shape mismatch", self.mismatched),
        ):
            if keys:
                lines.append(f"{title} ({len(keys)}): {abbreviate(keys)}")
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


def compare_shapes(
    expected: Mapping[str, Tuple[int, ...]], given: Mapping[str, Tuple[int, ...]]
) -> Tuple[List[str], List[str], List[str]]:
    """(missing, unexpected, mismatched) keys of `given` against `expected`, each a list of strings."""
    missing = [key for key in expected if key not in given]
    unexpected = [key for key in given if key not in expected]
    mismatched = [
        f"{key} {tuple(given[key])} vs model {tuple(expected[key])}"
        for key in expected
        if key in given and tuple(given[key]) != tuple(expected[key])
    ]
    return missing, unexpected, mismatched


def shapes(state: Mapping[str, torch.Tensor]) -> Dict[str, Tuple[int, ...]]:
    """key -> shape of a state dict."""
    return {key: tuple(value.shape) for key, value in state.items()}


def load_imagenet_backbone(backbone: nn.Module, path: PathLike) -> LoadReport:
    """ImageNet weights into a ResNet: OpenMMLab V1c (`stem.N`, optionally under 'state_dict') or the deep-stem
    `conv1/bn1` layout. `fc.*` is dropped; anything else missing or left over is a CheckpointError.

    Old files without `num_batches_tracked` buffers are accepted (those buffers keep their zeros).
    """
    state, fmt = unwrap(read_checkpoint(path), str(path))
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    for prefix in ("backbone_net.", "backbone."):  # whole-model files keep their backbone keys under a prefix
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    missing, unexpected, mismatched = compare_shapes(shapes(backbone.state_dict()), shapes(state))
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]
    report = LoadReport(str(path), f"imagenet ({fmt})", 0, missing, unexpected, mismatched)
    if not report.ok:
        layout = "OpenMMLab V1c (stem.N)" if hasattr(backbone, "stem") else "deep stem (conv1/bn1)"
        raise CheckpointError(f"{path} does not fit the {layout} backbone.\n{report}")
    backbone.load_state_dict(state, strict=False)
    report.converted = len(state)
    return report


# the deep-stem ResNet's flat top-level keys in the official CE2P/SCHP, CDGNet and CSENet checkpoints
_FLAT_BACKBONE_PREFIXES = (
    "conv1.",
    "bn1.",
    "conv2.",
    "bn2.",
    "conv3.",
    "bn3.",
    "layer1.",
    "layer2.",
    "layer3.",
    "layer4.",
)


def convert_official_keys(state_dict: StateDict) -> StateDict:
    """Official CE2P/CDGNet/CSENet keys to ours: drop ``module.``, put the flat stem/layerN keys under ``backbone.``.

    Head keys are already ours (the heads keep the official attribute names); values are unchanged.
    """
    converted: StateDict = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        if key.startswith(_FLAT_BACKBONE_PREFIXES):
            key = "backbone." + key
        converted[key] = value
    return converted
