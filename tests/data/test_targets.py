"""Edge and class-distribution targets: exact parity with the reference functions, and their rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humanparse.data.targets import (
    class_distribution_targets,
    edge_targets_official,
    edge_targets_sssegmentation,
)
from humanparse.errors import DataError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "parity" / "targets.npz"


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURE)


def _cases(reference):
    return range(int(reference["count"]))


def test_sssegmentation_edges_equal_edge_extractor(reference):
    for i in _cases(reference):
        ours = edge_targets_sssegmentation(reference[f"label_{i}"])
        assert ours.dtype == np.uint8
        np.testing.assert_array_equal(ours, reference[f"ssseg_edge_{i}"])


def test_official_edges_equal_generate_edge(reference):
    for i in _cases(reference):
        np.testing.assert_array_equal(
            edge_targets_official(reference[f"label_{i}"]), reference[f"official_edge_{i}"]
        )


def test_class_distributions_equal_generate_hw_gt_bit_for_bit(reference):
    for i in _cases(reference):
        hgt, wgt = class_distribution_targets(reference[f"label_{i}"], 20)
        assert hgt.dtype == wgt.dtype == np.float32
        np.testing.assert_array_equal(hgt, reference[f"hgt_{i}"])
        np.testing.assert_array_equal(wgt, reference[f"wgt_{i}"])


def test_fixture_labels_exercise_ignore_and_edges(reference):
    # the parity above means something only if the labels hold ignore pixels and both edge values
    label, edge = reference["label_0"], reference["ssseg_edge_0"]
    assert (label == 255).any() and 0.2 < edge.mean() < 0.9


def test_straight_boundary_gives_a_four_pixel_band():
    label = np.zeros((10, 12), dtype=np.uint8)
    label[:, 6:] = 3
    edge = edge_targets_sssegmentation(label)
    # raw marks: column 5 (left pixel of the pair) and column 6 (the anti-diagonal's upper-right pixel);
    # dilation widens the two-pixel band to columns 4..7
    np.testing.assert_array_equal(np.flatnonzero(edge[4]), [4, 5, 6, 7])
    label = np.zeros((12, 10), dtype=np.uint8)
    label[6:, :] = 3
    # vertical pairs mark the lower pixel (row 6), the diagonals the upper one (row 5): rows 4..7 after dilation
    np.testing.assert_array_equal(np.flatnonzero(edge_targets_official(label)[:, 4]), [4, 5, 6, 7])


def test_ignore_pairs_are_not_marked_but_dilation_spills_into_ignore():
    label = np.zeros((9, 9), dtype=np.uint8)
    label[:, 5:] = 255
    assert not edge_targets_official(label).any()  # a class next to ignore is no edge
    label[:, :2] = 4
    edge = edge_targets_sssegmentation(label)
    assert edge[:, 0:3].all() and not edge[:, 4:].any()
    label = np.zeros((9, 9), dtype=np.uint8)
    label[:, 4] = 7
    label[:, 5:] = 255
    assert edge_targets_sssegmentation(label)[:, 5].all()  # spilled from the 0|7 boundary at column 3


def test_sssegmentation_ignore_value_is_a_parameter():
    label = np.zeros((6, 6), dtype=np.uint8)
    label[:, 3:] = 9
    assert edge_targets_sssegmentation(label, ignore=9).sum() == 0
    assert edge_targets_sssegmentation(label, ignore=255).sum() > 0


def test_class_distribution_rules():
    label = np.full((4, 5), 255, dtype=np.uint8)
    label[1, 1:4] = 2
    label[2, 2] = 2
    label[3, 0] = 0
    hgt, wgt = class_distribution_targets(label, 4)
    assert hgt.shape == (4, 4) and wgt.shape == (4, 5)
    assert not hgt[0].any() and not wgt[0].any()  # background (and ignore) rows are zeroed
    assert not hgt[1].any() and not hgt[3].any()  # absent classes stay zero
    np.testing.assert_allclose(hgt[2], [0, 1, 1 / 3, 0], rtol=1e-5)
    np.testing.assert_allclose(wgt[2], [0, 0.5, 1, 0.5, 0], rtol=1e-5)


def test_class_distribution_rejects_values_outside_the_classes():
    with pytest.raises(DataError, match="outside"):
        class_distribution_targets(np.array([[0, 20]], dtype=np.uint8), 20)
