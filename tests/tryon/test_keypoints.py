"""Keypoint files for `humanparse tryon`: both formats to one array, and one-line errors naming the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from humanparse.errors import ConfigError, DataError
from humanparse.tryon.keypoints import keypoints_for, read_keypoints


def _write(path, data):
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def _photo(path, size=(200, 300)):
    from PIL import Image

    Image.new("RGB", size, (90, 90, 90)).save(path)
    return path


def test_ootd_format_nested_and_flat(tmp_path):
    points = [[float(i), float(2 * i)] for i in range(18)]
    nested = read_keypoints(_write(tmp_path / "a.json", {"pose_keypoints_2d": points}))
    flat = read_keypoints(_write(tmp_path / "b.json", {"pose_keypoints_2d": sum(points, [])}))
    assert nested.shape == (18, 2) and np.array_equal(nested, flat) and nested[3, 1] == 6.0


def test_openpose_format_is_scaled_to_the_parse_frame_and_confidence_zero_is_missing(tmp_path):
    flat = []
    for i in range(18):
        flat += [100.0, 150.0, 0.0 if i == 4 else 0.8]
    data = {"version": 1.3, "people": [{"pose_keypoints_2d": flat}, {"pose_keypoints_2d": [0] * 54}]}
    points = read_keypoints(_write(tmp_path / "p.json", data), photo_size=(200, 300))
    assert np.allclose(points[0], [100 * 384 / 200, 150 * 512 / 300])
    assert np.array_equal(points[4], [0.0, 0.0])


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ({"pose_keypoints_2d": [[1, 2]] * 17}, "has 17 points"),
        ({"pose_keypoints_2d": [[1, 2, 3]] * 18}, "18 points of 2 numbers"),
        ({"pose_keypoints_2d": [["a", 2]] * 18}, "must hold numbers"),
        ({"people": []}, "no person was detected"),
        ({"people": [{"pose_keypoints_2d": [1.0] * 50}]}, "18 points of 3 numbers"),
        ({"something": 1}, "no pose_keypoints_2d"),
        ([1, 2, 3], "expected a JSON object"),
    ],
)
def test_bad_files_get_one_line_naming_the_file(tmp_path, content, message):
    path = _write(tmp_path / "bad.json", content)
    with pytest.raises(DataError) as error:
        read_keypoints(path, photo_size=(10, 10))
    text = str(error.value)
    assert str(path) in text and message in text and "\n" not in text


def test_folder_lookup_by_stem_and_keypoints_suffix(tmp_path):
    photos = [("a", _photo(tmp_path / "a.png")), ("b", _photo(tmp_path / "b.png"))]
    folder = tmp_path / "kp"
    folder.mkdir()
    _write(folder / "a.json", {"pose_keypoints_2d": [[1, 1]] * 18})
    _write(folder / "b_keypoints.json", {"people": [{"pose_keypoints_2d": [10, 10, 1] * 18}]})
    found = keypoints_for(folder, photos)
    assert np.array_equal(found["a"], np.ones((18, 2)))
    assert np.allclose(found["b"][0], [10 * 384 / 200, 10 * 512 / 300])
    assert keypoints_for(None, photos) == {"a": None, "b": None}


def test_a_photo_without_keypoints_in_the_folder_is_named(tmp_path):
    photo = _photo(tmp_path / "lonely.png")
    (tmp_path / "kp").mkdir()
    with pytest.raises(DataError, match="lonely.png: no keypoints"):
        keypoints_for(tmp_path / "kp", [("lonely", photo)])


def test_one_file_for_several_photos_is_refused(tmp_path):
    file = _write(tmp_path / "k.json", {"pose_keypoints_2d": [[1, 1]] * 18})
    photos = [("a", _photo(tmp_path / "a.png")), ("b", _photo(tmp_path / "b.png"))]
    with pytest.raises(ConfigError, match="one file but there are 2 photos"):
        keypoints_for(file, photos)
