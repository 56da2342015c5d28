"""Labels of logits resized to the photo (the resize protocols, one pass) computed from the classes that can win:
always the labels of resizing every class, and the predictor takes that path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from humanparse.inference.tta import TestTimeAugmentation, resize_argmax

HEAD = (37, 23)


def _logits(seed: int, classes: int = 18, present: int = 4) -> torch.Tensor:
    """Smooth logits where only `present` classes ever lead, the others trailing by a random margin."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, classes, 7, 5, generator=generator) * 8
    logits = F.interpolate(coarse, size=HEAD, mode="bicubic", align_corners=False)[0]
    leaders = torch.randperm(classes, generator=generator)[:present]
    trailing = torch.ones(classes, dtype=torch.bool)
    trailing[leaders] = False
    logits[trailing] -= torch.rand(int(trailing.sum()), 1, 1, generator=generator) * 1.5
    return logits


def _reference(logits: torch.Tensor, size) -> np.ndarray:
    resized = F.interpolate(logits[None], size=size, mode="bilinear", align_corners=False)[0]
    return resized.argmax(0).to(torch.uint8).numpy()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("present", [1, 4, 18])
@pytest.mark.parametrize("size", [(97, 71), (40, 90), (37, 23)])
def test_the_labels_equal_the_argmax_of_every_resized_class(seed, present, size):
    logits = _logits(seed, present=present)
    labels = resize_argmax(logits, size)
    assert labels.dtype == np.uint8 and labels.shape == size
    np.testing.assert_array_equal(labels, _reference(logits, size))
    # a channels_last view (the prepared SegFormer's logits) gives the same labels
    channels_last = logits[None].contiguous(memory_format=torch.channels_last)[0]
    np.testing.assert_array_equal(resize_argmax(channels_last, size), _reference(logits, size))


def test_a_class_second_everywhere_that_wins_between_pixels_is_not_lost():
    logits = torch.full((4, 2, 2), -10.0)
    logits[0] = torch.tensor([[4.0, 0.0], [4.0, 0.0]])
    logits[1] = torch.tensor([[0.0, 4.0], [0.0, 4.0]])
    logits[2] = 3.0
    labels = resize_argmax(logits, (5, 9))
    np.testing.assert_array_equal(labels, _reference(logits, (5, 9)))
    assert 2 in labels


def test_ties_and_non_finite_logits_follow_the_full_resize():
    logits = torch.zeros(5, 8, 8)  # every class tied everywhere: class 0
    assert not resize_argmax(logits, (13, 11)).any()
    logits[3, 2, 2] = float("nan")
    np.testing.assert_array_equal(resize_argmax(logits, (13, 11)), _reference(logits, (13, 11)))


def test_one_pass_labels_equal_those_of_the_resized_logits():
    weights = _logits(7)  # a "network" whose logits are fixed, at any input
    tta = TestTimeAugmentation(lambda images: weights.expand(images.shape[0], -1, -1, -1), "fashn_parser")
    metas = [{"original_size": (61, 45)}, {"original_size": (30, 80)}]
    images = torch.zeros(2, 3, 64, 64)
    labels, logits = tta.predict(images, metas)
    assert logits is None
    for label, meta in zip(labels, metas):
        np.testing.assert_array_equal(label, _reference(weights, meta["original_size"]))
    with_logits, saved = tta.predict(images, metas, with_logits=True)
    assert saved is not None
    for label, other in zip(labels, with_logits):
        np.testing.assert_array_equal(label, other)


def test_the_channel_argmax_is_torchs_with_ties_and_nan():
    from humanparse.inference.tta import channel_argmax

    generator = torch.Generator().manual_seed(5)
    logits = torch.round(torch.randn(20, 33, 41, generator=generator) * 2) / 2  # many ties
    logits[3, 4, 5] = float("nan")
    logits[7, 4, 5] = float("nan")  # the first NaN wins, as in torch and numpy
    expected = logits.argmax(0).to(torch.uint8).numpy()
    assert np.array_equal(channel_argmax(logits), expected)
    assert channel_argmax(logits)[4, 5] == 3
