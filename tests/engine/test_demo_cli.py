"""`humanparse demo --quick`: the tour through synth, train, test and predict, end to end."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from humanparse.cli import main as cli_main
from humanparse.cli.demo import SMOKE_TEST

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_quick_demo_tours_the_commands_and_writes_their_files(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli_main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert SMOKE_TEST in printed  # a quick run never shows its (meaningless) mIoU without saying why

    run = out / "run"
    for name in (
        "best.pth",
        "config.yaml",
        "latest.json",
        "log.jsonl",
        "train.log",
        "loss.png",
        "val_miou.png",
    ):
        assert (run / name).is_file(), name

    # `test`: the JSON report and its two charts; the printed mIoU is the report's
    report = json.loads((out / "test" / "report.json").read_text())
    assert {"mIoU", "pixel_acc", "mean_acc", "fwIoU", "per_class_iou", "confusion_matrix"} <= set(report)
    assert len(report["per_class_iou"]) == 20 and report["num_images"] == 4
    assert f"validation mIoU on synthetic people: {100 * report['mIoU']:.1f}%" in printed
    for chart in ("report_class_iou.png", "report_confusion.png"):
        assert (out / "test" / chart).read_bytes()[:8] == PNG_MAGIC, chart

    # `predict`: a palette label map at the photo's size, an overlay with its legend and two masks per image
    photos = sorted((out / "data" / "val_images").glob("*.jpg"))
    assert len(photos) == 4
    for photo in photos:
        height, width = cv2.imread(str(photo)).shape[:2]
        label = Image.open(out / "predict" / f"{photo.stem}.png")
        assert label.mode == "P" and label.size == (width, height)
        overlay = cv2.imread(str(out / "predict" / f"{photo.stem}_overlay.jpg"))
        overlay_height, overlay_width = overlay.shape[:2]
        assert overlay_height == height and overlay_width > width  # the legend stands beside the photo
        for mask in ("person", "upper"):
            values = np.unique(np.array(Image.open(out / "predict" / f"{photo.stem}_{mask}.png")))
            assert set(values.tolist()) <= {0, 255}
    assert "4 indexed palette label maps" in printed and "4 overlays" in printed and "4 masks" in printed

    panels = sorted((out / "panels").glob("*.png"))
    assert [p.stem for p in panels] == [p.stem for p in photos]
    for panel in panels:
        assert panel.read_bytes()[:8] == PNG_MAGIC
        assert str(panel) in printed

    # the closing screen names the commands it ran and the ones for the user's data and for serving
    for command in ("humanparse train ce2p_tiny_synthetic", "humanparse test", "humanparse predict"):
        assert command in printed
    assert f"humanparse serve {run / 'config.yaml'} {run / 'best.pth'}" in printed
