"""Photometric augmentations and CSENet's batch mixup."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from humanparse.data.transforms import mix_batch
from humanparse.data.transforms.photometric import (
    PassesGaussianBlur,
    augmentation_block,
    photometric_distortion,
)


def _image(seed=0, shape=(24, 32)):
    return np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)


def test_blur_with_three_passes_is_pillows_gaussian_blur_and_two_passes_differ():
    pil = Image.fromarray(_image())
    three = np.asarray(pil.filter(PassesGaussianBlur(2, 3)))
    np.testing.assert_array_equal(three, np.asarray(pil.filter(ImageFilter.GaussianBlur(2))))
    assert not np.array_equal(np.asarray(pil.filter(PassesGaussianBlur(2, 2))), three)


def test_augmentation_block_applies_one_choice_half_of_the_time():
    image = _image()
    outcomes = {"unchanged": 0, "gray": 0, "other": 0}
    for seed in range(60):
        out = augmentation_block(image, np.random.default_rng(seed), blur_passes=2)
        assert out.shape == image.shape and out.dtype == np.uint8
        if np.array_equal(out, image):
            outcomes["unchanged"] += 1
        elif (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all():
            outcomes["gray"] += 1
        else:
            outcomes["other"] += 1
    assert 18 <= outcomes["unchanged"] <= 42  # p = 0.5 of 60
    assert outcomes["gray"] > 0 and outcomes["other"] > 0


def test_photometric_distortion_keeps_shape_and_type_and_varies():
    image = _image(1)
    outs = [photometric_distortion(image, np.random.default_rng(s)) for s in range(10)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    assert len({o.tobytes() for o in outs}) > 5


def _batch(size=5):
    generator = torch.Generator().manual_seed(0)
    return {
        "image": torch.randn(size, 3, 4, 4, generator=generator),
        "label": torch.randint(0, 20, (size, 4, 4), generator=generator),
        "edge": torch.randint(0, 2, (size, 4, 4), generator=generator),
        "hgt": torch.rand(size, 20, 4, generator=generator),
        "wgt": torch.rand(size, 20, 4, generator=generator),
        "meta": {"id": [str(i) for i in range(size)]},
    }


def test_mix_batch_mixes_images_and_permutes_the_targets():
    batch = _batch()
    original = {k: v.clone() for k, v in batch.items() if torch.is_tensor(v)}
    mixed, permuted = mix_batch(batch, 0.7, torch.Generator().manual_seed(11))
    perm = torch.randperm(5, generator=torch.Generator().manual_seed(11))
    assert not torch.equal(perm, torch.arange(5))
    torch.testing.assert_close(mixed["image"], 0.7 * original["image"] + 0.3 * original["image"][perm])
    for key in ("label", "edge", "hgt", "wgt"):
        assert torch.equal(mixed[key], original[key])  # the mixed batch keeps its own targets
        assert torch.equal(permuted[key], original[key][perm])
        assert torch.equal(batch[key], original[key])
    assert torch.equal(batch["image"], original["image"])  # the input batch is not modified
    assert mixed["meta"] is batch["meta"]


def test_mix_batch_without_class_distribution_targets():
    batch = {k: v for k, v in _batch(3).items() if k not in ("hgt", "wgt")}
    _, permuted = mix_batch(batch, 0.5, torch.Generator().manual_seed(0))
    assert set(permuted) == {"label", "edge"}


@pytest.mark.parametrize("seed", [1, 2])
def test_mix_batch_is_reproducible(seed):
    first, _ = mix_batch(_batch(), 0.7, torch.Generator().manual_seed(seed))
    second, _ = mix_batch(_batch(), 0.7, torch.Generator().manual_seed(seed))
    assert torch.equal(first["image"], second["image"])


def test_batch_mixup_draws_with_its_own_streams_and_resumes_from_its_state():
    from humanparse.configs import get_config
    from humanparse.data.transforms import MIXUP_KEY, build_batch_augmentation

    config = get_config("csenet_resnet101_lip").override(["train.mixup_prob=0.5"])
    first, second = build_batch_augmentation(config), build_batch_augmentation(config)
    for _ in range(3):
        first(_batch())
    state = first.state_dict()
    second.load_state_dict(state)
    outcomes = [(first(_batch()), second(_batch())) for _ in range(8)]
    marked = [MIXUP_KEY in a for a, _ in outcomes]
    assert any(marked) and not all(marked)  # p = 0.5 both ways in 8 draws with this seed
    for a, b in outcomes:
        assert (MIXUP_KEY in a) == (MIXUP_KEY in b)
        assert torch.equal(a["image"], b["image"])
        if MIXUP_KEY in a:
            assert a[MIXUP_KEY]["lam"] == config.train.mixup_lambda
            assert torch.equal(a[MIXUP_KEY]["targets"]["label"], b[MIXUP_KEY]["targets"]["label"])
    assert build_batch_augmentation(config.override(["train.mixup_prob=0"])) is None
