"""`humanparse check-data`: every problem of a damaged dataset at once, exit 1; a clean one exits 0."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from humanparse.cli import main as cli_main
from humanparse.configs import get_config
from humanparse.data.check import check_split
from humanparse.data.synth import generate_dataset

SIZE = (40, 36)


@pytest.fixture()
def lip_root(tmp_path):
    return generate_dataset("lip", tmp_path / "lip", 6, 2, size=SIZE, seed=4)


def _check(root, *extra):
    return cli_main(["check-data", "ce2p_tiny_synthetic", "--data-root", str(root), "--no-progress", *extra])


def test_clean_dataset_passes(lip_root, capsys):
    assert _check(lip_root) == 0
    out = capsys.readouterr().out
    assert "check-data: OK" in out and "train: 6 samples" in out and "val: 2 samples" in out


def test_damaged_dataset_reports_every_problem(lip_root, capsys):
    images, labels = lip_root / "train_images", lip_root / "train_segmentations"
    truncated = images / "train_000000.jpg"
    truncated.write_bytes(truncated.read_bytes()[:300])
    missing = labels / "train_000001.png"
    missing.unlink()
    out_of_range = labels / "train_000002.png"
    cv2.imwrite(str(out_of_range), np.full(SIZE, 42, np.uint8))
    wrong_size = labels / "train_000003.png"
    cv2.imwrite(str(wrong_size), np.zeros((SIZE[0] // 2, SIZE[1]), np.uint8))
    colour = labels / "train_000004.png"
    cv2.imwrite(str(colour), np.zeros((*SIZE, 3), np.uint8))
    (lip_root / "val_id.txt").write_text("")

    assert _check(lip_root) == 1
    captured = capsys.readouterr()
    for path in (truncated, missing, out_of_range, wrong_size, colour):
        assert str(path) in captured.err, f"{path.name} not reported"
    assert "truncated" in captured.err and "not found" in captured.err and "42" in captured.err
    assert "channels" in captured.err and "sizes differ" in captured.err
    assert "[val] split 'val' is empty" in captured.err
    assert "6 problem(s)" in captured.out and "train: 6 samples, 5 problems" in captured.out


def test_only_the_chosen_splits_are_checked(lip_root, capsys):
    (lip_root / "val_images" / "val_000000.jpg").unlink()
    assert _check(lip_root, "--split", "train") == 0
    assert _check(lip_root, "--split", "val") == 1
    assert "val_000000.jpg" in capsys.readouterr().err


def test_missing_layout_is_one_problem_not_a_crash(tmp_path):
    config = get_config("ce2p_tiny_synthetic")
    config.data.root = str(tmp_path)
    report = check_split(config, "train")
    assert not report.ok and report.samples == 0 and "no id list" in report.problems[0]
