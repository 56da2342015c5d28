"""ConfusionMatrix against the live references' numbers (tests/fixtures/parity/metrics.npz)."""

from pathlib import Path

import numpy as np
import pytest
import torch

from humanparse.metrics import ConfusionMatrix

FIXTURE = Path(__file__).parent / "fixtures" / "parity" / "metrics.npz"


@pytest.fixture(scope="module")
def reference():
    data = np.load(FIXTURE)
    pairs = [(data[f"pred_{i}"], data[f"label_{i}"]) for i in range(int(data["num_images"]))]
    return data, pairs


def _matrix(data, pairs) -> ConfusionMatrix:
    matrix = ConfusionMatrix(int(data["num_classes"]))
    for pred, label in pairs:
        matrix.update(pred, label)
    return matrix


def test_confusion_matrix_matches_official(reference):
    data, pairs = reference
    np.testing.assert_array_equal(_matrix(data, pairs).matrix, data["confusion_matrix"])


def test_all_convention_matches_official_compute_mean_iou(reference):
    data, pairs = reference
    result = _matrix(data, pairs).compute("all")
    assert result["miou_over"] == "all"
    np.testing.assert_allclose(result["per_class_iou"], data["official_iou"], rtol=0, atol=1e-12)
    assert result["mIoU"] == pytest.approx(float(data["official_miou"]), abs=1e-12)
    assert result["pixel_acc"] == pytest.approx(float(data["official_pixel_acc"]), abs=1e-12)
    assert result["mean_acc"] == pytest.approx(float(data["official_mean_acc"]), abs=1e-12)


def test_present_convention_matches_ssseg_evaluation(reference):
    data, pairs = reference
    result = _matrix(data, pairs).compute("present")
    np.testing.assert_allclose(result["per_class_iou"], data["ssseg_iou"], rtol=0, atol=1e-12, equal_nan=True)
    assert np.isnan(result["per_class_iou"]).sum() == 3  # classes 17..19 appear nowhere
    assert result["mIoU"] == pytest.approx(float(data["ssseg_miou"]), abs=1e-12)
    assert result["pixel_acc"] == pytest.approx(float(data["ssseg_all_accuracy"]), abs=1e-12)
    assert result["mean_acc"] == pytest.approx(float(np.nanmean(data["ssseg_accuracy"])), abs=1e-12)
    assert result["mIoU"] != pytest.approx(_matrix(data, pairs).compute("all")["mIoU"])


def test_merge_and_tensor_inputs_equal_one_pass(reference):
    data, pairs = reference
    first, second = ConfusionMatrix(20), ConfusionMatrix(20)
    for index, (pred, label) in enumerate(pairs):
        target = first if index % 2 else second
        target.update(torch.from_numpy(pred.astype(np.int64)), torch.from_numpy(label.astype(np.int64)))
    np.testing.assert_array_equal(first.merge(second).matrix, data["confusion_matrix"])


def test_fw_iou_and_out_of_range_labels():
    matrix = ConfusionMatrix(3)
    label = np.array([[0, 0, 1, 255], [2, 7, 1, 1]])
    pred = np.array([[0, 1, 1, 0], [2, 2, 0, 1]])
    matrix.update(pred, label)
    assert matrix.matrix.sum() == 6  # 255 and 7 skipped
    result = matrix.compute("all")
    iou = np.array([1 / 3, 2 / 4, 1 / 1])
    frequency = np.array([2, 3, 1]) / 6
    assert result["fwIoU"] == pytest.approx(float((iou * frequency).sum()))
    with pytest.raises(ValueError):
        matrix.update(pred[:, :2], label)
    with pytest.raises(ValueError):
        matrix.compute("sometimes")
