"""`humanparse demo --quick`: synthesise, train, evaluate and draw predictions, end to end."""

from __future__ import annotations

import json

import pytest

from humanparse.cli import main as cli_main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quick_demo_runs_end_to_end_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "validation mIoU on synthetic people:" in printed

    run = out / "run"
    for name in ("best.pth", "latest.json", "log.jsonl", "train.log", "loss.png", "lr.png", "val_miou.png"):
        assert (run / name).is_file(), name
    evals = [r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if r["type"] == "eval"]
    assert len(evals) == 1 and 0.0 <= evals[0]["mIoU"] <= 1.0
    assert f"{100 * evals[0]['mIoU']:.1f}%" in printed  # the printed number is the evaluated one

    pictures = sorted((out / "predictions").glob("*.png"))
    assert len(pictures) == 4
    for picture in pictures:
        assert picture.read_bytes()[:8] == PNG_MAGIC
        assert str(picture) in printed
