"""Whole train pipelines against the references' own code, replaying the references' random draws.

tests/fixtures/parity/targets.npz holds the outputs of SSSegmentation 1.7.0's Compose (LIP and VOC variants) and
of tjpulkl/BSSGNet's LIPDataSet for seeds 0-7 (see the fixture README). The adapters below hand our transforms
the same numbers the references drew from numpy's legacy global RNG (and Python's `random` for the official
rotation and flip decisions), so every crop, flip, angle and colour change must match.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from humanparse.configs.schema import DataConfig
from humanparse.data.labels import get_label_set
from humanparse.data.transforms.affine import AffineTrainTransform
from humanparse.data.transforms.normalize import normalize_image
from humanparse.data.transforms.sssegmentation import SSSegTrainTransform

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "parity" / "targets.npz"


class LegacyDraws:
    """numpy-Generator-like adapter over `np.random.RandomState`, drawing as SSSegmentation does."""

    def __init__(self, seed: int) -> None:
        self.state = np.random.RandomState(seed)
        self.python = random.Random(seed)

    def random(self) -> float:
        return self.state.random_sample()

    def integers(self, low, high=None):
        return self.state.randint(low, high)

    def uniform(self, low, high):
        return self.state.uniform(low, high)


class OfficialDraws(LegacyDraws):
    """The official dataset draws the scale and angle from numpy, the two decisions from Python's `random`."""

    def random(self) -> float:
        return self.python.random()

    def standard_normal(self) -> float:
        return self.state.randn()


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURE)


def _sssegmentation(voc: bool) -> SSSegTrainTransform:
    if voc:
        data = DataConfig(
            "voc",
            pipeline="sssegmentation_voc",
            crop_size=(20, 20),
            resize_size=(64, 16),
            scale_range=(0.5, 2.0),
            rotation_degrees=0.0,
        )
        return SSSegTrainTransform(data, 21, ())
    data = DataConfig("lip", crop_size=(33, 33), resize_size=(40, 40))
    return SSSegTrainTransform(data, 20, get_label_set("lip").flip_pairs)


@pytest.mark.parametrize("variant", ["lip", "voc"])
def test_sssegmentation_pipeline_matches_sssegmentation(reference, variant):
    transform = _sssegmentation(variant == "voc")
    label = reference[f"pipe_{variant}_label"]
    flips = 0
    for seed in reference["pipe_seeds"]:
        out = transform(reference["pipe_image"].copy(), label.copy(), LegacyDraws(int(seed)))
        name = f"ssseg_{variant}"
        expected = reference[f"{name}_image_{seed}"]
        np.testing.assert_array_equal(out["image"].numpy(), expected)  # bit for bit, normalisation included
        np.testing.assert_array_equal(out["label"].numpy(), reference[f"{name}_label_{seed}"])
        np.testing.assert_array_equal(out["edge"].numpy(), reference[f"{name}_edge_{seed}"])
        flips += out["meta"]["flipped"]
    assert 0 < flips < len(reference["pipe_seeds"])  # both branches were compared


def test_affine_pipeline_matches_official_dataset(reference):
    data = DataConfig(
        "lip", pipeline="affine", crop_size=(33, 33), normalization="bgr_rgb_stats", class_distribution=True
    )
    transform = AffineTrainTransform(data, 20, get_label_set("lip").flip_pairs)
    rotated = flipped = 0
    for seed in reference["pipe_seeds"]:
        out = transform(
            reference["pipe_image"].copy(), reference["pipe_affine_label"].copy(), OfficialDraws(int(seed))
        )
        expected = normalize_image(reference[f"affine_image_{seed}"], "bgr_rgb_stats")
        np.testing.assert_array_equal(out["image"].numpy(), expected.numpy())
        np.testing.assert_array_equal(out["label"].numpy(), reference[f"affine_label_{seed}"])
        np.testing.assert_array_equal(out["edge"].numpy(), reference[f"affine_edge_{seed}"])
        np.testing.assert_array_equal(out["hgt"].numpy(), reference[f"affine_hgt_{seed}"])
        np.testing.assert_array_equal(out["wgt"].numpy(), reference[f"affine_wgt_{seed}"])
        assert out["meta"]["rotation"] == pytest.approx(
            float(reference[f"affine_rotation_{seed}"]), abs=1e-12
        )
        rotated += out["meta"]["rotation"] != 0
        flipped += out["meta"]["flipped"]
    assert rotated > 0 and flipped > 0
