"""The reduced-precision check of benchmarks/ compares the same trained model in two precisions."""

from __future__ import annotations

import sys
from pathlib import Path

from eval_fixtures import RESIZE_RECIPE, make_lip_split, save_checkpoint, tiny_config

sys.path.append(str(Path(__file__).resolve().parents[2] / "benchmarks"))  # benchlib is not in the package

from benchlib.precision import precision_agreement  # noqa: E402


def test_fp32_against_itself_agrees_exactly_and_bf16_close(tmp_path):
    data_root = make_lip_split(tmp_path / "data", val=2)
    checkpoint = save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path / "tiny.pth")
    same = precision_agreement(str(checkpoint), str(data_root), precision="fp32", limit=2)
    assert same.images == 2 and same.argmax_agreement == 1.0 and same.relative_error == 0.0
    reduced = precision_agreement(str(checkpoint), str(data_root), precision="bf16", limit=2)
    assert 0.0 < reduced.relative_error < 0.1  # bf16 really ran, and stayed close
    assert reduced.verdict in ("PASS", "MISS") and "bf16 vs fp32 on 2 validation images" in str(reduced)
