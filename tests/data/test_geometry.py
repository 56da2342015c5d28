"""The official affine crop matrix and the inverse warps the evaluator uses."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from humanparse.data.geometry import (
    box_to_center_scale,
    get_affine_transform,
    image_center_scale,
    inverse_warp_labels,
    inverse_warp_logits,
)


@pytest.mark.parametrize("rot", [0.0, 17.5, -42.0])
def test_matrix_is_the_similarity_about_the_centre(rot):
    center, scale, size = np.array([150.5, 90.0]), np.array([240.0, 240.0]), (473, 473)
    matrix = get_affine_transform(center, scale, rot, size)
    expected = cv2.getRotationMatrix2D((150.5, 90.0), rot, 473 / 240.0)
    expected[:, 2] += [473 / 2 - 150.5, 473 / 2 - 90.0]
    np.testing.assert_allclose(matrix, expected, atol=1e-3)
    inverse = get_affine_transform(center, scale, rot, size, inv=True)
    np.testing.assert_allclose(
        np.vstack([inverse, [0, 0, 1]]) @ np.vstack([matrix, [0, 0, 1]]), np.eye(3), atol=1e-5
    )


def test_center_scale_of_the_whole_image_widens_to_the_crop_aspect():
    center, scale = image_center_scale(300, 400, (473, 473))
    np.testing.assert_array_equal(center, [149.5, 199.5])
    np.testing.assert_array_equal(scale, [399, 399])
    center, scale = box_to_center_scale(200, 50, 0.5)
    np.testing.assert_array_equal(center, [100, 25])
    np.testing.assert_array_equal(scale, [200, 400])
    assert center.dtype == scale.dtype == np.float32


def test_truncated_centre_shifts_the_inverse_by_half_a_pixel():
    # csenet.md section 7: w=300, h=400 gives an inverse translation of (-50.5, -0.5) instead of (-50, 0)
    center, scale = image_center_scale(300, 400, (473, 473))
    yy, xx = np.mgrid[0:473, 0:473].astype(np.float32)
    ramps = np.stack([xx, yy])  # each crop pixel holds its own coordinates
    exact = inverse_warp_logits(ramps, center, scale, (400, 300))
    truncated = inverse_warp_logits(ramps, center, scale, (400, 300), truncate_center=True)
    zoom = 473 / 399.0
    x = np.arange(300, dtype=np.float64)
    # the exact inverse maps the original column x to crop column zoom * (x - 149.5) + 236.5
    np.testing.assert_allclose(exact[0, 200, 5:-5], zoom * (x[5:-5] - 149.5) + 236.5, atol=0.05)
    shift = truncated[:, 5:-5, 5:-5] - exact[:, 5:-5, 5:-5]
    np.testing.assert_allclose(shift, 0.5 * zoom, atol=0.05)  # half an original pixel, in x and in y
    label = (xx // 2).astype(np.uint8)
    moved = inverse_warp_labels(label, center, scale, (400, 300), truncate_center=True).astype(float)
    still = inverse_warp_labels(label, center, scale, (400, 300)).astype(float)
    assert 0.15 < (moved - still)[:, 5:-5].mean() < 0.45  # the same half-pixel shift on a nearest warp


def _blocky_label(height, width, seed):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 20, size=(height // 10 + 1, width // 10 + 1)).astype(np.uint8)
    return np.kron(coarse, np.ones((10, 10), dtype=np.uint8))[:height, :width]


@pytest.mark.parametrize("size", [(61, 47), (40, 90)])
def test_forward_then_inverse_warp_restores_a_label_map(size):
    height, width = size
    label = _blocky_label(height, width, 3)
    center, scale = image_center_scale(width, height, (160, 160))
    matrix = get_affine_transform(center, scale, 0, (160, 160))
    warped = cv2.warpAffine(label, matrix, (160, 160), flags=cv2.INTER_NEAREST, borderValue=255)
    restored = inverse_warp_labels(warped, center, scale, (height, width))
    # pixels a block boundary is not next to must come back exactly
    interior = cv2.erode((_edges(label) == 0).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    # the last row/column maps just outside the crop (the official scale is the size - 1): a border
    interior[-1, :] = interior[:, -1] = False
    assert interior.mean() > 0.5
    np.testing.assert_array_equal(restored[interior], label[interior])
    assert (restored == label).mean() > 0.97


def _edges(label):
    return (np.diff(label, axis=0, prepend=label[:1]) != 0) | (
        np.diff(label, axis=1, prepend=label[:, :1]) != 0
    )


def test_inverse_warp_of_logits_restores_a_smooth_field_for_arrays_and_tensors():
    height, width = 50, 70
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    field = np.stack([xx / width, yy / height, np.sin(xx / 9) * np.cos(yy / 7)]).astype(np.float32)
    center, scale = image_center_scale(width, height, (128, 128))
    matrix = get_affine_transform(center, scale, 0, (128, 128))
    warped = np.stack([cv2.warpAffine(c, matrix, (128, 128), flags=cv2.INTER_LINEAR) for c in field])
    restored = inverse_warp_logits(warped, center, scale, (height, width))
    assert restored.shape == (3, height, width) and restored.dtype == np.float32
    assert np.abs(restored - field)[:, 2:-2, 2:-2].max() < 0.02
    as_tensor = inverse_warp_logits(torch.from_numpy(warped).double(), center, scale, (height, width))
    assert torch.is_tensor(as_tensor) and as_tensor.dtype == torch.float64
    np.testing.assert_allclose(as_tensor.numpy(), restored, atol=1e-6)
