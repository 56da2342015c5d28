"""Engine checkpoints: atomic writes, the latest.json pointer, weights_only loading, RNG capture, pruning."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from humanparse.engine import checkpoint as ckpt
from humanparse.engine.resume import capture_rng_state, restore_rng_state
from humanparse.errors import CheckpointError
from humanparse.models.checkpoint_io import atomic_torch_save


class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("disk full")  # stands for a failure half-way through torch.save


def _state(epoch: int, iteration: int) -> dict:
    return {
        "humanparse_version": "0.1.0",
        "model": {"w": torch.full((2, 2), float(epoch))},
        "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]},
        "epoch": epoch,
        "iteration": iteration,
        "config": {"name": "x"},
        "rng": {"ranks": [{"global": capture_rng_state({"loader": torch.Generator().manual_seed(3)})}]},
        "history": [{"epoch": epoch, "loss": 1.5, "mIoU": None}],
    }


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    path = ckpt.save_checkpoint(_state(1, 10), tmp_path, 1)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match=r"cannot write .*epoch_1.pth: disk full"):
        atomic_torch_save({"model": _Unpicklable()}, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_1.pth", "latest.json"]


def test_checkpoint_loads_with_weights_only_and_pointer_names_it(tmp_path):
    ckpt.save_checkpoint(_state(1, 10), tmp_path, 1)
    ckpt.save_checkpoint(_state(2, 20), tmp_path, 2)
    assert json.loads((tmp_path / "latest.json").read_text()) == {
        "checkpoint": "epoch_2.pth",
        "epoch": 2,
        "iteration": 20,
    }
    latest = ckpt.latest_checkpoint(tmp_path)
    assert latest == tmp_path / "epoch_2.pth"
    raw = torch.load(latest, weights_only=True)  # the plain torch call, as the engine API promises
    assert raw["epoch"] == 2 and raw["iteration"] == 20
    assert torch.equal(raw["model"]["w"], torch.full((2, 2), 2.0))
    assert ckpt.load_training_state(latest)["history"] == [{"epoch": 2, "loss": 1.5, "mIoU": None}]


def test_unreadable_or_foreign_checkpoints_raise_checkpoint_error_naming_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pth"):
        ckpt.load_training_state(tmp_path / "missing.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.pth"):
        ckpt.load_training_state(garbage)
    weights = tmp_path / "weights.pth"
    torch.save({"model": {}}, weights)
    with pytest.raises(CheckpointError, match=r"weights.pth .*missing optimizer"):
        ckpt.load_training_state(weights)
    (tmp_path / "latest.json").write_text(json.dumps({"checkpoint": "epoch_9.pth"}))
    with pytest.raises(CheckpointError, match="epoch_9.pth"):
        ckpt.latest_checkpoint(tmp_path)


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    loader = torch.Generator().manual_seed(7)
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    state = capture_rng_state({"loader": loader})
    path = atomic_torch_save(state, tmp_path / "rng.pth")

    def draw():
        return (
            torch.rand(3).tolist(),
            np.random.rand(3).tolist(),
            np.random.randn(1).tolist(),  # exercises numpy's cached-gaussian slot
            [random.random() for _ in range(3)],
            torch.rand(3, generator=loader).tolist(),
        )

    first = draw()
    restore_rng_state(torch.load(path, weights_only=True), {"loader": loader})
    assert draw() == first


def test_prune_keeps_the_newest_epochs_and_the_pointer_target(tmp_path):
    for epoch in range(1, 6):
        ckpt.save_checkpoint(_state(epoch, 10 * epoch), tmp_path, epoch)
    deleted = ckpt.prune_checkpoints(tmp_path, keep=2)
    assert sorted(p.name for p in deleted) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pth")) == ["epoch_4.pth", "epoch_5.pth"]
