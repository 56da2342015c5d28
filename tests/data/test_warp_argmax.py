"""Labels from warped-back logits (SCHP's simple_extractor order) computed with fewer warps: always the same labels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from humanparse.data.geometry import (
    argmax_labels,
    image_center_scale,
    inverse_warp_argmax,
    inverse_warp_logits,
)

CROP = (61, 53)


def _logits(seed: int, classes: int = 20, present: int = 4) -> np.ndarray:
    """Smooth logits where only `present` classes ever lead, the others trailing by a random margin."""
    rng = np.random.default_rng(seed)
    logits = np.stack([cv2.GaussianBlur(rng.standard_normal(CROP), (0, 0), 3) * 8 for _ in range(classes)])
    leaders = rng.choice(classes, present, replace=False)
    trailing = np.setdiff1d(np.arange(classes), leaders)
    logits[trailing] -= rng.uniform(0.0, 1.5, (len(trailing), 1, 1))
    return logits.astype(np.float32)


def _reference(logits, center, scale, size, convention):
    return np.argmax(inverse_warp_logits(logits, center, scale, size, convention=convention), axis=0)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("present", [1, 4, 20])
@pytest.mark.parametrize("size, convention", [((97, 71), "size_minus_one"), ((40, 90), "size")])
def test_the_labels_equal_the_argmax_of_every_warped_channel(seed, present, size, convention):
    logits = _logits(seed, present=present)
    center, scale = image_center_scale(size[1], size[0], CROP)
    labels = inverse_warp_argmax(logits, center, scale, size, convention=convention)
    assert labels.dtype == np.uint8 and labels.shape == size
    np.testing.assert_array_equal(labels, _reference(logits, center, scale, size, convention))


def test_a_class_second_everywhere_that_wins_between_pixels_is_not_lost():
    # class 2 never leads on the crop, but between a class-0 pixel and a class-1 pixel it beats both
    logits = np.full((4, 2, 2), -10.0, dtype=np.float32)
    logits[0] = [[4.0, 0.0], [4.0, 0.0]]
    logits[1] = [[0.0, 4.0], [0.0, 4.0]]
    logits[2] = 3.0
    center, scale = image_center_scale(9, 5, (2, 2))
    labels = inverse_warp_argmax(logits, center, scale, (5, 9))
    np.testing.assert_array_equal(labels, _reference(logits, center, scale, (5, 9), "size"))
    assert 2 in labels


def test_ties_and_non_finite_logits_follow_numpy():
    logits = np.zeros((5, 8, 8), dtype=np.float32)  # every class tied everywhere: class 0
    center, scale = image_center_scale(11, 13, (8, 8))
    assert not inverse_warp_argmax(logits, center, scale, (13, 11)).any()
    logits[3, 2, 2] = np.nan
    np.testing.assert_array_equal(
        inverse_warp_argmax(logits, center, scale, (13, 11)),
        _reference(logits, center, scale, (13, 11), "size"),
    )


def test_blocked_argmax_equals_numpy():
    logits = np.random.default_rng(0).integers(0, 3, (7, 70, 33)).astype(np.float32)  # many ties
    np.testing.assert_array_equal(argmax_labels(logits, rows=16), np.argmax(logits, axis=0))
