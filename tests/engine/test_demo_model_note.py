"""Predicting with the demo's model (trained on synthetic people) says so, once, and points to the zoo."""

from __future__ import annotations

import numpy as np
from eval_fixtures import RESIZE_RECIPE, cli_settings, save_checkpoint, tiny_config
from PIL import Image

from humanparse.cli import main, options


def test_predict_with_the_demo_model_notes_it_once(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(options, "_noted", set())
    assert RESIZE_RECIPE == options.DEMO_RECIPE
    weights = save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path / "demo.pth")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.full((40, 30, 3), 90, np.uint8)).save(photos / "grace.jpg")
    argv = ["predict", RESIZE_RECIPE, str(weights), str(photos), "--no-progress", *cli_settings()]
    assert main(argv[:4] + ["--out", str(tmp_path / "a")] + argv[4:]) == 0
    err = capsys.readouterr().err
    assert err.count("trained on synthetic (drawn) people only") == 1 and "`humanparse models`" in err
    assert main(argv[:4] + ["--out", str(tmp_path / "b")] + argv[4:]) == 0
    assert "synthetic" not in capsys.readouterr().err  # once per process


def test_other_models_get_no_note(monkeypatch, capsys):
    monkeypatch.setattr(options, "_noted", set())
    assert not options.note_demo_model("schp_resnet101_lip")
    assert options.note_demo_model(options.DEMO_RECIPE) and not options.note_demo_model(options.DEMO_RECIPE)
    assert capsys.readouterr().err.count("note: ce2p_tiny_synthetic") == 1
