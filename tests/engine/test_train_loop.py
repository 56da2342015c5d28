"""The training loop on real synthetic data: outputs, poly LR per iteration, resume equivalence, NaN stop."""

from __future__ import annotations

import json
import math

import pytest
import torch
from train_fixtures import make_synthetic_lip, tiny_config

from humanparse.cli import main as cli_main
from humanparse.engine import trainer as trainer_module
from humanparse.engine.optim import lr_at
from humanparse.engine.trainer import Trainer, TrainingDiverged

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synthetic_lip(tmp_path_factory):
    return make_synthetic_lip(tmp_path_factory.mktemp("synthetic_lip"))


def _records(work_dir, kind):
    lines = (work_dir / "log.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["type"] == kind]


def test_training_writes_checkpoints_logs_and_plots(synthetic_lip, tmp_path):
    config = tiny_config(synthetic_lip)
    run = tmp_path / "run"
    summary = Trainer(config, run, progress=False).fit()

    iterations = 2 * (8 // 2)  # 2 epochs of 8 images in batches of 2
    assert (summary["epochs"], summary["iterations"]) == (2, iterations)
    names = {p.name for p in run.iterdir()}
    expected = {
        "config.yaml",
        "log.jsonl",
        "train.log",
        "latest.json",
        "best.pth",
        "epoch_1.pth",
        "epoch_2.pth",
    }
    assert expected <= names
    for plot in ("loss.png", "lr.png", "val_miou.png"):
        assert (run / plot).read_bytes()[:8] == PNG_MAGIC

    train = _records(run, "train")
    assert [r["iteration"] for r in train] == list(range(1, iterations + 1))
    for record in train:  # the LR is set before each iteration, counting from 0
        # the recipe's own schedule (warm-up, then poly); lr_at itself is checked in test_train_schedule.py
        expected_lr = lr_at(config.train, record["iteration"] - 1, iterations)
        assert record["lr"] == pytest.approx(expected_lr, rel=1e-12)
        assert math.isfinite(record["loss"]) and {"loss_seg_stage1", "loss_seg_stage2", "loss_edge"} <= set(
            record
        )
    evals = _records(run, "eval")
    assert [r["epoch"] for r in evals] == [1, 2]
    assert all(0.0 <= r["mIoU"] <= 1.0 for r in evals)

    state = torch.load(run / "epoch_2.pth", weights_only=True)
    assert (state["epoch"], state["iteration"]) == (2, iterations)
    assert state["config"] == config.to_dict() and "humanparse_version" in state
    assert not any(key.startswith("module.") for key in state["model"])
    assert [h["epoch"] for h in state["history"]] == [1, 2] and "mIoU" in state["history"][-1]
    from humanparse.models.builder import build_model

    model = build_model(config)
    model.load_state_dict(state["model"])  # the bare network's keys, loadable as they are
    assert "train.log" in names and "iteration 8/8" in (run / "train.log").read_text()


def test_killed_run_resumes_with_identical_losses(synthetic_lip, tmp_path):
    # CSENet's recipe (affine pipeline, class-distribution targets, mixup) so that every random stream matters
    config = tiny_config(
        synthetic_lip,
        "model.arch=csenet",
        "model.backbone_stem=deep",
        "model.output_stride=16",
        "data.pipeline=affine",
        "data.normalization=bgr_rgb_stats",
        "data.class_distribution=true",
        "data.photometric_block=true",
        "train.loss=cdg",
        "train.align_corners=true",
        "train.mixup_prob=0.5",
        "train.eval_interval=0",
        "eval.protocol=affine",
    )
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    Trainer(config, straight, progress=False).fit()

    trainer = Trainer(config, killed, progress=False)
    original = trainer._train_iteration

    def die_in_epoch_two(batch, epoch):
        if trainer.iteration == 6:
            raise KeyboardInterrupt  # as if the process were killed half-way through epoch 2
        return original(batch, epoch)

    trainer._train_iteration = die_in_epoch_two
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert (
        len(_records(killed, "train")) == 6 and json.loads((killed / "latest.json").read_text())["epoch"] == 1
    )

    Trainer(config, killed, progress=False, resume=True).fit()
    expected, resumed = _records(straight, "train"), _records(killed, "train")
    assert [r["iteration"] for r in resumed] == list(range(1, 9))  # the killed run's extra lines were dropped
    assert any(r.get("mixup") for r in resumed[4:]) and not all(r.get("mixup") for r in resumed[4:])
    assert [r.get("mixup", False) for r in resumed] == [r.get("mixup", False) for r in expected]
    for a, b in zip(expected, resumed):
        for key in ("loss", "loss_parsing", "loss_edge", "loss_class_distribution", "lr"):
            assert b[key] == pytest.approx(a[key], rel=1e-6, abs=1e-7), (a["iteration"], key)
    final_a = torch.load(straight / "epoch_2.pth", weights_only=True)["model"]
    final_b = torch.load(killed / "epoch_2.pth", weights_only=True)["model"]
    for key in final_a:
        torch.testing.assert_close(final_b[key], final_a[key], rtol=1e-5, atol=1e-6)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(synthetic_lip, tmp_path, monkeypatch):
    real_build_loss = trainer_module.build_loss
    calls = {"n": 0}

    def build_poisoned_loss(config):
        loss_fn = real_build_loss(config)

        def poisoned(outputs, batch):
            losses = loss_fn(outputs, batch)
            calls["n"] += 1
            if calls["n"] == 6:  # epoch 2, its second iteration
                losses["loss_edge"] = losses["loss_edge"] * float("nan")
                losses["loss"] = losses["loss"] + losses["loss_edge"]
            return losses

        return poisoned

    monkeypatch.setattr(trainer_module, "build_loss", build_poisoned_loss)
    run = tmp_path / "run"
    trainer = Trainer(tiny_config(synthetic_lip), run, progress=False)
    with pytest.raises(TrainingDiverged, match=r"epoch 2, iteration 6 .*loss_edge=nan.*epoch_1.pth"):
        trainer.fit()
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())  # the bad step never ran
    assert not (run / "epoch_2.pth").exists()
    assert json.loads((run / "latest.json").read_text())["checkpoint"] == "epoch_1.pth"
    kept = torch.load(run / "epoch_1.pth", weights_only=True)
    assert kept["iteration"] == 4 and all(torch.isfinite(v.float()).all() for v in kept["model"].values())
    assert _records(run, "error")[0]["iteration"] == 6


def test_cli_refuses_an_existing_run_and_names_the_folder(synthetic_lip, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "epoch_3.pth").write_bytes(b"old")
    argv = ["train", "ce2p_tiny_synthetic", "--data-root", str(synthetic_lip), "--work-dir", str(run)]
    assert cli_main(argv) == 2
    error = capsys.readouterr().err
    assert f"work dir {run} is not empty" in error and "--overwrite" in error
    assert (run / "epoch_3.pth").read_bytes() == b"old"


def test_cli_trains_with_overrides_and_records_them(synthetic_lip, tmp_path, capsys):
    run = tmp_path / "cli_run"
    overrides = [
        "model.width=0.125",
        "model.stage_blocks=[1,1,1,1]",
        "data.crop_size=[64,64]",
        "data.resize_size=[72,72]",
        "data.num_workers=0",
        "eval.input_size=[64,64]",
        "train.batch_size=4",
    ]
    argv = ["train", "ce2p_tiny_synthetic", "--data-root", str(synthetic_lip), "--work-dir", str(run)]
    assert cli_main(argv + ["--epochs", "1", "--no-progress", "--set", *overrides]) == 0
    assert "trained 1 epochs (2 iterations)" in capsys.readouterr().out
    saved = torch.load(run / "epoch_1.pth", weights_only=True)
    assert saved["config"]["train"]["batch_size"] == 4 and saved["config"]["model"]["width"] == 0.125
    assert saved["config"]["data"]["root"] == str(synthetic_lip)
