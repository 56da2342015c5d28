"""Loading weights: format detection, key conversion, strict checks with helpful errors, ImageNet backbones.

Formats accepted by `load_weights`:

* ``humanparse``: ``{"model": state_dict, "config": dict, OWN_FORMAT_KEY: version, ...}`` (this package's
  training checkpoints and `humanparse convert` output), keys already ours;
* ``sssegmentation``: ``{"model": state_dict}`` with ``backbone_net.`` keys;
* ``schp``: ``{"state_dict": {"module." + key: ...}}``;
* ``official``: a flat state dict, usually with a ``module.`` prefix (liutinglt/CE2P, CDGNet, CSENet).

Everything is read with ``torch.load(weights_only=True)``: a file that needs code to unpickle is refused.
"""

from __future__ import annotations

import functools
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from humanparse.errors import CheckpointError

OWN_FORMAT_KEY = "humanparse_version"
OWN_FORMAT = "humanparse"
_LIST_LIMIT = 10

StateDict = Dict[str, torch.Tensor]


@dataclass
class LoadReport:
    """What `load_weights` read and how it fitted the model."""

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
                lines.append(f"{title} ({len(keys)}): {_abbreviate(keys)}")
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


def _abbreviate(keys: List[str]) -> str:
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f", ... ({len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else "")


def read_checkpoint(path: Union[str, Path], map_location: Any = "cpu") -> Any:
    """`torch.load(weights_only=True)` with a CheckpointError naming the file for every failure."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unpickling errors come as several types
        raise CheckpointError(
            f"{path}: not a readable weights file (torch.load with weights_only=True failed: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__})"
        ) from error


def _is_state_dict(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) for k in value)
        and any(isinstance(v, torch.Tensor) for v in value.values())
    )


def unwrap(checkpoint: Any, path: str = "<checkpoint>") -> Tuple[StateDict, str]:
    """The state dict inside a checkpoint (no ``module.`` prefix) and the name of its format."""
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f"{path}: not a checkpoint (a {type(checkpoint).__name__}, not a dict of tensors)"
        )
    if _is_state_dict(checkpoint.get("model")):
        state, fmt = checkpoint["model"], OWN_FORMAT if OWN_FORMAT_KEY in checkpoint else "sssegmentation"
    elif _is_state_dict(checkpoint.get("state_dict")):
        state, fmt = checkpoint["state_dict"], "schp"
    elif _is_state_dict(checkpoint):
        state, fmt = checkpoint, "official"
    else:
        raise CheckpointError(
            f"{path}: no state dict found (top-level keys: {_abbreviate([str(k) for k in checkpoint])})"
        )
    state = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    if all(key.startswith("module.") for key in state):
        state = {key[len("module.") :]: value for key, value in state.items()}
    return dict(state), fmt


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


def converter_for(model_or_arch: Union[nn.Module, str]) -> Optional[Callable[[StateDict], StateDict]]:
    """The `convert_checkpoint` of a model's architecture module (None when it has none)."""
    if isinstance(model_or_arch, str):
        from humanparse.models.builder import ARCHITECTURES

        module_name = f"humanparse.models.{ARCHITECTURES.get(model_or_arch, model_or_arch)}"
    else:
        module_name = type(model_or_arch).__module__
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, "convert_checkpoint", None)


def _convert(state: StateDict, fmt: str, converter: Optional[Callable[[StateDict], StateDict]]) -> StateDict:
    if fmt == OWN_FORMAT or converter is None:
        return state
    return converter(state)


def _compare(
    expected: Mapping[str, Tuple[int, ...]], given: Mapping[str, Tuple[int, ...]]
) -> Tuple[List[str], List[str], List[str]]:
    missing = [key for key in expected if key not in given]
    unexpected = [key for key in given if key not in expected]
    mismatched = [
        f"{key} {tuple(given[key])} vs model {tuple(expected[key])}"
        for key in expected
        if key in given and tuple(given[key]) != tuple(expected[key])
    ]
    return missing, unexpected, mismatched


@functools.cache
def _config_shapes(name: str) -> Tuple[str, Dict[str, Tuple[int, ...]]]:
    """(arch, key -> shape) of a named config's model, built on the meta device (no memory)."""
    from humanparse.models.builder import build_model

    with torch.device("meta"):
        model = build_model(name)
    return model.config.model.arch, {k: tuple(v.shape) for k, v in model.state_dict().items()}


def suggest_configs(state: StateDict, fmt: str) -> List[str]:
    """Named configs whose model has exactly this checkpoint's keys and shapes."""
    from humanparse.configs import list_configs

    matches = []
    converted_by_arch: Dict[str, Optional[Dict[str, Tuple[int, ...]]]] = {}
    for name in list_configs():
        try:
            arch, shapes = _config_shapes(name)
        except Exception:  # a config whose model cannot be built is no suggestion
            continue
        if arch not in converted_by_arch:
            try:
                converted = _convert(state, fmt, converter_for(arch))
                converted_by_arch[arch] = {k: tuple(v.shape) for k, v in converted.items()}
            except Exception:
                converted_by_arch[arch] = None
        given = converted_by_arch[arch]
        if given is not None and not any(_compare(shapes, given)):
            matches.append(name)
    return matches


def load_state(
    model: nn.Module,
    state: StateDict,
    strict: bool = True,
    path: str = "<state dict>",
    fmt: str = "state_dict",
) -> LoadReport:
    """Load a converted state dict; strict: any missing/unexpected/mis-shaped entry is a CheckpointError."""
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    missing, unexpected, mismatched = _compare(expected, {k: tuple(v.shape) for k, v in state.items()})
    report = LoadReport(path, fmt, 0, missing, unexpected, mismatched)
    if strict and not report.ok:
        suggestions = suggest_configs(state, fmt) if fmt != "state_dict" else []
        hint = (
            f"these configs fit it: {', '.join(suggestions)}"
            if suggestions
            else "no named config fits it exactly"
        )
        raise CheckpointError(f"{path} does not fit the model ({fmt} format).\n{report}\n{hint}")
    bad = {key.split(" ", 1)[0] for key in mismatched}
    loadable = {key: value for key, value in state.items() if key in expected and key not in bad}
    model.load_state_dict(loadable, strict=False)
    report.converted = len(loadable)
    if not report.ok:
        report.message = "loaded with strict=False: the entries listed above were skipped"
    return report


def load_weights(
    model: nn.Module, source: Union[str, Path], strict: bool = True, map_location: Any = "cpu"
) -> LoadReport:
    """Load a checkpoint file or a model-zoo name into `model`, converting the reference layouts to ours.

    Returns a LoadReport; with strict=True a checkpoint that does not fit raises CheckpointError listing the
    offending keys and the named configs whose model it would fit.
    """
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    path = Path(source)
    if not path.is_file() and isinstance(source, str) and os.sep not in source and not path.suffix:
        from humanparse.models import zoo

        path = zoo.resolve(source)
    checkpoint = read_checkpoint(path, map_location)
    state, fmt = unwrap(checkpoint, str(path))
    try:
        state = _convert(state, fmt, converter_for(model))
    except CheckpointError:
        raise
    except Exception as error:  # a converter meeting keys it does not expect
        raise CheckpointError(
            f"{path}: cannot convert its {fmt} keys for {type(model).__name__}: {error}"
        ) from error
    return load_state(model, state, strict, str(path), fmt)


def own_checkpoint(model: nn.Module, config: Optional[Any] = None) -> Dict[str, Any]:
    """This package's weights format: {"model", "config", "format", OWN_FORMAT_KEY}."""
    from humanparse import __version__

    config = config if config is not None else getattr(model, "config", None)
    return {
        "model": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "config": config.to_dict() if config is not None else {},
        "format": OWN_FORMAT,
        OWN_FORMAT_KEY: __version__,
    }


def load_imagenet_backbone(backbone: nn.Module, path: Union[str, Path]) -> LoadReport:
    """ImageNet weights into a ResNet: OpenMMLab V1c (`stem.N`, optionally under 'state_dict') or the deep-stem
    `conv1/bn1` layout. `fc.*` is dropped; anything else missing or left over is a CheckpointError.

    Old files without `num_batches_tracked` buffers are accepted (those buffers keep their zeros).
    """
    checkpoint = read_checkpoint(path)
    state, fmt = unwrap(checkpoint, str(path))
    state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    for prefix in ("backbone_net.", "backbone."):  # whole-model files keep their backbone keys under a prefix
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix) :]: value for key, value in state.items()}
    expected = {key: tuple(value.shape) for key, value in backbone.state_dict().items()}
    missing, unexpected, mismatched = _compare(expected, {k: tuple(v.shape) for k, v in state.items()})
    missing = [key for key in missing if not key.endswith("num_batches_tracked")]
    report = LoadReport(str(path), f"imagenet ({fmt})", 0, missing, unexpected, mismatched)
    if not report.ok:
        layout = "OpenMMLab V1c (stem.N)" if hasattr(backbone, "stem") else "deep stem (conv1/bn1)"
        raise CheckpointError(f"{path} does not fit the {layout} backbone.\n{report}")
    backbone.load_state_dict(state, strict=False)
    report.converted = len(state)
    return report
