"""Dataset readers on synthetic data written in every real layout, and their errors on bad datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from humanparse.configs import get_config
from humanparse.data.datasets import build_dataset, collate_val
from humanparse.data.labels import IGNORE_INDEX, get_label_set
from humanparse.data.synth import generate_dataset
from humanparse.errors import ConfigError, DataError

SIZE = (40, 36)
TRAIN, VAL = 3, 2

# synth layout -> (DataConfig.dataset, train split, val split, number of classes, flip pairs)
LAYOUTS = {
    "lip": ("lip", "train", "val", 20, ((14, 15), (16, 17), (18, 19))),
    "cihp": ("cihp", "train", "val", 20, ((14, 15), (16, 17), (18, 19))),
    "atr": ("atr", "train", "val", 18, ((9, 10), (12, 13), (14, 15))),
    "voc": ("voc", "trainaug", "val", 21, ()),
    "ppp": ("pascal_person_part", "train", "val", 7, ()),
    "folder": ("folder", "train", "val", 20, ((14, 15), (16, 17), (18, 19))),
}


def train_stand_in(image, label, rng):
    """A trivial train transform that records the generator it was given."""
    return {
        "image": torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32)),
        "label": torch.from_numpy(label.astype(np.int64)),
        "meta": {"flipped": False, "draw": float(rng.random())},
    }


def val_stand_in(image, label):
    sample = {"image": torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32)), "meta": {}}
    if label is not None:
        sample["label"] = torch.from_numpy(label.astype(np.int64))
    return sample


def config_for(dataset: str, root: Path, *extra: str):
    overrides = [f"data.dataset={dataset}", *extra]
    if dataset == "folder":
        overrides += ["data.num_classes=20", "data.flip_pairs=[[14,15],[16,17],[18,19]]"]
    config = get_config("ce2p_tiny_synthetic").override(overrides)
    config.data.root = str(root)
    return config


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("layouts")
    return {
        layout: generate_dataset(layout, base / layout, TRAIN, VAL, size=SIZE, seed=3) for layout in LAYOUTS
    }


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_synthetic_layout_reads_back(roots, layout):
    dataset_name, train_split, val_split, num_classes, pairs = LAYOUTS[layout]
    config = config_for(dataset_name, roots[layout])
    train = build_dataset(config, train_split, train=True, transform=train_stand_in)
    val = build_dataset(config, val_split, train=False, transform=val_stand_in)
    assert (len(train), len(val)) == (TRAIN, VAL)
    assert train.num_classes == num_classes and tuple(train.flip_pairs) == pairs
    assert len(train.class_names) == num_classes
    assert len(set(train.ids)) == TRAIN and len(set(val.ids)) == VAL
    assert not set(train.files.image_paths) & set(val.files.image_paths)
    if layout == "cihp":
        assert all(len(i) == 7 and i.isdigit() for i in train.ids)
    seen = set()
    for dataset in (train, val):
        for index in range(len(dataset)):
            sample = dataset[index]
            assert tuple(sample["image"].shape) == (3, *SIZE)
            label = sample["label"].numpy()
            assert label.shape == SIZE
            values = set(np.unique(label).tolist())
            assert all(v < num_classes or v == IGNORE_INDEX for v in values)
            seen |= values
            meta = sample["meta"]
            assert meta["id"] == dataset.ids[index] and meta["original_size"] == SIZE
            assert Path(meta["image_path"]).is_file() and Path(meta["label_path"]).is_file()
            assert meta["id"] in Path(meta["image_path"]).name
    assert len(seen - {0, IGNORE_INDEX}) >= 2, f"{layout}: labels hold almost nothing: {seen}"


def test_train_transform_gets_the_dataset_generator(roots):
    dataset = build_dataset(config_for("lip", roots["lip"]), "train", train=True, transform=train_stand_in)
    first = dataset[0]["meta"]["draw"]
    assert first == np.random.default_rng(0).random()  # the documented default generator
    dataset.set_rng(np.random.default_rng(42))
    assert dataset[0]["meta"]["draw"] == np.random.default_rng(42).random()


def test_voc_root_may_be_the_parent_vocdevkit_or_voc2012(roots):
    root = roots["voc"]
    for candidate in (root, root / "VOCdevkit", root / "VOCdevkit" / "VOC2012"):
        dataset = build_dataset(config_for("voc", candidate), "val", train=False, transform=val_stand_in)
        assert len(dataset) == VAL


def test_voc_falls_back_to_segmentation_class_aug(tmp_path, roots):
    root = tmp_path / "voc"
    shutil.copytree(roots["voc"], root)
    base = root / "VOCdevkit" / "VOC2012"
    moved = sorted((base / "SegmentationClass").glob("2007_*.png"))[0]
    (base / "SegmentationClassAug").mkdir()
    shutil.move(str(moved), base / "SegmentationClassAug" / moved.name)
    dataset = build_dataset(config_for("voc", root), "trainaug", train=True, transform=train_stand_in)
    assert str(base / "SegmentationClassAug" / moved.name) in dataset.files.label_paths
    assert dataset[0]["label"].shape == SIZE


def test_lip_official_nested_layout(tmp_path, roots):
    flat = roots["lip"]
    root = tmp_path / "LIP"
    (root / "TrainVal_images").mkdir(parents=True)
    (root / "TrainVal_parsing_annotations").mkdir()
    shutil.copytree(flat / "val_images", root / "TrainVal_images" / "val_images")
    shutil.copy(flat / "val_id.txt", root / "TrainVal_images" / "val_id.txt")
    shutil.copytree(flat / "val_segmentations", root / "TrainVal_parsing_annotations" / "val_segmentations")
    dataset = build_dataset(config_for("lip", root), "val", train=False, transform=val_stand_in)
    assert dataset.ids == build_dataset(config_for("lip", flat), "val", False, val_stand_in).ids


def test_lip_test_split_without_labels(tmp_path, roots):
    root = tmp_path / "LIP"
    shutil.copytree(roots["lip"] / "val_images", root / "testing_images")
    shutil.copy(roots["lip"] / "val_id.txt", root / "test_id.txt")
    dataset = build_dataset(config_for("lip", root), "test", train=False, transform=val_stand_in)
    assert not dataset.has_labels and "label" not in dataset[0] and dataset[0]["meta"]["label_path"] == ""
    with pytest.raises(DataError, match="no labels"):
        build_dataset(config_for("lip", root), "test", train=True, transform=train_stand_in)


def test_cihp_integer_ids_are_zero_padded(tmp_path, roots):
    root = tmp_path / "CIHP"
    shutil.copytree(roots["cihp"], root)
    id_list = root / "Validation" / "val_id.txt"
    id_list.write_text("".join(f"{int(i)}\n" for i in id_list.read_text().split()))
    dataset = build_dataset(config_for("cihp", root), "val", train=False, transform=val_stand_in)
    assert dataset.ids == ["0000001", "0000002"]


def test_folder_without_id_list_takes_every_image(tmp_path, roots):
    root = tmp_path / "folder"
    shutil.copytree(roots["folder"], root)
    (root / "val_id.txt").unlink()
    dataset = build_dataset(config_for("folder", root), "val", train=False, transform=val_stand_in)
    assert len(dataset) == TRAIN + VAL and dataset.ids == sorted(dataset.ids)
    with pytest.raises(ConfigError, match="num_classes"):
        build_dataset(config_for("lip", root, "data.dataset=folder"), "val", False, val_stand_in)


def test_dataset_errors_name_the_problem(tmp_path, roots):
    with pytest.raises(DataError, match="root not found"):
        build_dataset(config_for("lip", tmp_path / "nowhere"), "train", True, train_stand_in)
    with pytest.raises(ConfigError, match="unknown dataset"):
        build_dataset(config_for("lip", roots["lip"], "data.dataset=mpii"), "train", True, train_stand_in)
    root = tmp_path / "lip"
    shutil.copytree(roots["lip"], root)
    with pytest.raises(DataError, match="no id list for split 'extra'"):
        build_dataset(config_for("lip", root), "extra", True, train_stand_in)
    with pytest.raises(DataError, match="no image folder for split 'val' .*JPEGImages"):
        build_dataset(config_for("atr", roots["lip"]), "val", False, val_stand_in)
    with pytest.raises(DataError, match="id list not found: .*Validation.val_id.txt"):
        build_dataset(config_for("cihp", roots["lip"]), "val", False, val_stand_in)
    (root / "val_id.txt").write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        build_dataset(config_for("lip", root), "val", False, val_stand_in)
    ids = [f"ghost_{i}" for i in range(7)]
    (root / "train_id.txt").write_text("\n".join(["train_000000", *ids]) + "\n")
    with pytest.raises(DataError) as info:
        build_dataset(config_for("lip", root), "train", True, train_stand_in)
    message = str(info.value)
    assert "7 of 8 images" in message and "ghost_0.jpg" in message and "and 2 more" in message
    assert str(root / "train_id.txt") in message


def _corrupt_first_image(tmp_path, roots) -> Path:
    root = tmp_path / "lip"
    shutil.copytree(roots["lip"], root)
    image = root / "train_images" / "train_000000.jpg"
    image.write_bytes(image.read_bytes()[:200])
    return root


def test_bad_item_raises_data_error_naming_the_file(tmp_path, roots):
    root = _corrupt_first_image(tmp_path, roots)
    dataset = build_dataset(config_for("lip", root), "train", True, train_stand_in)
    with pytest.raises(DataError, match="train_000000.jpg"):
        dataset[0]
    label = root / "train_segmentations" / "train_000001.png"
    cv2.imwrite(str(label), np.zeros((SIZE[0] + 1, SIZE[1]), np.uint8))
    with pytest.raises(DataError) as info:
        dataset[1]
    assert "train_000001.jpg" in str(info.value) and "train_000001.png" in str(info.value)


def test_bad_item_message_survives_a_dataloader_worker(tmp_path, roots):
    root = _corrupt_first_image(tmp_path, roots)
    dataset = build_dataset(config_for("lip", root), "train", True, train_stand_in)
    from humanparse.inference.pipeline import worker_context  # as the trainer's: never a fork of this process

    loader = DataLoader(dataset, batch_size=1, num_workers=1, multiprocessing_context=worker_context())
    with pytest.raises(DataError) as info:
        next(iter(loader))
    assert "truncated" in str(info.value) and str(root / "train_images" / "train_000000.jpg") in str(
        info.value
    )


def test_collate_val_keeps_variable_sizes(roots):
    dataset = build_dataset(config_for("lip", roots["lip"]), "val", False, val_stand_in)
    batch = next(iter(DataLoader(dataset, batch_size=2, collate_fn=collate_val)))
    assert isinstance(batch, list) and len(batch) == 2 and batch[1]["meta"]["id"] == dataset.ids[1]


def test_real_transforms_fit_the_dataset(roots):
    config = config_for("lip", roots["lip"], "data.crop_size=[32,32]", "data.resize_size=[36,36]")
    train = build_dataset(config, "train", train=True)
    sample = train[0]
    assert sample["image"].dtype == torch.float32 and sample["label"].dtype == torch.int64
    assert sample["meta"]["id"] == train.ids[0] and "flipped" in sample["meta"]
    val = build_dataset(config, "val", train=False)
    assert tuple(val[0]["label"].shape) == SIZE and val[0]["meta"]["original_size"] == SIZE
    assert get_label_set("lip").num_classes == train.num_classes
