"""`predict --engine ray`'s sink writes a row's outputs (label map, masks, overlay with legend, logits) with the
bytes the local pipeline's OutputSpec.write gives, and passes failures on; no Ray cluster is started."""

from __future__ import annotations

import numpy as np
import pytest

from humanparse.data.labels import get_label_set
from humanparse.inference.masks import MaskSpec
from humanparse.inference.pipeline import OutputSpec
from humanparse.inference.prediction_io import PhotoItem

pytest.importorskip("ray", reason="needs the [ray] extra")


def _files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_sink_writes_the_local_outputs(tmp_path):
    from ray.data.block import BlockAccessor

    from humanparse.integrations.ray import PredictionSink, _objects

    rng = np.random.default_rng(0)
    labels = [rng.integers(0, 20, (30, 40), dtype=np.uint8), rng.integers(0, 20, (25, 33), dtype=np.uint8)]
    photos = [rng.integers(0, 255, label.shape + (3,), dtype=np.uint8) for label in labels]
    logits = [rng.standard_normal((20, *label.shape)).astype(np.float32) for label in labels]
    batch = {
        "relative": np.array(["a/x", "y", "b/bad"], dtype=object),
        "source": np.array(["s/a/x.jpg", "s/y.jpg", "s/b/bad.jpg"], dtype=object),
        "error": np.array(["", "", "s/b/bad.jpg: truncated"], dtype=object),
        "labels": _objects([*labels, np.zeros((0, 0), np.uint8)]),
        "photo": _objects([*photos, np.zeros((0, 0, 3), np.uint8)]),
        "logits": _objects([*logits, np.zeros((0, 0, 0), np.float32)]),
    }
    spec = OutputSpec(
        overlay=True, legend=True, logits=True, logits_dtype="float32", logits_layout="hwk",
        class_names=tuple(get_label_set("lip").classes), masks=(MaskSpec("m", (1, 2)),),
    )  # fmt: skip
    sink = PredictionSink(tmp_path / "ray", spec)
    result = sink.write([BlockAccessor.batch_to_block(batch)], None)
    assert result == {"done": 2, "failed": [{"path": "s/b/bad.jpg", "error": "s/b/bad.jpg: truncated"}]}
    for index, relative in enumerate(["a/x", "y"]):
        spec.write(tmp_path / "local", PhotoItem("s", relative), labels[index], logits[index], photos[index])
    written = _files(tmp_path / "ray")
    assert sorted(written) == ["a/x.png", "a/x_logits.npy", "a/x_m.png", "a/x_overlay.jpg", "y.png",
                               "y_logits.npy", "y_m.png", "y_overlay.jpg"]  # fmt: skip
    assert written == _files(tmp_path / "local")
