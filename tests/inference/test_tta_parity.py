"""Both test protocols against the live references (tests/fixtures/parity/tta_affine.npz, tta_resize.npz).

The fixtures ran tjpulkl/BSSGNet's `valid` + `transform_parsing` (int32 centre) and SSSegmentation's
`auginference` + test.py's resize-and-mean, scales 0.75/1/1.25 + flip, on a fixed stride-4 convolution; the same
convolution here must give the same label maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from humanparse.data.labels import get_label_set
from humanparse.inference.tta import TestTimeAugmentation

FIXTURES = Path(__file__).parents[1] / "fixtures" / "parity"
SCALES = [0.75, 1.0, 1.25]


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURES / "tta_affine.npz")


def _conv(reference) -> torch.nn.Conv2d:
    conv = torch.nn.Conv2d(3, 20, kernel_size=5, stride=4, padding=2)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(reference["weight"]))
        conv.bias.copy_(torch.from_numpy(reference["bias"]))
    return conv


def _tta(reference, truncate_center: bool) -> TestTimeAugmentation:
    permutation = get_label_set("lip").flip_permutation()
    return TestTimeAugmentation(_conv(reference), "affine", SCALES, permutation, truncate_center)


def _inputs(reference, index: int):
    image = torch.from_numpy(reference[f"input_{index}"].astype(np.float32))[None]
    meta = {
        "center": reference[f"center_{index}"].tolist(),
        "scale": reference[f"scale_{index}"].tolist(),
        "original_size": tuple(int(v) for v in reference[f"original_size_{index}"]),
    }
    return image, meta


def test_affine_protocol_matches_official_multiscale_flip(reference):
    tta = _tta(reference, truncate_center=True)
    for index in range(int(reference["num_images"])):
        image, meta = _inputs(reference, index)
        (labels,) = tta.labels(image, [meta])
        np.testing.assert_array_equal(labels, reference[f"pred_{index}"])


def test_centre_truncation_matters_on_even_sizes(reference):
    tta = _tta(reference, truncate_center=False)
    image, meta = _inputs(reference, 1)  # 40 x 52: even, so the true centre has a .5 the reference drops
    (labels,) = tta.labels(image, [meta])
    assert not np.array_equal(labels, reference["pred_1"])


def test_resize_protocol_matches_ssseg_auginference():
    reference = np.load(FIXTURES / "tta_resize.npz")
    permutation = get_label_set("lip").flip_permutation()
    tta = TestTimeAugmentation(_conv(reference), "resize", SCALES, permutation)
    original_size = tuple(int(v) for v in reference["original_size"])
    images = torch.from_numpy(reference["images"].astype(np.float32))
    labels, logits = tta.predict(images, [{"original_size": original_size}] * 2, with_logits=True)
    for index in range(2):
        np.testing.assert_allclose(logits[index], reference[f"logits_{index}"], rtol=0, atol=1e-5)
        np.testing.assert_array_equal(labels[index], reference[f"pred_{index}"])
