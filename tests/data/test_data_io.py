"""Checked image and label reading: OpenCV IMREAD_COLOR semantics, palette labels, and a DataError per bad file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from humanparse.data.io import check_same_size, read_image, read_label
from humanparse.errors import DataError


@pytest.fixture()
def colour_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


def _write(path, array, *params):
    assert cv2.imwrite(str(path), array, list(params))
    return path


def test_read_image_matches_cv2_imread_for_jpeg_png_gray_rgba_and_16bit(tmp_path, colour_image):
    rng = np.random.default_rng(1)
    files = [
        _write(tmp_path / "colour.jpg", colour_image),
        _write(tmp_path / "colour.png", colour_image),
        _write(tmp_path / "gray.png", colour_image[..., 0]),
        _write(tmp_path / "rgba.png", np.dstack([colour_image, colour_image[..., :1]])),
        _write(tmp_path / "deep.png", rng.integers(0, 65536, size=(24, 32, 3), dtype=np.uint16)),
    ]
    for path in files:
        image = read_image(path)
        expected = cv2.imread(str(path), cv2.IMREAD_COLOR)
        assert image.dtype == np.uint8 and image.shape == (24, 32, 3), path.name
        np.testing.assert_array_equal(image, expected, err_msg=path.name)
    gray = read_image(tmp_path / "gray.png")
    np.testing.assert_array_equal(gray[..., 0], colour_image[..., 0])
    np.testing.assert_array_equal(gray[..., 1], gray[..., 2])
    deep = read_image(tmp_path / "deep.png")
    raw = cv2.imread(str(tmp_path / "deep.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(deep, (raw >> 8).astype(np.uint8))


def test_read_image_accepts_bytes_after_the_jpeg_end_marker(tmp_path, colour_image):
    path = _write(tmp_path / "trailer.jpg", colour_image)
    clean = read_image(path)
    path.write_bytes(path.read_bytes() + b"\x00" * 100)
    np.testing.assert_array_equal(read_image(path), clean)


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_image_is_refused_with_its_name(tmp_path, suffix):
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    path = _write(tmp_path / f"cut{suffix}", image)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataError, match="truncated") as info:
        read_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "content, problem",
    [(None, "not found"), (b"", "empty"), (b"this is not an image at all", "cannot be decoded")],
)
def test_missing_empty_or_garbage_image(tmp_path, content, problem):
    path = tmp_path / "bad.jpg"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=problem) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_folder_instead_of_image(tmp_path):
    with pytest.raises(DataError, match="not a file"):
        read_image(tmp_path)


def test_read_label_gives_palette_indices_and_grayscale_values(tmp_path):
    values = np.array([[0, 5, 19, 255], [13, 14, 15, 0]], dtype=np.uint8)
    palette_png = tmp_path / "palette.png"
    picture = Image.fromarray(values, mode="P")
    picture.putpalette(np.random.default_rng(0).integers(0, 256, 768).tolist())
    picture.save(palette_png)
    gray_png = _write(tmp_path / "gray.png", values)
    for path in (palette_png, gray_png):
        label = read_label(path, num_classes=20)
        assert label.dtype == np.uint8 and label.shape == (2, 4)
        np.testing.assert_array_equal(label, values)
    np.testing.assert_array_equal(read_label(gray_png), cv2.imread(str(gray_png), cv2.IMREAD_GRAYSCALE))


def test_label_values_outside_the_classes_are_refused(tmp_path):
    path = _write(tmp_path / "range.png", np.array([[0, 20, 21], [255, 3, 3]], np.uint8))
    assert read_label(path).max() == 255  # no class count, no check
    with pytest.raises(DataError) as info:
        read_label(path, num_classes=20)
    message = str(info.value)
    assert str(path) in message and "20, 21" in message and "[0, 20)" in message


@pytest.mark.parametrize(
    "array, problem",
    [
        (np.zeros((4, 4, 3), np.uint8), "3 channels"),
        (np.zeros((4, 4, 4), np.uint8), "4 channels"),
        (np.full((4, 4), 300, np.uint16), "16/32-bit"),
    ],
)
def test_multichannel_and_16bit_labels_are_refused(tmp_path, array, problem):
    path = _write(tmp_path / "label.png", array)
    with pytest.raises(DataError, match=problem) as info:
        read_label(path, num_classes=20)
    assert str(path) in str(info.value)


def test_missing_and_truncated_labels(tmp_path):
    with pytest.raises(DataError, match="label not found"):
        read_label(tmp_path / "absent.png")
    noise = np.random.default_rng(3).integers(0, 20, size=(64, 64), dtype=np.uint8)
    path = _write(tmp_path / "cut.png", noise)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated") as info:
        read_label(path)
    assert str(path) in str(info.value)


def test_check_same_size_names_both_files():
    image, label = np.zeros((10, 12, 3), np.uint8), np.zeros((10, 11), np.uint8)
    check_same_size(image, np.zeros((10, 12), np.uint8), "a.jpg", "a.png")
    with pytest.raises(DataError) as info:
        check_same_size(image, label, "img/a.jpg", "seg/a.png")
    assert "img/a.jpg" in str(info.value) and "seg/a.png" in str(info.value)
    assert "12x10" in str(info.value) and "11x10" in str(info.value)
