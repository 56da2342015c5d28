"""The one checkpoint layout, its one writer and its one reader.

A humanparse checkpoint is a plain dict that `torch.load(path, weights_only=True)` reads back:
``{"humanparse_version", "format": "humanparse", "model": state_dict (no `module.` prefix), "config": dict}``,
plus, in training checkpoints, ``"optimizer", "epoch", "iteration", "rng", "history"[, "grad_scaler"]``.
`checkpoint_dict` builds it, `atomic_torch_save` writes it, `read_checkpoint` reads any weights file, and
`unwrap` finds the state dict inside a reference's layout too (SSSegmentation, SCHP, the official flat files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from torch import nn

from humanparse import __version__
from humanparse.errors import CheckpointError
from humanparse.outputs import atomic_write

OWN_FORMAT_KEY = "humanparse_version"
OWN_FORMAT = "humanparse"
_LIST_LIMIT = 10

StateDict = Dict[str, torch.Tensor]
PathLike = Union[str, Path]


def checkpoint_dict(model: nn.Module, config: Optional[Any] = None, **training_state: Any) -> Dict[str, Any]:
    """The checkpoint layout for `model` (its bare state dict, on the CPU) and `config` (default `model.config`).

    `training_state` (optimizer, epoch, iteration, rng, history, grad_scaler) is added as given.
    """
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    config = config if config is not None else getattr(model, "config", None)
    return {
        OWN_FORMAT_KEY: __version__,
        "format": OWN_FORMAT,
        "model": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "config": config.to_dict() if config is not None else {},
        **training_state,
    }


def atomic_torch_save(obj: Any, path: PathLike) -> Path:
    """`torch.save` written whole (`humanparse.outputs.atomic_write`, fsynced): a reader never sees half a file,
    and a failed write (a full disk) leaves no temporary file behind and raises CheckpointError."""
    return atomic_write(path, lambda stream: torch.save(obj, stream), error=CheckpointError)


def read_checkpoint(path: PathLike, map_location: Any = "cpu") -> Any:
    """`torch.load(weights_only=True)` with a CheckpointError naming the file for every failure.

    A file that needs code to unpickle is refused as not a weights file; torch's advice to retry with
    `weights_only=False` is dropped on purpose, since that would run the code.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unpickling errors come as several types
        raise CheckpointError(
            f"{path}: not a readable weights file ({_load_failure(error, path)})"
        ) from error


def _load_failure(error: Exception, path: Optional[Path] = None) -> str:
    """The real cause of a failed weights-only load, without torch's advice to retry with weights_only=False
    (that would run the file's code): the object it would need code for, or what the file is instead."""
    from humanparse.file_kinds import describe

    text = str(error)
    # torch <= 2.5 "Unsupported global: GLOBAL os.system", torch 2.13 "unsupported GLOBAL posix.system"
    global_name = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", text)
    if global_name:
        return f"it holds a Python object ({global_name.group(1)}) that only code could rebuild; it is not loaded"
    kind = describe(path) if path is not None else ""
    ours = (
        "a PyTorch checkpoint (zip)",
        "a legacy (non-zip) PyTorch or Python pickle file",
        "an unknown binary file",
    )
    if kind and kind not in ours:
        return f"it is {kind}, not PyTorch weights"
    if (
        "weights_only" in text
        or "WeightsUnpickler error" in text
        or isinstance(error, (IndexError, EOFError, ValueError, KeyError))
        or not text
    ):
        return "not a PyTorch weights file, or a damaged one"
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def non_finite_entries(state_dict: Mapping[str, torch.Tensor]) -> List[str]:
    """The names of floating-point tensors (parameters and buffers alike) holding a NaN or an infinity."""
    return [
        name
        for name, value in state_dict.items()
        if value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]


def _is_state_dict(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) > 0
        and all(isinstance(k, str) for k in value)
        and any(isinstance(v, torch.Tensor) for v in value.values())
    )


def unwrap(checkpoint: Any, path: str = "<checkpoint>") -> Tuple[StateDict, str]:
    """The state dict inside a checkpoint (no ``module.`` prefix) and the name of its format.

    Formats: ``humanparse`` (`checkpoint_dict`), ``sssegmentation`` (``{'model': sd}``), ``schp``
    (``{'state_dict': sd}``), ``official`` (a flat state dict).
    """
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
            f"{path}: no state dict found (top-level keys: {abbreviate([str(k) for k in checkpoint])})"
        )
    state = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    if all(key.startswith("module.") for key in state):
        state = {key[len("module.") :]: value for key, value in state.items()}
    return dict(state), fmt


def abbreviate(keys: List[str]) -> str:
    """The first keys of a list, with a count of the rest."""
    shown = ", ".join(keys[:_LIST_LIMIT])
    return shown + (f", ... ({len(keys) - _LIST_LIMIT} more)" if len(keys) > _LIST_LIMIT else "")


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
