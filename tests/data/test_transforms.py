"""Train and validation transforms: label values and ignore preserved, shapes, padding, determinism, flips."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from humanparse.configs import get_config
from humanparse.data.labels import IGNORE_INDEX, get_label_set
from humanparse.data.transforms import build_train_transform, build_val_transform
from humanparse.data.transforms.common import flip_lookup, flip_pair
from humanparse.errors import ConfigError

LIP_PAIRS = get_label_set("lip").flip_pairs
PRESENT = (0, 2, 5, 13, 14, 17, 19)  # a class set with a flip pair member on each side
STAND_IN = 9  # absent from PRESENT and from every flip pair: marks where the ignore pixels were


def _small(name: str, **data_overrides):
    """A named recipe with small sizes, so many seeds run fast."""
    config = get_config(name)
    sizes = {"crop_size": (48, 48)}
    if config.data.pipeline == "sssegmentation":
        sizes["resize_size"] = (56, 56)
    elif config.data.pipeline == "sssegmentation_voc":
        sizes.update(resize_size=(100, 48), crop_size=(40, 40))
    sizes.update(data_overrides)
    config.data = dataclasses.replace(config.data, **sizes)
    config.eval = dataclasses.replace(config.eval, input_size=(40, 40), keep_ratio_size=(100, 48))
    return config


TRAIN_RECIPES = {
    "sssegmentation": "ce2p_resnet50os8_lip",
    "sssegmentation_voc": "ce2p_resnet50os8_voc",
    "affine_csenet": "csenet_resnet101_lip",
    "affine_schp": "schp_resnet101_lip",
}


def _image_and_label(seed: int, shape=(60, 52)):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    coarse = rng.choice(PRESENT, size=(shape[0] // 4 + 1, shape[1] // 4 + 1)).astype(np.uint8)
    label = np.kron(coarse, np.ones((4, 4), dtype=np.uint8))[: shape[0], : shape[1]]
    label[10:22, 8:30] = IGNORE_INDEX
    label[rng.random(shape) < 0.03] = IGNORE_INDEX
    return image, label


@pytest.mark.parametrize("pipeline", sorted(TRAIN_RECIPES))
def test_train_pipelines_only_move_labels_and_keep_ignore(pipeline):
    # the crop check is made label-blind (ratio > 1) so that both label maps get the same random draws
    config = _small(TRAIN_RECIPES[pipeline], one_category_max_ratio=1.01)
    transform = build_train_transform(config)
    swapped = {b for a, b in LIP_PAIRS if a in PRESENT} | {a for a, b in LIP_PAIRS if b in PRESENT}
    allowed = set(PRESENT) | swapped | {IGNORE_INDEX}
    seen_ignore = 0
    for seed in range(25):
        image, label = _image_and_label(seed)
        stand_in = np.where(label == IGNORE_INDEX, STAND_IN, label).astype(np.uint8)
        out = transform(image.copy(), label, np.random.default_rng(seed))
        twin = transform(image.copy(), stand_in, np.random.default_rng(seed))
        torch.testing.assert_close(out["image"], twin["image"], rtol=0, atol=0)  # same draws
        got, ref = out["label"].numpy(), twin["label"].numpy()
        assert set(np.unique(got)) <= allowed
        assert (got[ref == STAND_IN] == IGNORE_INDEX).all()  # ignore stays ignore
        moved = ref != STAND_IN
        np.testing.assert_array_equal(got[moved], ref[moved])  # everything else is the same pixel mapping
        seen_ignore += int((ref == STAND_IN).sum())
        assert set(np.unique(out["edge"].numpy())) <= {0, 1, IGNORE_INDEX}
    assert seen_ignore > 0


@pytest.mark.parametrize("pipeline", sorted(TRAIN_RECIPES))
def test_train_samples_have_the_contract_shapes_and_are_reproducible(pipeline):
    config = _small(TRAIN_RECIPES[pipeline])
    transform = build_train_transform(config)
    image, label = _image_and_label(0, shape=(70, 45))
    first = transform(image, label, np.random.default_rng(5))
    again = transform(image, label, np.random.default_rng(5))
    other = [transform(image, label, np.random.default_rng(s)) for s in range(6, 9)]
    crop = config.data.crop_size
    assert first["image"].shape == (3, *crop) and first["image"].dtype == torch.float32
    assert first["label"].shape == crop and first["label"].dtype == torch.int64
    assert first["edge"].shape == crop and first["edge"].dtype == torch.int64
    assert isinstance(first["meta"]["flipped"], bool)
    for key in ("image", "label", "edge"):
        torch.testing.assert_close(first[key], again[key], rtol=0, atol=0)
    assert any(not torch.equal(first["image"], o["image"]) for o in other)
    if config.data.class_distribution:
        assert first["hgt"].shape == (20, crop[0]) and first["wgt"].shape == (20, crop[1])
        assert first["hgt"].dtype == torch.float32
    else:
        assert "hgt" not in first and "wgt" not in first


def test_sssegmentation_pads_centred_with_zero_image_and_ignore_targets():
    config = _small("ce2p_resnet50os8_lip", resize_size=(30, 30), rotation_degrees=0.0)
    transform = build_train_transform(config)
    image, label = _image_and_label(1)
    label[label == IGNORE_INDEX] = 0
    for seed in range(8):
        out = transform(image, label, np.random.default_rng(seed))
        valid = out["label"].numpy() != IGNORE_INDEX
        rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
        height, width = len(rows), len(cols)
        assert height < 48 and width < 48  # the resized image (22..37 px) is smaller than the crop
        assert rows[0] == (48 - height) // 2 and cols[0] == (48 - width) // 2
        assert valid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()
        edge = out["edge"].numpy()
        assert (edge[~valid] == IGNORE_INDEX).all() and set(np.unique(edge[valid])) <= {0, 1}
        assert (out["image"].numpy()[:, ~valid] == 0).all()


def test_double_flip_with_swaps_is_the_identity_and_one_flip_swaps_sides():
    lookup = flip_lookup(20, LIP_PAIRS)
    image, label = _image_and_label(2)
    once_image, once_label = flip_pair(image, label, lookup)
    twice_image, twice_label = flip_pair(once_image, once_label, lookup)
    np.testing.assert_array_equal(twice_image, image)
    np.testing.assert_array_equal(twice_label, label)
    arm = np.zeros((4, 6), dtype=np.uint8)
    arm[:, :2] = 14  # a left arm on the image's left
    _, flipped = flip_pair(np.zeros((4, 6, 3), np.uint8), arm, lookup)
    assert (flipped[:, 4:] == 15).all() and (flipped[:, :4] == 0).all()
    assert lookup[IGNORE_INDEX] == IGNORE_INDEX


def test_affine_flip_draws_swap_the_label_sides():
    config = _small("schp_resnet101_lip", flip_prob=1.0, rotation_prob=0.0)
    label = np.zeros((60, 60), dtype=np.uint8)
    label[:, :20] = 14
    out = build_train_transform(config)(np.zeros((60, 60, 3), np.uint8), label, np.random.default_rng(0))
    values = out["label"].numpy()
    assert out["meta"]["flipped"] and 14 not in values and 15 in values
    assert (values[:, -5:][values[:, -5:] != IGNORE_INDEX] == 15).all()


def test_voc_flip_has_no_swaps():
    config = _small("ce2p_resnet50os8_voc", flip_prob=1.0, one_category_max_ratio=1.01)
    label = np.zeros((40, 40), dtype=np.uint8)
    label[:, :20] = 14
    label[:, 20:] = 15
    out = build_train_transform(config)(np.zeros((40, 40, 3), np.uint8), label, np.random.default_rng(0))
    values = out["label"].numpy()
    assert out["meta"]["flipped"]
    assert (values[:, -2:][values[:, -2:] != IGNORE_INDEX] == 14).all()  # mirrored, not swapped


@pytest.mark.parametrize("name", ["ce2p_resnet50os8_lip", "csenet_resnet101_lip"])
def test_val_transforms_give_the_input_size_and_keep_the_label(name):
    config = _small(name)
    transform = build_val_transform(config)
    image, label = _image_and_label(3, shape=(63, 50))
    out = transform(image, label)
    assert out["image"].shape == (3, 40, 40) and out["image"].dtype == torch.float32
    np.testing.assert_array_equal(out["label"].numpy(), label)
    assert out["label"].dtype == torch.int64
    assert out["meta"]["original_size"] == (63, 50)
    if config.eval.protocol == "affine":
        assert out["meta"]["center"] == [24.5, 31.0] and out["meta"]["scale"] == [62.0, 62.0]
        assert out["meta"]["input_size"] == (40, 40)
    assert "label" not in transform(image, None)


def test_voc_val_transform_keeps_the_aspect_ratio():
    config = get_config("ce2p_resnet50os8_voc")
    out = build_val_transform(config)(np.zeros((480, 640, 3), np.uint8), None)
    assert out["image"].shape == (3, 512, 683)  # short side 512, long side <= 2048


def test_normalisations_follow_each_reference():
    pixel = np.array([[[10, 20, 30]]], dtype=np.uint8)  # B, G, R
    from humanparse.data.transforms.normalize import normalize_image

    rgb = normalize_image(pixel, "rgb")[:, 0, 0].numpy()
    np.testing.assert_allclose(
        rgb, (np.array([30, 20, 10]) - [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375], rtol=1e-6
    )
    official = normalize_image(pixel, "bgr_rgb_stats")[:, 0, 0].numpy()
    np.testing.assert_allclose(
        official, (np.array([10, 20, 30]) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225], rtol=1e-6
    )
    schp = normalize_image(pixel, "bgr")[:, 0, 0].numpy()
    np.testing.assert_allclose(
        schp, (np.array([10, 20, 30]) / 255 - [0.406, 0.456, 0.485]) / [0.225, 0.224, 0.229], rtol=1e-6
    )


def test_bad_settings_raise_config_errors():
    config = get_config("ce2p_resnet50os8_lip")
    for field, value in (("pipeline", "mosaic"), ("normalization", "yuv"), ("class_distribution", True)):
        broken = dataclasses.replace(config, data=dataclasses.replace(config.data, **{field: value}))
        with pytest.raises(ConfigError):
            build_train_transform(broken)
    broken = dataclasses.replace(config, eval=dataclasses.replace(config.eval, protocol="sliding"))
    with pytest.raises(ConfigError, match="protocol"):
        build_val_transform(broken)


@pytest.mark.parametrize("name", ["ce2p_tiny_synthetic", "csenet_resnet101_lip"])
def test_datasets_with_these_transforms_collate_into_batches(tmp_path, name):
    from torch.utils.data import DataLoader

    from humanparse.data.datasets import build_dataset, collate_val
    from humanparse.data.synth import generate_dataset

    config = _small(name)
    config.data.root = str(generate_dataset("lip", tmp_path, 2, 1, size=(44, 36), seed=1))
    train = build_dataset(config, config.data.train_split, train=True)
    train.set_rng(np.random.default_rng(4))
    batch = next(iter(DataLoader(train, batch_size=2)))
    assert batch["image"].shape == (2, 3, 48, 48) and batch["label"].shape == (2, 48, 48)
    assert batch["edge"].shape == (2, 48, 48)
    assert batch["meta"]["flipped"].shape == (2,)
    assert ("hgt" in batch) == config.data.class_distribution
    val = build_dataset(config, config.data.val_split, train=False)
    (sample,) = next(iter(DataLoader(val, batch_size=1, collate_fn=collate_val)))
    assert sample["image"].shape == (3, 40, 40) and sample["label"].shape == (44, 36)
