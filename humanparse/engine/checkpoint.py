"""Training checkpoints in a work dir: `epoch_{E}.pth` files, a `latest.json` pointer, `best.pth` and pruning.

Saving is one transaction: the epoch file, then `best.pth`, then the pointer. A run killed between two steps
resumes from the previous pointer and redoes every step, so it ends with the files an uninterrupted run has.

The checkpoint layout and its writer/reader are `humanparse.models.checkpoint_io`'s; a training checkpoint adds
"optimizer", "epoch" (epochs completed), "iteration" (iterations completed), "rng", "history" and
optionally "grad_scaler".
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import torch

from humanparse.errors import CheckpointError
from humanparse.models.checkpoint_io import atomic_torch_save, read_checkpoint
from humanparse.outputs import atomic_write

LATEST_POINTER = "latest.json"
BEST_NAME = "best.pth"
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.pth$")

PathLike = Union[str, Path]


def epoch_filename(epoch: int) -> str:
    """The file name of the checkpoint written after `epoch` (1-based) epochs."""
    return f"epoch_{epoch}.pth"


def _atomic_write_text(text: str, path: Path) -> None:
    atomic_write(path, lambda stream: stream.write(text.encode()), error=CheckpointError)


def atomic_copy(source: PathLike, destination: PathLike) -> Path:
    """Copy a file so that `destination` is either the old or the complete new file, never a partial one; a
    failed copy (a full disk) removes its temporary file and raises CheckpointError."""

    def copy(stream) -> None:
        with open(source, "rb") as original:
            shutil.copyfileobj(original, stream)

    return atomic_write(destination, copy, error=CheckpointError)


def save_checkpoint(state: Dict[str, Any], work_dir: PathLike, epoch: int, *, best: bool = False) -> Path:
    """Write `state` as `work_dir/epoch_{epoch}.pth`, copy it to `best.pth` when `best`, then point `latest.json`
    at it; each write is atomic and the pointer moves last."""
    work_dir = Path(work_dir)
    path = atomic_torch_save(state, work_dir / epoch_filename(epoch))
    if best:
        atomic_copy(path, work_dir / BEST_NAME)
    pointer = {
        "checkpoint": path.name,
        "epoch": int(state.get("epoch", epoch)),
        "iteration": int(state.get("iteration", 0)),
    }
    _atomic_write_text(json.dumps(pointer) + "\n", work_dir / LATEST_POINTER)
    return path


def epoch_checkpoints(work_dir: PathLike) -> List[Path]:
    """The `epoch_*.pth` files of a work dir, oldest epoch first."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return []
    found = [(int(m.group(1)), path) for path in work_dir.iterdir() if (m := _EPOCH_FILE.match(path.name))]
    return [path for _, path in sorted(found)]


def best_epoch(history: List[Dict[str, Any]]) -> Optional[int]:
    """The epoch whose weights `best.pth` holds: the first with the highest validation mIoU, None before any."""
    best, best_miou = None, -math.inf
    for entry in history:
        miou = entry.get("mIoU")
        if miou is not None and miou > best_miou:
            best, best_miou = int(entry["epoch"]), miou
    return best


def restore_best(work_dir: PathLike, history: List[Dict[str, Any]]) -> Optional[str]:
    """Make `best.pth` hold the best epoch of `history` again (a run killed while copying it, by an older
    version); returns what was done, or None when `best.pth` was right."""
    work_dir = Path(work_dir)
    epoch = best_epoch(history)
    if epoch is None:
        return None
    best = work_dir / BEST_NAME
    if best.is_file():
        try:
            held = read_checkpoint(best, mmap=True).get("epoch")
        except (CheckpointError, AttributeError):  # a damaged file (or not a dict) is rewritten below
            held = None
        if held == epoch:
            return None
    source = work_dir / epoch_filename(epoch)
    if not source.is_file():
        return f"{BEST_NAME} should hold epoch {epoch}, but {source.name} is no longer there; it is left as it is"
    atomic_copy(source, best)
    return f"{BEST_NAME} rewritten from {source.name} (the best epoch so far)"


def remove_temporary_files(work_dir: PathLike) -> List[Path]:
    """Delete the `.*.tmp` files interrupted writes left in a work dir; return them."""
    removed = [path for path in Path(work_dir).glob(".*.tmp") if path.is_file()]
    for path in removed:
        path.unlink()
    return removed


def non_finite_entries(state_dict: Dict[str, torch.Tensor]) -> List[str]:
    """The names of floating-point tensors (parameters and buffers alike) holding a NaN or an infinity."""
    return [
        name
        for name, value in state_dict.items()
        if value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]


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
    epochs = epoch_checkpoints(work_dir)
    latest = latest_checkpoint(work_dir)
    deleted = []
    for path in epochs[: max(len(epochs) - keep, 0)]:
        if latest is not None and path.name == latest.name:
            continue
        path.unlink()
        deleted.append(path)
    return deleted
