"""Training and data against hostile inputs (issue 19): duplicate ids, a kill before the first checkpoint, a full
disk during a save, and sizes or ranges no run could use."""

from __future__ import annotations

import errno

import pytest
import torch
from train_fixtures import make_synthetic_lip, tiny_config

from humanparse.cli import main as cli_main
from humanparse.configs import get_config
from humanparse.data.datasets import build_dataset
from humanparse.data.synth import generate_dataset
from humanparse.engine.trainer import Trainer
from humanparse.errors import CheckpointError, ConfigError, DataError
from humanparse.models import checkpoint_io


@pytest.fixture(scope="module")
def synthetic_lip(tmp_path_factory):
    return make_synthetic_lip(tmp_path_factory.mktemp("lip"))


def _duplicate_first_id(root, split):
    listing = root / f"{split}_id.txt"
    ids = listing.read_text().split()
    listing.write_text("\n".join(ids + [ids[0]]) + "\n")
    return ids[0]


def test_duplicate_ids_are_reported_refused_in_validation_and_warned_in_training(tmp_path, capsys):
    root = generate_dataset("lip", tmp_path / "lip", 4, 2, size=(40, 36), seed=1)
    repeated = _duplicate_first_id(root, "val")
    argv = ["check-data", "ce2p_tiny_synthetic", "--data-root", str(root), "--no-progress"]
    assert cli_main(argv) != 0
    out = capsys.readouterr()
    assert f"1 id(s) listed more than once: {repeated}" in out.out + out.err
    config = get_config("ce2p_tiny_synthetic")
    config.data.root = str(root)
    with pytest.raises(DataError, match="lists 1 id"):
        build_dataset(config, "val", train=False)
    _duplicate_first_id(root, "train")
    with pytest.warns(UserWarning, match="drawn more often"):
        build_dataset(config, "train", train=True)


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_it_again(synthetic_lip, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("name: left by the killed run\n")
    (run / "log.jsonl").write_text('{"type": "train", "iteration": 1}\n')
    (run / "notes.txt").write_text("mine")  # not a run file: kept
    config = tiny_config(synthetic_lip, "train.epochs=1", "train.eval_interval=0")
    summary = Trainer(config, run, progress=False, resume=True).fit()
    assert summary["epochs"] == 1 and (run / "epoch_1.pth").is_file()
    assert "saved no checkpoint; starting it again" in capsys.readouterr().out
    assert (run / "notes.txt").read_text() == "mine"
    assert '{"type": "train", "iteration": 1}' not in (run / "log.jsonl").read_text().splitlines()
    assert "killed" not in (run / "config.yaml").read_text()


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
)
def test_a_full_disk_during_a_checkpoint_save_says_so_and_where(tmp_path, monkeypatch, failure):
    def full_disk(obj, stream, *args, **kwargs):
        stream.write(b"PK\x03\x04 partial")
        raise failure

    monkeypatch.setattr(checkpoint_io.torch, "save", full_disk)
    target = tmp_path / "epoch_3.pth"
    with pytest.raises(CheckpointError) as error:
        checkpoint_io.atomic_torch_save({"model": {"w": torch.zeros(1)}}, target)
    message = str(error.value)
    assert "no space left on device" in message.lower() and str(target) in message
    assert "enforce fail" not in message and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.crop_size=[100000,100000]", "data.crop_size=[100000, 100000]: must be at most 8192"),
        ("data.scale_range=[2,1]", "the first value must not exceed the second"),
        ("model.input_size=[9000,9000]", "must be at most 8192"),
    ],
)
def test_sizes_and_ranges_no_run_could_use_are_refused(override, message):
    with pytest.raises(ConfigError) as error:
        get_config("ce2p_tiny_synthetic").override([override])
    assert message in str(error.value)
