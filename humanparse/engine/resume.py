"""Seeds and resumption: the RNG state a checkpoint carries, the DataLoader workers' seeding, finding the
checkpoint `--resume` continues from, and the check that the config still fits it.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

from humanparse.configs import Config
from humanparse.engine import checkpoint as ckpt
from humanparse.errors import CheckpointError, ConfigError

# Config keys that may change between a run and its resumption.
RESUMABLE_CHANGES = {"data.root", "data.num_workers", "train.epochs", "train.eval_interval"}


# ---------------------------------------------------------------- random number generators
def seed_everything(seed: int) -> None:
    """Seed torch, numpy and Python's global generators (the same seed on every rank: identical initial weights,
    dropout streams and batch-augmentation decisions)."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def capture_rng_state(generators: Optional[Dict[str, torch.Generator]] = None) -> Dict[str, Any]:
    """The torch, CUDA, numpy and Python global RNG states, plus named torch generators (e.g. the DataLoader's).

    Everything is a tensor, a number, a string or a list of them, so `weights_only=True` loads it.
    """
    numpy_state = np.random.get_state()
    state: Dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "python": python_state_to_list(random.getstate()),
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
    random.setstate(python_state_from_list(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    for name, generator in (generators or {}).items():
        if name in state.get("generators", {}):
            generator.set_state(state["generators"][name].cpu())


def python_state_to_list(state: tuple) -> List[Any]:
    """A `random.getstate()` tuple as lists, which a weights-only checkpoint can hold."""
    return [state[0], list(state[1]), state[2]]


def python_state_from_list(saved: List[Any]) -> tuple:
    """The inverse of `python_state_to_list`."""
    return (saved[0], tuple(saved[1]), saved[2])


def batch_augmentation_state(rank_state: Dict[str, Any]) -> Dict[str, Any]:
    """The batch augmentation's state in one rank's `rng` entry of a checkpoint; checkpoints written before it
    had its own entry kept the mixup streams as "mixup_random" and the global "mixup" generator."""
    if "batch_augmentation" in rank_state:
        return rank_state["batch_augmentation"]
    if "mixup_random" not in rank_state:
        raise CheckpointError("the checkpoint holds no batch-augmentation state, but the recipe has a mixup")
    return {"random": rank_state["mixup_random"], "generator": rank_state["global"]["generators"]["mixup"]}


def seed_worker(worker_id: int, rank: int = 0) -> None:
    """DataLoader worker_init_fn (with `rank` bound by `functools.partial`): a numpy Generator for the
    transforms, seeded from the loader's generator and the process's rank."""
    info = torch.utils.data.get_worker_info()
    seed = torch.initial_seed()  # base_seed (drawn from the loader's generator) + worker_id
    give_rng(info.dataset, seed, rank)


def give_rng(dataset: Dataset, seed: int, rank: int) -> None:
    """Seed the calling process's Python and numpy generators and hand `dataset` its own numpy Generator."""
    sequence = np.random.SeedSequence([seed % 2**63, rank])
    random.seed(int(sequence.generate_state(1)[0]))
    np.random.seed(int(sequence.generate_state(1)[0]))
    generator = np.random.default_rng(sequence)
    if hasattr(dataset, "set_rng"):
        dataset.set_rng(generator)
    else:
        dataset.rng = generator


# ---------------------------------------------------------------- the checkpoint to resume from
def find_resume_checkpoint(
    work_dir: Path, run_files: Tuple[str, ...]
) -> Optional[Tuple[Path, Dict[str, Any]]]:
    """The checkpoint `--resume` continues from and its content, or None in a folder that holds no run.

    `latest.json` names it; without the pointer (a run killed between writes, a pointer deleted by hand) the
    newest `epoch_*.pth` that reads back as a training checkpoint is taken. A folder that holds a run's files
    (`run_files`) but no readable checkpoint is a ConfigError: resuming must never start it over.
    """
    pointed = ckpt.latest_checkpoint(work_dir)
    if pointed is not None:
        return pointed, ckpt.load_training_state(pointed)
    for path in reversed(ckpt.epoch_checkpoints(work_dir)):
        try:
            return path, ckpt.load_training_state(path)
        except CheckpointError:
            continue
    present = sorted(name for name in run_files if (work_dir / name).exists())
    present += sorted(path.name for path in ckpt.epoch_checkpoints(work_dir))
    if present:
        raise ConfigError(
            f"--resume: {work_dir} holds a run ({', '.join(present[:5])}) but no readable checkpoint to continue "
            "from; pass --overwrite without --resume to start it again, or choose another --work-dir"
        )
    return None


def check_resumable(config: Config, saved: Dict[str, Any], path: Path) -> None:
    """ConfigError when `config` differs from the checkpoint's config in more than RESUMABLE_CHANGES."""
    now, then = _flatten(config.to_dict()), _flatten(saved)
    differences = sorted(
        key for key in set(now) | set(then) if key not in RESUMABLE_CHANGES and now.get(key) != then.get(key)
    )
    if differences:
        details = "; ".join(f"{key}: {then.get(key)!r} -> {now.get(key)!r}" for key in differences[:8])
        raise ConfigError(
            f"cannot resume from {path}: the config differs from the one it was trained with ({details}); "
            "only " + ", ".join(sorted(RESUMABLE_CHANGES)) + " may change"
        )


def _flatten(data: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "published":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
