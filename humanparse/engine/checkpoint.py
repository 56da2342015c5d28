"""Training checkpoints in a work dir: `epoch_{E}.pth` files, a `latest.json` pointer, `best.pth`, pruning,
and the RNG state a resumed run restores.

The checkpoint layout and its writer/reader are `humanparse.models.checkpoint_io`'s; a training checkpoint adds
"optimizer", "epoch" (epochs completed), "iteration" (iterations completed), "rng", "history" and
optionally "grad_scaler".
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch

from humanparse.errors import CheckpointError
from humanparse.models.checkpoint_io import atomic_torch_save, fsync_directory, read_checkpoint

LATEST_POINTER = "latest.json"
BEST_NAME = "best.pth"
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.pth$")

PathLike = Union[str, Path]


def epoch_filename(epoch: int) -> str:
    """The file name of the checkpoint written after `epoch` (1-based) epochs."""
    return f"epoch_{epoch}.pth"


def _atomic_write_text(text: str, path: Path) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    fsync_directory(path.parent)


def atomic_copy(source: PathLike, destination: PathLike) -> Path:
    """Copy a file so that `destination` is either the old or the complete new file, never a partial one; a
    failed copy (a full disk) removes its temporary file and raises CheckpointError."""
    destination = Path(destination)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
    )
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, destination)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, OSError):
            raise CheckpointError(f"cannot write {destination}: {error.strerror or error}") from error
        raise
    fsync_directory(destination.parent)
    return destination


def save_checkpoint(state: Dict[str, Any], work_dir: PathLike, epoch: int) -> Path:
    """Write `state` as `work_dir/epoch_{epoch}.pth` and point `latest.json` at it (both atomic)."""
    work_dir = Path(work_dir)
    path = atomic_torch_save(state, work_dir / epoch_filename(epoch))
    pointer = {
        "checkpoint": path.name,
        "epoch": int(state.get("epoch", epoch)),
        "iteration": int(state.get("iteration", 0)),
    }
    _atomic_write_text(json.dumps(pointer) + "\n", work_dir / LATEST_POINTER)
    return path


def latest_checkpoint(work_dir: PathLike) -> Optional[Path]:
    """The checkpoint `latest.json` names, or None when the folder holds no pointer."""
    pointer = Path(work_dir) / LATEST_POINTER
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text())["checkpoint"]
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{pointer} is not a valid checkpoint pointer ({error})") from error
    path = pointer.parent / name
    if not path.is_file():
        raise CheckpointError(f"{pointer} names {name}, which does not exist in {pointer.parent}")
    return path


def load_training_state(path: PathLike, map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """Read a training checkpoint (`read_checkpoint`) and check that it holds what `--resume` needs."""
    state = read_checkpoint(path, map_location)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a humanparse training checkpoint (not a dict)")
    missing = [key for key in ("model", "optimizer", "epoch", "iteration", "config") if key not in state]
    if missing:
        raise CheckpointError(
            f"{path} is not a humanparse training checkpoint (missing {', '.join(missing)})"
        )
    return state


def prune_checkpoints(work_dir: PathLike, keep: int) -> List[Path]:
    """Delete all but the `keep` newest `epoch_*.pth` files (never the one `latest.json` names); return the deleted."""
    work_dir = Path(work_dir)
    epochs = sorted(
        (int(match.group(1)), path)
        for path in work_dir.iterdir()
        if (match := _EPOCH_FILE.match(path.name)) is not None
    )
    latest = latest_checkpoint(work_dir)
    deleted = []
    for _, path in epochs[: max(len(epochs) - keep, 0)]:
        if latest is not None and path.name == latest.name:
            continue
        path.unlink()
        deleted.append(path)
    return deleted


def capture_rng_state(generators: Optional[Dict[str, torch.Generator]] = None) -> Dict[str, Any]:
    """The torch, CUDA, numpy and Python global RNG states, plus named torch generators (e.g. the DataLoader's).

    Everything is a tensor, a number, a string or a list of them, so `weights_only=True` loads it.
    """
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    state: Dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "python": [python_state[0], list(python_state[1]), python_state[2]],
        "generators": {name: generator.get_state() for name, generator in (generators or {}).items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any], generators: Optional[Dict[str, torch.Generator]] = None) -> None:
    """Put back what `capture_rng_state` recorded; named generators absent from `state` are left alone."""
    torch.set_rng_state(state["torch"].cpu())
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    for name, generator in (generators or {}).items():
        if name in state.get("generators", {}):
            generator.set_state(state["generators"][name].cpu())
