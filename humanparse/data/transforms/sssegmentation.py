"""SSSegmentation 1.7.0's train augmentation for CE2P.

LIP/CIHP/ATR (`pipeline="sssegmentation"`): square random resize, random crop with the one-category check,
flip with the dataset's label swaps, random rotation, photometric distortion, edges, normalisation, centred
padding. VOC (`"sssegmentation_voc"`): keep-ratio random resize, crop, flip without swaps, no rotation.
Labels use 255 where SSSegmentation uses -100 (ignore): rotation borders and padding.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from humanparse.data.labels import IGNORE_INDEX
from humanparse.data.targets import edge_targets_sssegmentation
from humanparse.data.transforms.common import flip_lookup, flip_pair, train_sample
from humanparse.data.transforms.normalize import check_normalization, normalize_image
from humanparse.data.transforms.photometric import photometric_distortion

CROP_TRIES = 10


def resize_dsize(
    image_size: Tuple[int, int], output_size: Tuple[int, int], keep_ratio: bool
) -> Tuple[int, int]:
    """cv2 `dsize` (w, h) of SSSegmentation's Resize for an image of (h, w) and a target `output_size`."""
    height, width = image_size
    if keep_ratio:
        factor = min(max(output_size) / max(height, width), min(output_size) / min(height, width))
        return int(width * factor + 0.5), int(height * factor + 0.5)
    # not keeping the ratio, SSSegmentation still puts the longer output side along the longer image side
    if height > width:
        return min(output_size), max(output_size)
    return max(output_size), min(output_size)


def random_resize(
    image: np.ndarray,
    label: np.ndarray,
    base_size: Sequence[int],
    scale_range: Sequence[float],
    keep_ratio: bool,
    rng: np.random.Generator,
) -> Tuple[np.ndarray, np.ndarray]:
    """Resize by a factor uniform in `scale_range` of `base_size` (image bilinear, label nearest)."""
    factor = rng.random() * (scale_range[1] - scale_range[0]) + scale_range[0]
    output_size = int(base_size[0] * factor), int(base_size[1] * factor)
    dsize = resize_dsize(image.shape[:2], output_size, keep_ratio)
    image = cv2.resize(image, dsize, interpolation=cv2.INTER_LINEAR)
    label = cv2.resize(label, dsize, interpolation=cv2.INTER_NEAREST)
    return image, label


def random_crop(
    image: np.ndarray,
    label: np.ndarray,
    crop_size: Sequence[int],
    max_ratio: float,
    rng: np.random.Generator,
) -> Tuple[np.ndarray, np.ndarray]:
    """Random crop of at most `crop_size`, retried until no single class covers `max_ratio` of valid pixels.

    After `CROP_TRIES` failures the last try is kept; a last try without any valid pixel leaves the sample
    uncropped (as SSSegmentation does).
    """
    height, width = image.shape[:2]
    h_out, w_out = min(crop_size[0], height), min(crop_size[1], width)
    for _ in range(CROP_TRIES):
        top = rng.integers(0, height - h_out + 1)
        left = rng.integers(0, width - w_out + 1)
        crop_label = label[top : top + h_out, left : left + w_out]
        counts = np.bincount(crop_label.reshape(-1), minlength=256)[:IGNORE_INDEX]
        counts = counts[counts > 0]
        if len(counts) > 1 and counts.max() / counts.sum() < max_ratio:
            break
    if len(counts) == 0:
        return image, label
    return image[top : top + h_out, left : left + w_out], crop_label


def random_rotation(
    image: np.ndarray, label: np.ndarray, max_degrees: int, prob: float, rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray]:
    """With probability `prob`, rotate by an integer angle in [-max_degrees, max_degrees) about the centre.

    Image bicubic with border 0, label nearest with border 255, on the same canvas.
    """
    if rng.random() > prob:
        return image, label
    height, width = image.shape[:2]
    angle = int(rng.integers(-max_degrees, max_degrees))
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1)
    image = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderValue=0)
    label = cv2.warpAffine(label, matrix, (width, height), flags=cv2.INTER_NEAREST, borderValue=IGNORE_INDEX)
    return image, label


def pad_centred(tensor: torch.Tensor, output_size: Tuple[int, int], value: float) -> torch.Tensor:
    """Pad the last two dims to `output_size` = (h, w), centred (the odd pixel bottom/right), with `value`."""
    height, width = tensor.shape[-2:]
    top, left = (output_size[0] - height) // 2, (output_size[1] - width) // 2
    bottom, right = output_size[0] - height - top, output_size[1] - width - left
    if top == bottom == left == right == 0:
        return tensor
    return F.pad(tensor, (left, right, top, bottom), value=value)


def padding_size(image_size: Tuple[int, int], crop_size: Sequence[int]) -> Tuple[int, int]:
    """SSSegmentation's Padding target: the crop size, swapped when its orientation differs from the image's."""
    height, width = image_size
    out_h, out_w = int(crop_size[0]), int(crop_size[1])
    if (height > width and out_h < out_w) or (height < width and out_h > out_w):
        return out_w, out_h
    return out_h, out_w


class SSSegTrainTransform:
    """SSSegmentation's CE2P train pipeline, built from a `DataConfig`; call as `t(image_bgr, label, rng)`."""

    def __init__(self, data, num_classes: int, flip_pairs: Sequence[Tuple[int, int]]) -> None:
        self.voc = data.pipeline == "sssegmentation_voc"
        self.base_size = tuple(data.resize_size)
        self.scale_range = tuple(data.scale_range)
        self.crop_size = tuple(data.crop_size)
        self.max_ratio = data.one_category_max_ratio
        self.flip_prob = data.flip_prob
        self.rotation_degrees = 0 if self.voc else int(data.rotation_degrees)
        self.rotation_prob = data.rotation_prob
        self.photometric = data.photometric
        self.normalization = check_normalization(data.normalization)
        self.lookup = None if self.voc else flip_lookup(num_classes, flip_pairs)

    def __call__(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> Dict[str, Any]:
        image, label = random_resize(image, label, self.base_size, self.scale_range, self.voc, rng)
        image, label = random_crop(image, label, self.crop_size, self.max_ratio, rng)
        flipped = bool(rng.random() <= self.flip_prob)
        if flipped:
            image, label = flip_pair(image, label, self.lookup)
        if self.rotation_degrees > 0:
            image, label = random_rotation(image, label, self.rotation_degrees, self.rotation_prob, rng)
        if self.photometric:
            image = photometric_distortion(image, rng)
        edge = edge_targets_sssegmentation(label)
        size = padding_size(label.shape, self.crop_size)
        tensor = pad_centred(normalize_image(image, self.normalization), size, 0.0)
        label = pad_centred(torch.from_numpy(np.ascontiguousarray(label)), size, IGNORE_INDEX).numpy()
        edge = pad_centred(torch.from_numpy(edge), size, IGNORE_INDEX).numpy()
        return train_sample(tensor, label, edge, {"flipped": flipped})
