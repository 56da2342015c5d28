"""Test protocols and TTA: flip-swap symmetry, output sizes, the batched flip/scale passes, inverse warp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from eval_fixtures import AFFINE_RECIPE, RESIZE_RECIPE, tiny_config, tiny_model

from humanparse.data.geometry import get_affine_transform, image_center_scale
from humanparse.data.labels import get_label_set
from humanparse.inference.predictor import Predictor
from humanparse.inference.runtimes.torch_runtime import model_forward
from humanparse.inference.tta import (
    TestTimeAugmentation,
    affine_protocol_logits,
    resize_protocol_logits,
    unflip_logits,
)

LIP = get_label_set("lip")
PERM = LIP.flip_permutation()


@pytest.fixture(scope="module")
def resize_model():
    config = tiny_config(RESIZE_RECIPE)
    return config, tiny_model(config)


@pytest.fixture(scope="module")
def affine_model():
    config = tiny_config(AFFINE_RECIPE)
    return config, tiny_model(config)


def _symmetric_image(seed: int = 0) -> torch.Tensor:
    half = torch.randn(1, 3, 64, 32, generator=torch.Generator().manual_seed(seed))
    return torch.cat([half, half.flip(-1)], dim=-1)


def test_unflip_logits_swaps_pairs_and_mirrors():
    logits = torch.arange(20 * 2 * 3, dtype=torch.float32).reshape(1, 20, 2, 3)
    back = unflip_logits(logits, PERM)
    left, right = LIP.classes.index("left_arm"), LIP.classes.index("right_arm")
    assert torch.equal(back[0, left], logits[0, right].flip(-1))
    assert torch.equal(back[0, 0], logits[0, 0].flip(-1))
    assert torch.equal(unflip_logits(back, PERM), logits)


@pytest.mark.parametrize("protocol", ["resize", "affine"])
def test_flip_tta_on_symmetric_input_is_swap_symmetric(protocol, resize_model, affine_model):
    config, model = resize_model if protocol == "resize" else affine_model
    forward = model_forward(model)
    image = _symmetric_image()
    with torch.no_grad():
        plain = forward(image)
        if protocol == "resize":
            merged = resize_protocol_logits(forward, image, (64, 64), [1.0], PERM)
            plain = F.interpolate(plain, size=(64, 64), mode="bilinear", align_corners=False)
        else:
            merged = affine_protocol_logits(forward, image, [1.0], PERM)
            plain = F.interpolate(plain, size=(64, 64), mode="bilinear", align_corners=True)
    # the flipped pass of a mirror-symmetric image is the swapped, mirrored plain pass
    expected = (plain + unflip_logits(plain, PERM)) * 0.5
    # logits reach ~40; a batch of 2 and a batch of 1 differ by float32 noise (~1e-4)
    torch.testing.assert_close(merged, expected, atol=1e-3, rtol=1e-5)
    torch.testing.assert_close(unflip_logits(merged, PERM), merged, atol=1e-3, rtol=1e-5)
    # the random network itself is not symmetric, so the check above can fail
    assert (unflip_logits(plain, PERM) - plain).abs().max() > 0.1


def test_affine_tta_batches_flip_and_uses_floor_scaled_sizes(affine_model):
    config, model = affine_model
    seen = []

    def forward(images):
        seen.append(tuple(images.shape))
        return model(images)["seg"]

    tta = TestTimeAugmentation.from_config(forward, config)
    assert tta.protocol == "affine" and tta.scales == [0.75, 1.0, 1.25] and tta.flip
    logits = tta.logits(
        torch.zeros(1, 3, 64, 64), [{"original_size": (50, 37), "center": [18, 24.5], "scale": [49, 49]}]
    )
    assert seen == [(2, 3, 48, 48), (2, 3, 64, 64), (2, 3, 80, 80)]
    assert logits[0].shape == (20, 50, 37) and logits[0].dtype == np.float32


def test_resize_protocol_scale_one_is_logits_resized_to_original(resize_model):
    config, model = resize_model
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = F.interpolate(model(image)["seg"], size=(31, 52), mode="bilinear", align_corners=False)
    tta = TestTimeAugmentation(model_forward(model), "resize")
    (logits,) = tta.logits(image, [{"original_size": (31, 52)}])
    np.testing.assert_allclose(logits, expected[0].numpy(), atol=1e-6)
    (labels,) = tta.labels(image, [{"original_size": (31, 52)}])
    np.testing.assert_array_equal(labels, expected[0].argmax(0).numpy())


@pytest.mark.parametrize("recipe", [RESIZE_RECIPE, AFFINE_RECIPE])
def test_predictor_returns_maps_at_original_size(recipe):
    config = tiny_config(recipe, "eval.scales=[1.0, 0.75]", "eval.flip=true")
    predictor = Predictor(config, model=tiny_model(config))
    rng = np.random.default_rng(0)
    images = [
        rng.integers(0, 256, size=size + (3,), dtype=np.uint8) for size in [(37, 50), (40, 28), (33, 33)]
    ]
    labels, logits = predictor.predict_batch(images, with_logits=True)
    for image, label, logit in zip(images, labels, logits):
        assert label.shape == image.shape[:2] and label.dtype == np.uint8
        assert logit.shape == (20, *image.shape[:2]) and logit.dtype == np.float32
    assert predictor(images[1]).shape == (40, 28)
    np.testing.assert_array_equal(predictor(images[0]), labels[0])  # batching does not change a prediction


def _blocky_labels(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 20, size=(height // 12 + 1, width // 12 + 1), dtype=np.uint8)
    return np.kron(blocks, np.ones((12, 12), dtype=np.uint8))[:height, :width]


@pytest.mark.parametrize("size", [(45, 38), (48, 40), (30, 51)])
def test_affine_inverse_warp_round_trip(size):
    """A label map warped into the input like the val transform, scored as one-hot logits, comes back."""
    height, width = size
    labels = _blocky_labels(height, width, seed=height)
    center, scale = image_center_scale(width, height, (64, 64))
    matrix = get_affine_transform(center, scale, 0, (64, 64))
    warped = cv2.warpAffine(labels, matrix, (64, 64), flags=cv2.INTER_NEAREST, borderValue=0)
    one_hot = F.one_hot(torch.from_numpy(warped).long(), 20).permute(2, 0, 1)[None].float()

    tta = TestTimeAugmentation(lambda images: one_hot.expand(len(images), -1, -1, -1), "affine")
    meta = {"original_size": (height, width), "center": center, "scale": scale}
    (back,) = tta.labels(torch.zeros(1, 3, 64, 64), [meta])
    assert back.shape == (height, width)
    edges = (np.abs(np.diff(labels.astype(int), axis=0, prepend=labels[:1])) > 0) | (
        np.abs(np.diff(labels.astype(int), axis=1, prepend=labels[:, :1])) > 0
    )
    interior = ~cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    interior[:2], interior[-2:], interior[:, :2], interior[:, -2:] = False, False, False, False
    assert interior.sum() > 0.3 * labels.size
    np.testing.assert_array_equal(back[interior], labels[interior])
    assert (back == labels).mean() > 0.9
