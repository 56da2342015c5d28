"""predict, test, serve and quantize give the bytes the code before the inference-layer refactor gave.

The digests in tests/fixtures/identity/outputs.json were recorded from commit 2b87a68 with `identity_run.py`
(`quantize/int8.onnx` re-recorded on the segformer branch: its stored recipe gained ModelConfig.arch_options and
the TrainConfig optimizer fields, and again when the demo recipe moved to AdamW; the network and its values
are unchanged)
(masks: their pixels, since masks are now encoded as the label maps are). Floating-point results depend on the
CPU's instruction set and the library versions, so the digests hold for the machine that recorded them (the
project's CI machine); on another, re-record them from 2b87a68 before reading a failure as a regression.
The overlays' digests were re-recorded once since, for an intended change (issue 24: class boundaries drawn in
white); the other files are still those of 2b87a68.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("onnxruntime")

from identity_run import outputs  # noqa: E402

from humanparse.inference.backends import create_predictor  # noqa: E402

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "identity" / "outputs.json"


def test_outputs_are_those_of_the_code_before_the_refactor(tmp_path, monkeypatch):
    # the code before chose no kernels by timing; forced oneDNN is what it ran on these tiny networks (no layer
    # wide enough for Winograd), so a timing-dependent choice cannot change a digest
    monkeypatch.setenv("HUMANPARSE_KERNELS", "onednn")
    expected = json.loads(RECORDED.read_text())
    produced = outputs(tmp_path, lambda config, weights: create_predictor(config, weights))
    assert sorted(produced) == sorted(expected)
    changed = [name for name in expected if produced[name] != expected[name]]
    assert changed == []
