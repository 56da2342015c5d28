"""Body keypoints for the try-on masks: OpenPose's 18 body points in the 384x512 parse frame, [0, 0] = missing.

Two file formats are read and converted to that one array:

* OOTDiffusion's own: ``{"pose_keypoints_2d": [[x, y] x 18]}`` (or a flat list of 36), already in the 384x512
  frame, ``[0, 0]`` for a missing point;
* OpenPose / VITON-HD: ``{"people": [{"pose_keypoints_2d": [x, y, confidence] x 18 flat}]}`` in the photo's own
  pixels; confidence 0 = missing. The first person is used.

`--keypoints` is a file (for one photo) or a folder holding ``<stem>.json`` or ``<stem>_keypoints.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np

from humanparse.errors import ConfigError, DataError

POINTS = 18
FRAME = (384, 512)  # (width, height)
PathLike = Union[str, Path]


def _number_rows(values, width: int, path: Path, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: {what} must hold numbers") from None
    if array.ndim == 2 and array.shape[1] == width:
        pass
    elif array.ndim == 1 and array.size % width == 0:
        array = array.reshape(-1, width)
    else:
        raise DataError(f"{path}: {what} must be {POINTS} points of {width} numbers, got shape {array.shape}")
    if len(array) != POINTS:
        raise DataError(f"{path}: {what} has {len(array)} points; OpenPose's body model has {POINTS}")
    if not np.isfinite(array).all():
        raise DataError(f"{path}: {what} holds a non-finite number")
    return array


def parse_keypoints(data, path: PathLike, photo_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """(18, 2) float64 points in the 384x512 frame from a loaded JSON document.

    `photo_size` (width, height) of the photo converts OpenPose's photo pixels into the frame; it is needed for
    that format only.
    """
    path = Path(path)
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object with pose_keypoints_2d or people")
    if "people" in data:
        people = data["people"]
        if not isinstance(people, list) or not people:
            raise DataError(f"{path}: 'people' is empty: no person was detected")
        first = people[0]
        if not isinstance(first, dict) or "pose_keypoints_2d" not in first:
            raise DataError(f"{path}: people[0] has no pose_keypoints_2d")
        rows = _number_rows(first["pose_keypoints_2d"], 3, path, "people[0].pose_keypoints_2d")
        if photo_size is None:
            raise ConfigError(f"{path}: OpenPose keypoints are in photo pixels; the photo's size is needed")
        width, height = photo_size
        points = rows[:, :2] * np.array([FRAME[0] / width, FRAME[1] / height])
        points[rows[:, 2] <= 0] = 0.0  # confidence 0: not detected
        return points
    if "pose_keypoints_2d" in data:
        return _number_rows(data["pose_keypoints_2d"], 2, path, "pose_keypoints_2d")
    raise DataError(f"{path}: no pose_keypoints_2d (OOTDiffusion) and no people (OpenPose) in it")


def read_keypoints(path: PathLike, photo_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """The (18, 2) points of a keypoint JSON file; DataError naming the file when it cannot be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text (JSON) file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    return parse_keypoints(data, path, photo_size)


def keypoint_file(source: Path, stem: str) -> Optional[Path]:
    """The keypoint file of the photo `stem` under the folder `source`: `<stem>.json` or `<stem>_keypoints.json`."""
    for name in (f"{stem}.json", f"{stem}_keypoints.json"):
        if (source / name).is_file():
            return source / name
    return None


def photo_size(path: PathLike) -> Tuple[int, int]:
    """(width, height) of an image from its header."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read the image's size ({error})") from None


def keypoints_for(
    keypoints: Optional[PathLike], photos: Sequence[Tuple[str, Path]]
) -> Dict[str, Optional[np.ndarray]]:
    """relative output stem -> (18, 2) points (None: pose-free) for `photos` (stem, path).

    `keypoints` None: every photo pose-free. A file: for a single photo. A folder: each photo's file by its
    stem; a photo without one is an error (name its file, or leave --keypoints out for the pose-free mode).
    """
    if keypoints is None:
        return {stem: None for stem, _ in photos}
    source = Path(keypoints)
    if source.is_file():
        if len(photos) != 1:
            raise ConfigError(
                f"--keypoints {source} is one file but there are {len(photos)} photos; give a folder of "
                "<stem>.json files"
            )
        ((stem, photo),) = photos
        return {stem: read_keypoints(source, photo_size(photo))}
    if not source.is_dir():
        raise DataError(f"--keypoints {source}: no such file or folder")
    result = {}
    for stem, photo in photos:
        found = keypoint_file(source, Path(stem).name) or keypoint_file(
            source / Path(stem).parent, Path(stem).name
        )
        if found is None:
            raise DataError(
                f"{photo}: no keypoints in {source} ({Path(stem).name}.json or {Path(stem).name}_keypoints.json)"
            )
        result[stem] = read_keypoints(found, photo_size(photo))
    return result
