"""The poly learning-rate schedule, the work-dir guard and the resume config check (no training involved)."""

from __future__ import annotations

import pytest

from humanparse.configs import get_config
from humanparse.engine.trainer import check_resumable, poly_lr, prepare_work_dir
from humanparse.errors import ConfigError


def test_poly_lr_matches_sssegmentation_formula():
    # SSSegmentation CE2P: base 0.01, min_lr 0.01 * base, power 0.9, max_iters 142,800 (spec ce2p.md section 4)
    assert poly_lr(0.01, 0, 142800, 0.9, 1e-4) == pytest.approx(0.01, rel=1e-12)
    assert poly_lr(0.01, 71400, 142800, 0.9, 1e-4) == pytest.approx(0.0099 * 0.5**0.9 + 1e-4, rel=1e-12)
    assert poly_lr(0.01, 142799, 142800, 0.9, 1e-4) == pytest.approx(
        0.0099 * (1 / 142800) ** 0.9 + 1e-4, rel=1e-12
    )
    # CSENet: no floor
    assert poly_lr(2.5e-3, 100, 400, 0.9) == pytest.approx(2.5e-3 * 0.75**0.9, rel=1e-12)


def test_new_run_refuses_a_non_empty_work_dir(tmp_path):
    run = tmp_path / "run"
    prepare_work_dir(run, resume=False, overwrite=False)  # created when missing
    assert run.is_dir()
    (run / "epoch_1.pth").write_bytes(b"x")
    (run / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=rf"work dir {run} is not empty .*--resume.*--overwrite"):
        prepare_work_dir(run, resume=False, overwrite=False)
    prepare_work_dir(run, resume=True, overwrite=False)  # resume accepts it and deletes nothing
    assert (run / "epoch_1.pth").exists()
    prepare_work_dir(run, resume=False, overwrite=True)  # overwrite removes the run's files, not the user's
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]


def test_resume_refuses_a_different_recipe_but_allows_more_epochs(tmp_path):
    saved = get_config("ce2p_tiny_synthetic").to_dict()
    longer = get_config("ce2p_tiny_synthetic").override(["train.epochs=40", "data.root=/elsewhere"])
    check_resumable(longer, saved, tmp_path / "epoch_3.pth")
    other_lr = get_config("ce2p_tiny_synthetic").override(["train.lr=0.5"])
    with pytest.raises(ConfigError, match=r"epoch_3.pth.*train.lr"):
        check_resumable(other_lr, saved, tmp_path / "epoch_3.pth")
