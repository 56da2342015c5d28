"""The checkpoint file format: the one layout, its one writer, its one reader and format detection.

A humanparse checkpoint is a plain dict that `torch.load(path, weights_only=True)` reads back:
``{"humanparse_version", "format": "humanparse", "model": state_dict (no `module.` prefix), "config": dict}``,
plus, in training checkpoints, ``"optimizer", "epoch", "iteration", "rng", "history"[, "grad_scaler"]``.
`checkpoint_dict` builds it, `atomic_torch_save` writes it, `read_checkpoint` reads any weights file, and
`unwrap` finds the state dict inside a reference's layout too (SSSegmentation, SCHP, the official flat files).
Mapping a state dict onto a network (key conversions, the load report) is `conversions`'.
"""

from __future__ import annotations

import json
import re
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


def read_checkpoint(path: PathLike, map_location: Any = "cpu", *, mmap: bool = False) -> Any:
    """`torch.load(weights_only=True)` with a CheckpointError naming the file for every failure.

    A file that needs code to unpickle is refused as not a weights file; torch's advice to retry with
    `weights_only=False` is dropped on purpose, since that would run the code. `mmap` maps the tensors instead
    of reading them (to look at a few plain entries of a large file). A `.safetensors` file and a Hugging Face
    model folder (`model.safetensors`, its shards, or `pytorch_model.bin`) give their state dict.
    """
    path = Path(path)
    if path.is_dir():
        return read_model_folder(path, map_location)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.suffix == ".safetensors":
        return read_safetensors(path, map_location)
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as error:  # unpickling errors come as several types
        raise CheckpointError(
            f"{path}: not a readable weights file ({_load_failure(error, path)})"
        ) from error


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
