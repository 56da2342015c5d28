"""The one checkpoint layout, its one writer and its one reader.

A humanparse checkpoint is a plain dict that `torch.load(path, weights_only=True)` reads back:
``{"humanparse_version", "format": "humanparse", "model": state_dict (no `module.` prefix), "config": dict}``,
plus, in training checkpoints, ``"optimizer", "epoch", "iteration", "rng", "history"[, "grad_scaler"]``.
`checkpoint_dict` builds it, `atomic_torch_save` writes it, `read_checkpoint` reads any weights file, and
`unwrap` finds the state dict inside a reference's layout too (SSSegmentation, SCHP, the official flat files).
"""

from __future__ import annotations

import json
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
    `weights_only=False` is dropped on purpose, since that would run the code. A `.safetensors` file and a
    Hugging Face model folder (`model.safetensors`, its shards, or `pytorch_model.bin`) give their state dict.
    """
    path = Path(path)
    if path.is_dir():
        return read_model_folder(path, map_location)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        return read_safetensors(path, map_location)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # unpickling errors come as several types
        raise CheckpointError(f"{path}: not a readable weights file ({_load_failure(error)})") from error


# the weights files of a `save_pretrained` folder, in the order transformers prefers them
HF_CONFIG = "config.json"
_HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


def read_safetensors(path: PathLike, map_location: Any = "cpu") -> StateDict:
    """The tensors of a `.safetensors` file (no code runs on reading it); CheckpointError names a bad file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    device = str(map_location) if isinstance(map_location, (str, torch.device)) else "cpu"
    try:
        return load_file(str(path), device=device)
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from error


def read_model_folder(folder: PathLike, map_location: Any = "cpu") -> StateDict:
    """The state dict of a Hugging Face `save_pretrained` folder: `model.safetensors`, the shards its
    `model.safetensors.index.json` lists, or `pytorch_model.bin` (read with weights_only=True)."""
    folder = Path(folder)
    found = next((folder / name for name in _HF_WEIGHTS if (folder / name).is_file()), None)
    if found is None:
        raise CheckpointError(
            f"{folder}: a folder without model weights (expected one of {', '.join(_HF_WEIGHTS)})"
        )
    if found.name.endswith(".index.json"):
        try:
            shards = sorted(set(json.loads(found.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise CheckpointError(f"{found}: not a safetensors index ({error})") from error
        state: StateDict = {}
        for shard in shards:
            state.update(read_safetensors(folder / shard, map_location))
        return state
    return read_checkpoint(found, map_location)


def read_model_description(path: PathLike) -> Optional[Dict[str, Any]]:
    """The `config.json` describing a Hugging Face model: in the folder `path`, or beside a `.safetensors`
    file; None when there is none. A config.json that is not a JSON object is a CheckpointError."""
    path = Path(path)
    if path.is_dir():
        described = path / HF_CONFIG
    elif path.suffix == ".safetensors":
        described = path.parent / HF_CONFIG
    else:
        return None
    if not described.is_file():
        if path.is_dir():
            raise CheckpointError(f"{path}: a model folder without {HF_CONFIG}")
        return None
    try:
        value = json.loads(described.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{described}: not a readable JSON file ({error})") from error
    if not isinstance(value, dict):
        raise CheckpointError(f"{described}: expected a JSON object")
    return value


def _load_failure(error: Exception) -> str:
    """The real cause of a failed weights-only load, without torch's advice to retry with weights_only=False."""
    text = str(error)
    global_name = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if global_name:
        return f"it holds a Python object ({global_name.group(1)}) that only code could rebuild; it is not loaded"
    if "WeightsUnpickler error" in text or isinstance(error, (IndexError, EOFError, ValueError)) or not text:
        return "not a PyTorch weights file, or a damaged one"
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first


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
