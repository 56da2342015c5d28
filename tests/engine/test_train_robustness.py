"""The training run against kills, full disks, bad data, diverging weights and wrong options: a resumed run ends
with the files an uninterrupted one has, and every failure is one line naming what to fix."""

from __future__ import annotations

import errno
import json
import shutil
from datetime import timedelta

import pytest
import torch
from train_fixtures import make_synthetic_lip, tiny_config

import humanparse.engine.trainer as trainer_module
from humanparse.cli import main as cli_main
from humanparse.engine import checkpoint as ckpt
from humanparse.engine import distributed, evaluator
from humanparse.engine.trainer import Trainer, TrainingDiverged
from humanparse.errors import ConfigError, DataError

CLI_SHRINK = [
    "model.width=0.125",
    "model.stage_blocks=[1,1,1,1]",
    "data.crop_size=[64,64]",
    "data.resize_size=[72,72]",
    "data.num_workers=0",
    "eval.input_size=[64,64]",
    "train.batch_size=4",
]


@pytest.fixture(scope="module")
def synthetic_lip(tmp_path_factory):
    return make_synthetic_lip(tmp_path_factory.mktemp("synthetic_lip"))


@pytest.fixture
def improving_evaluation(monkeypatch):
    """Validation that improves every time it runs, so every epoch is the best so far."""
    calls = {"n": 0}

    def fake_evaluate(model, config, dataset, **options):
        calls["n"] += 1
        return {"mIoU": 0.1 * calls["n"], "pixel_acc": 0.5}

    monkeypatch.setattr(evaluator, "evaluate", fake_evaluate)
    return calls


def _held_epoch(path) -> int:
    return torch.load(path, weights_only=True)["epoch"]


def test_constructor_has_no_side_effects(synthetic_lip, tmp_path):
    new = tmp_path / "new"
    Trainer(tiny_config(synthetic_lip), new, progress=False)
    assert not new.exists()
    old = tmp_path / "old"
    old.mkdir()
    (old / "epoch_1.pth").write_bytes(b"kept")
    trainer = Trainer(tiny_config(synthetic_lip), old, overwrite=True)
    assert (old / "epoch_1.pth").read_bytes() == b"kept" and trainer.context is None and trainer.model is None


# ---------------------------------------------------------------- item 1: best.pth survives a kill
def test_kill_while_copying_best_is_redone_on_resume(
    synthetic_lip, tmp_path, monkeypatch, improving_evaluation
):
    config = tiny_config(synthetic_lip)
    run = tmp_path / "run"
    real_copy = ckpt.atomic_copy

    def killed_at_epoch_two(source, destination):
        if source.name == "epoch_2.pth":
            raise KeyboardInterrupt  # the process dies while best.pth is being written
        return real_copy(source, destination)

    monkeypatch.setattr(ckpt, "atomic_copy", killed_at_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        Trainer(config, run, progress=False, keep_checkpoints=1).fit()
    monkeypatch.setattr(ckpt, "atomic_copy", real_copy)

    Trainer(config, run, progress=False, keep_checkpoints=1, resume=True).fit()
    assert sorted(p.name for p in run.glob("epoch_*.pth")) == ["epoch_2.pth"]
    assert _held_epoch(run / "best.pth") == 2  # what an uninterrupted run ends with
    assert json.loads((run / "latest.json").read_text())["epoch"] == 2


def test_resume_rewrites_a_stale_best_and_removes_temporary_files(
    synthetic_lip, tmp_path, improving_evaluation
):
    config = tiny_config(synthetic_lip)
    run = tmp_path / "run"
    Trainer(config, run, progress=False).fit()
    # what an interrupted save of an older version left: best.pth one epoch behind, half-written temporaries
    shutil.copyfile(run / "epoch_1.pth", run / "best.pth")
    (run / ".epoch_3.pth.x1y2.tmp").write_bytes(b"partial")
    (run / ".best.pth.z3.tmp").write_bytes(b"partial")
    (run / "notes.tmp").write_text("the user's")

    Trainer(config, run, progress=False, resume=True).fit()
    assert _held_epoch(run / "best.pth") == 2
    assert not list(run.glob(".*.tmp")) and (run / "notes.tmp").exists()
    assert "best.pth rewritten from epoch_2.pth" in (run / "train.log").read_text()


# ---------------------------------------------------------------- item 3: --resume never destroys a run
def test_resume_without_pointer_continues_from_the_newest_readable_epoch(
    synthetic_lip, tmp_path, improving_evaluation
):
    run = tmp_path / "run"
    Trainer(tiny_config(synthetic_lip), run, progress=False).fit()
    first_lines = (run / "log.jsonl").read_text().splitlines()[:4]
    (run / "latest.json").unlink()
    (run / "epoch_2.pth").write_bytes(b"cut short")  # damaged: epoch 1 is the newest readable one

    summary = Trainer(tiny_config(synthetic_lip, "train.epochs=3"), run, progress=False, resume=True).fit()
    assert (summary["epochs"], summary["iterations"]) == (3, 12)
    assert "resuming from epoch_1.pth (epoch 1)" in (run / "train.log").read_text()
    lines = (run / "log.jsonl").read_text().splitlines()
    assert lines[:4] == first_lines  # epoch 1's records were kept, not rewritten
    assert [json.loads(line)["iteration"] for line in lines if '"train"' in line] == list(range(1, 13))


def test_resume_in_a_run_without_a_readable_checkpoint_stops_and_keeps_it(synthetic_lip, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"type": "train", "iteration": 1}\n')
    (run / "epoch_1.pth").write_bytes(b"garbage")
    argv = ["train", "ce2p_tiny_synthetic", "--data-root", str(synthetic_lip), "--work-dir", str(run)]
    with pytest.raises(ConfigError, match=rf"{run} holds a run .*no readable checkpoint"):
        Trainer(tiny_config(synthetic_lip), run, progress=False, resume=True).fit()
    assert cli_main(argv + ["--resume", "--no-progress"]) == 2
    assert (run / "log.jsonl").read_text() == '{"type": "train", "iteration": 1}\n'
    assert (run / "epoch_1.pth").read_bytes() == b"garbage"


def test_resume_in_an_empty_folder_says_so_and_starts_a_new_run(synthetic_lip, tmp_path, capsys):
    run = tmp_path / "fresh"
    summary = Trainer(
        tiny_config(synthetic_lip, "train.epochs=1", "train.eval_interval=0"),
        run,
        progress=False,
        resume=True,
    ).fit()
    assert summary["epochs"] == 1 and (run / "epoch_1.pth").is_file()
    assert f"nothing to resume in {run}: starting a new run" in capsys.readouterr().out


# ---------------------------------------------------------------- item 4: non-finite weights are never saved
def test_infinite_running_var_stops_the_run_and_keeps_the_good_checkpoint(
    synthetic_lip, tmp_path, monkeypatch
):
    real_build_model = trainer_module.build_model
    calls = {"n": 0}

    def build_overflowing_model(config):
        model = real_build_model(config)
        norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))

        def overflow(module, inputs, output):
            if module.training:
                calls["n"] += 1
                if (
                    calls["n"] == 6
                ):  # epoch 2: running_var overflows, the loss (batch statistics) stays finite
                    module.running_var.data.fill_(float("inf"))  # .data: autograd saved this tensor

        norm.register_forward_hook(overflow)
        return model

    monkeypatch.setattr(trainer_module, "build_model", build_overflowing_model)
    run = tmp_path / "run"
    with pytest.raises(
        TrainingDiverged, match=r"not finite after epoch 2, iteration 8 \(.*running_var.*epoch_1.pth"
    ):
        Trainer(tiny_config(synthetic_lip), run, progress=False).fit()
    assert not (run / "epoch_2.pth").exists()
    assert json.loads((run / "latest.json").read_text())["checkpoint"] == "epoch_1.pth"
    assert _held_epoch(run / "best.pth") == 1
    kept = torch.load(run / "epoch_1.pth", weights_only=True)["model"]
    assert all(torch.isfinite(value.float()).all() for value in kept.values())


# ---------------------------------------------------------------- item 5: bad data in a worker process
def test_bad_image_seen_in_a_worker_is_our_one_line_data_error(synthetic_lip, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(synthetic_lip, data)
    broken = sorted((data / "train_images").iterdir())[3]
    broken.write_bytes(broken.read_bytes()[: len(broken.read_bytes()) // 2])  # a truncated JPEG
    config = tiny_config(data, "data.num_workers=2")
    with pytest.raises(DataError) as caught:
        Trainer(config, tmp_path / "run", progress=False).fit()
    message = str(caught.value)
    assert "\n" not in message and "Caught" not in message and str(broken) in message
    assert message.startswith("image is truncated")


# ---------------------------------------------------------------- item 6: a full disk
def test_full_disk_while_saving_is_a_one_line_cli_error_without_temporaries(
    synthetic_lip, tmp_path, monkeypatch, capsys
):
    def full_disk(obj, stream, *args, **kwargs):
        stream.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    run = tmp_path / "run"
    argv = ["train", "ce2p_tiny_synthetic", "--data-root", str(synthetic_lip), "--work-dir", str(run)]
    assert (
        cli_main(argv + ["--epochs", "1", "--eval-interval", "0", "--no-progress", "--set", *CLI_SHRINK]) == 2
    )
    error = capsys.readouterr().err.strip()
    assert error == f"humanparse train: error: cannot write {run / 'epoch_1.pth'}: No space left on device"
    assert not list(run.glob(".*.tmp")) and not list(run.glob("*.pth")) and not (run / "latest.json").exists()


# ---------------------------------------------------------------- item 7: options that would train nothing
@pytest.mark.parametrize(
    "option, value",
    [("--epochs", "0"), ("--epochs", "-1"), ("--eval-interval", "-1"), ("--keep-checkpoints", "0")],
)
def test_cli_refuses_options_that_make_no_sense(synthetic_lip, tmp_path, capsys, option, value):
    run = tmp_path / "run"
    argv = ["train", "ce2p_tiny_synthetic", "--data-root", str(synthetic_lip), "--work-dir", str(run)]
    assert cli_main(argv + [option, value]) == 2
    error = capsys.readouterr().err
    assert f"error: {option} {value}:" in error and error.count("\n") == 1
    assert not run.exists()


# ---------------------------------------------------------------- item 8: one closing line under DDP
def test_cli_prints_the_closing_line_on_rank_zero_only(synthetic_lip, tmp_path, monkeypatch, capsys):
    class SecondRank:  # what fit() leaves on rank 1; cleanup() makes every process read as rank 0 afterwards
        is_main = False

        def __init__(self, config, work_dir, **options):
            pass

        def fit(self):
            return {"epochs": 1, "iterations": 2, "history": [], "best_mIoU": None, "work_dir": "x"}

    monkeypatch.setattr(trainer_module, "Trainer", SecondRank)
    argv = ["train", "ce2p_tiny_synthetic", "--data-root", str(synthetic_lip), "--work-dir", str(tmp_path)]
    assert cli_main(argv) == 0
    assert "trained" not in capsys.readouterr().out


# ---------------------------------------------------------------- item 9: a frozen rank
def test_process_group_waits_the_configured_timeout(monkeypatch):
    seen = {}
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda **options: seen.update(options))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.delenv(distributed.TIMEOUT_VARIABLE, raising=False)
    distributed.init_distributed("cpu")
    assert seen["timeout"] == timedelta(minutes=10) and (seen["rank"], seen["world_size"]) == (1, 2)
    monkeypatch.setenv(distributed.TIMEOUT_VARIABLE, "42")
    distributed.init_distributed("cpu")
    assert seen["timeout"] == timedelta(seconds=42)
    monkeypatch.setenv(distributed.TIMEOUT_VARIABLE, "soon")
    with pytest.raises(ConfigError, match="HUMANPARSE_DDP_TIMEOUT_S='soon'"):
        distributed.init_distributed("cpu")
