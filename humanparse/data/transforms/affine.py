"""The official CE2P / CDGNet / CSENet / SCHP train augmentation: one random affine warp to the crop.

Order as in `dataset/datasets.py` of those repositories: the CDGNet/CSENet photometric block (when enabled) on
the whole image, then scale, rotation and flip drawn, the flip applied to the image (with the label swaps and the
mirrored centre), one `cv2.warpAffine`, normalisation, the official edge rule and the class-distribution targets.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence, Tuple

import cv2
import numpy as np
import torch

from humanparse.data.geometry import get_affine_transform, image_center_scale
from humanparse.data.labels import IGNORE_INDEX
from humanparse.data.targets import class_distribution_targets, edge_targets_official
from humanparse.data.transforms.common import flip_lookup, flip_pair, train_sample
from humanparse.data.transforms.normalize import check_normalization, normalize_image
from humanparse.data.transforms.photometric import augmentation_block


def random_scale_rotation(
    scale: np.ndarray, scale_factor: float, max_degrees: float, rotation_prob: float, rng: np.random.Generator
) -> Tuple[np.ndarray, float]:
    """Scale times clip(N * sf + 1, 1 - sf, 1 + sf); rotation clip(N * deg, -2 deg, 2 deg) with `rotation_prob`."""
    scale = scale * np.clip(rng.standard_normal() * scale_factor + 1, 1 - scale_factor, 1 + scale_factor)
    rotation = 0.0
    if rng.random() <= rotation_prob:
        rotation = float(np.clip(rng.standard_normal() * max_degrees, -max_degrees * 2, max_degrees * 2))
    return scale, rotation


def warp_pair(
    image: np.ndarray, label: np.ndarray, matrix: np.ndarray, output_size: Sequence[int]
) -> Tuple[np.ndarray, np.ndarray]:
    """Warp an image (bilinear, border 0) and its label (nearest, border 255) to `output_size` = (h, w)."""
    dsize = (int(output_size[1]), int(output_size[0]))
    image = cv2.warpAffine(
        image, matrix, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0)
    )
    label = cv2.warpAffine(
        label,
        matrix,
        dsize,
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=IGNORE_INDEX,
    )
    return image, label


class AffineTrainTransform:
    """The official affine train pipeline, built from a `DataConfig`; call as `t(image_bgr, label, rng)`."""

    def __init__(self, data, num_classes: int, flip_pairs: Sequence[Tuple[int, int]]) -> None:
        self.crop_size = (int(data.crop_size[0]), int(data.crop_size[1]))
        self.scale_factor = data.scale_factor
        self.rotation_degrees = float(data.rotation_degrees)
        self.rotation_prob = data.rotation_prob
        self.flip_prob = data.flip_prob
        self.photometric_block = data.photometric_block
        self.blur_passes = data.blur_passes
        self.normalization = check_normalization(data.normalization)
        self.class_distribution = data.class_distribution
        self.num_classes = num_classes
        self.lookup = flip_lookup(num_classes, flip_pairs)

    def __call__(self, image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> Dict[str, Any]:
        if self.photometric_block:
            image = augmentation_block(image, rng, self.blur_passes)
        height, width = image.shape[:2]
        center, scale = image_center_scale(width, height, self.crop_size)
        scale, rotation = random_scale_rotation(
            scale, self.scale_factor, self.rotation_degrees, self.rotation_prob, rng
        )
        flipped = bool(rng.random() <= self.flip_prob)
        if flipped:
            image, label = flip_pair(image, label, self.lookup)
            center[0] = width - center[0] - 1
        matrix = get_affine_transform(center, scale, rotation, self.crop_size)
        image, label = warp_pair(image, label, matrix, self.crop_size)
        edge = edge_targets_official(label)
        sample = train_sample(
            normalize_image(image, self.normalization),
            label,
            edge,
            {
                "flipped": flipped,
                "center": [float(c) for c in center],
                "scale": [float(s) for s in scale],
                "rotation": rotation,
            },
        )
        if self.class_distribution:
            hgt, wgt = class_distribution_targets(label, self.num_classes)
            sample["hgt"], sample["wgt"] = torch.from_numpy(hgt), torch.from_numpy(wgt)
        return sample
