"""The checkpoint file format: the one layout, its one writer, its one reader and format detection.

A humanparse checkpoint is a plain dict that `torch.load(path, weights_only=True)` reads back:
``{"humanparse_version", "format": "humanparse", "model": state_dict (no `module.` prefix), "config": dict}``,
plus, in training checkpoints, ``"optimizer", "epoch", "iteration", "rng", "history"[, "grad_scaler"]``.
`checkpoint_dict` builds it, `atomic_torch_save` writes it, `read_checkpoint` reads any weights file, and
`unwrap` finds the state dict inside a reference's layout too (SSSegmentation, SCHP, the official flat files).
Mapping a state dict onto a network (key conversions, the load report) is `conversions`'.
"""

from __future__ import annotations

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
    of reading them (to look at a few plain entries of a large file).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as error:  # unpickling errors come as several types
        raise CheckpointError(f"{path}: not a readable weights file ({_load_failure(error)})") from error


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
