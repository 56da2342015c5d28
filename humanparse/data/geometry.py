"""Affine geometry of the official CE2P / CDGNet / CSENet / SCHP pipelines: the crop matrix and its inverse warps.

The matrix follows the pose-estimation construction those repositories share (`utils/transforms.py`): the centre
maps to the middle of the output, a point half a scale width above it (rotated by `rot` degrees) maps to the
middle of the top edge, and a third point completes the right angle. Points are float32, as in the reference.

Two conventions for "the middle of the output" (`AFFINE_CONVENTIONS`): `"size"` (CE2P, CDGNet, CSENet: centre
(w/2, h/2), width w) and `"size_minus_one"` (SCHP's copy: centre ((w-1)/2, (h-1)/2), width w-1, i.e. pixel
centres). They differ by up to half a pixel at the crop's right and bottom edges.
"""

from __future__ import annotations

from typing import Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from humanparse.errors import ConfigError

ArrayOrTensor = Union[np.ndarray, torch.Tensor]

AFFINE_CONVENTIONS = ("size", "size_minus_one")


def check_affine_convention(convention: str) -> str:
    """`convention` when it is one of `AFFINE_CONVENTIONS`; ConfigError naming eval.affine_convention otherwise."""
    if convention not in AFFINE_CONVENTIONS:
        raise ConfigError(
            f"unknown eval.affine_convention {convention!r}; choose from {', '.join(AFFINE_CONVENTIONS)}"
        )
    return convention


def _rotate_point(point: Sequence[float], rot_rad: float) -> np.ndarray:
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return np.array([point[0] * cs - point[1] * sn, point[0] * sn + point[1] * cs])


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    direction = a - b
    return b + np.array([-direction[1], direction[0]], dtype=np.float32)


def get_affine_transform(
    center: Sequence[float],
    scale: Sequence[float],
    rot: float,
    output_size: Sequence[int],
    inv: bool = False,
    convention: str = "size",
) -> np.ndarray:
    """The (2, 3) float64 matrix that maps the box (`center`, `scale` = (w, h)) onto `output_size` = (h, w).

    `rot` is in degrees (the sense of `cv2.getRotationMatrix2D`); only `scale[0]` sets the zoom, as in the
    reference. `inv=True` returns the output-to-source matrix. `convention`: see `AFFINE_CONVENTIONS`.
    """
    center = np.asarray(center, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    src_w = scale[0]
    dst_h, dst_w = float(output_size[0]), float(output_size[1])
    if check_affine_convention(convention) == "size_minus_one":
        dst_h, dst_w = dst_h - 1, dst_w - 1
    rot_rad = np.pi * rot / 180
    src_dir = _rotate_point([0, src_w * -0.5], rot_rad)
    dst_dir = np.array([0, dst_w * -0.5], np.float32)

    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0, :] = center
    src[1, :] = center + src_dir
    dst[0, :] = [dst_w * 0.5, dst_h * 0.5]
    dst[1, :] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2, :] = _third_point(src[0, :], src[1, :])
    dst[2, :] = _third_point(dst[0, :], dst[1, :])
    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def box_to_center_scale(w: float, h: float, aspect_ratio: float) -> Tuple[np.ndarray, np.ndarray]:
    """Centre and scale of the box [0, 0, w, h], widened to `aspect_ratio` = crop width / crop height.

    The official datasets pass the whole image as `w = width - 1`, `h = height - 1`; `image_center_scale` does
    that. Returns float32 arrays `center` (cx, cy) and `scale` (sw, sh).
    """
    center = np.array([w * 0.5, h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w * 1.0 / aspect_ratio
    elif w < aspect_ratio * h:
        w = h * aspect_ratio
    return center, np.array([w * 1.0, h * 1.0], dtype=np.float32)


def image_center_scale(width: int, height: int, output_size: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """Centre and scale of a whole `width` x `height` image for a crop of `output_size` = (h, w)."""
    aspect_ratio = output_size[1] * 1.0 / output_size[0]
    return box_to_center_scale(width - 1, height - 1, aspect_ratio)


def _inverse_matrix(
    center: Sequence[float],
    scale: Sequence[float],
    input_size: Tuple[int, int],
    truncate_center: bool,
    convention: str = "size",
) -> np.ndarray:
    center = np.asarray(center, dtype=np.float32)
    if truncate_center:
        # tjpulkl/BSSGNet and CDGNet evaluate_multi: the centres are stored in an np.int32 array
        center = center.astype(np.int32).astype(np.float32)
    return get_affine_transform(center, scale, 0, input_size, inv=True, convention=convention)


def inverse_warp_labels(
    label_map: np.ndarray,
    center: Sequence[float],
    scale: Sequence[float],
    original_size: Tuple[int, int],
    truncate_center: bool = False,
    border_value: int = 0,
    convention: str = "size",
) -> np.ndarray:
    """Map an (h, w) label map predicted on the affine crop back to `original_size` = (H, W).

    Nearest interpolation with border `border_value` (0 = background, as the official `transform_parsing`).
    `truncate_center` reproduces the official evaluators' int32 centre (a half-pixel shift on even sizes);
    `convention` is the forward crop's (see `AFFINE_CONVENTIONS`).
    """
    label_map = np.ascontiguousarray(label_map)
    matrix = _inverse_matrix(center, scale, label_map.shape[:2], truncate_center, convention)
    height, width = int(original_size[0]), int(original_size[1])
    return cv2.warpAffine(
        label_map,
        matrix,
        (width, height),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=border_value,
    )


def inverse_warp_logits(
    logits: ArrayOrTensor,
    center: Sequence[float],
    scale: Sequence[float],
    original_size: Tuple[int, int],
    truncate_center: bool = False,
    convention: str = "size",
) -> ArrayOrTensor:
    """Map (K, h, w) float logits on the affine crop back to (K, H, W) at `original_size` (bilinear, border 0).

    Accepts a numpy array or a tensor and returns the same kind (a tensor comes back on its device and dtype).
    Each channel is warped on its own, as SCHP's `transform_logits` does.
    """
    is_tensor = torch.is_tensor(logits)
    array = logits.detach().float().cpu().numpy() if is_tensor else np.asarray(logits, dtype=np.float32)
    matrix = _inverse_matrix(center, scale, array.shape[1:], truncate_center, convention)
    warped = _warp_planes(array, matrix, original_size)
    if is_tensor:
        return torch.from_numpy(warped).to(device=logits.device, dtype=logits.dtype)
    return warped


def _warp_planes(planes: np.ndarray, matrix: np.ndarray, original_size: Tuple[int, int]) -> np.ndarray:
    """Each (h, w) plane of `planes` warped bilinearly (border 0) to (H, W), into one (n, H, W) array.

    One plane per call: OpenCV warps 2-4 channels per call identically, but no faster here, and more than 4
    differently (coarser interpolation).
    """
    height, width = int(original_size[0]), int(original_size[1])
    warped = np.empty((len(planes), height, width), dtype=np.float32)
    for index, plane in enumerate(planes):
        cv2.warpAffine(
            np.ascontiguousarray(plane, dtype=np.float32),
            matrix,
            (width, height),
            dst=warped[index],
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return warped


def argmax_labels(logits: np.ndarray, rows: int = 32) -> np.ndarray:
    """(H, W) uint8 argmax over the classes of (K, H, W) logits, equal to `np.argmax(logits, 0)` (first maximum on
    ties). Blocks of `rows` rows keep numpy's transposed copy in the cache (about 1.4x faster on 640x480)."""
    labels = np.empty(logits.shape[1:], dtype=np.uint8)
    for start in range(0, logits.shape[1], rows):
        labels[start : start + rows] = np.argmax(logits[:, start : start + rows], axis=0)
    return labels


def inverse_warp_argmax(
    logits: np.ndarray,
    center: Sequence[float],
    scale: Sequence[float],
    original_size: Tuple[int, int],
    truncate_center: bool = False,
    convention: str = "size",
) -> np.ndarray:
    """`argmax_labels(inverse_warp_logits(logits, ...))`, exactly, warping only the classes that can win.

    A class that is nowhere the maximum on the crop is only warped as part of one extra plane, the maximum of all
    such classes: bilinear weights are non-negative (and float rounding monotone), so that plane bounds each of
    them after the warp. Where the warped winner of the other classes beats the bound at every pixel, no left-out
    class can win (nor tie) and the labels are those of the full warp; elsewhere the full warp runs. A photo
    shows a few of the classes, so a few planes are warped instead of K.
    """
    array = np.asarray(logits, dtype=np.float32)
    matrix = _inverse_matrix(center, scale, array.shape[1:], truncate_center, convention)
    top = array.max(axis=0)
    present = [index for index, plane in enumerate(array) if (plane == top).any()]
    absent = [index for index in range(len(array)) if index not in present]
    if absent and len(absent) > 1 and np.isfinite(top).all():
        planes = np.concatenate([array[present], array[absent].max(axis=0, keepdims=True)])
        warped = _warp_planes(planes, matrix, original_size)
        candidates = warped[:-1]
        if (candidates.max(axis=0) > warped[-1]).all():
            return np.asarray(present, dtype=np.uint8)[argmax_labels(candidates)]
    return argmax_labels(_warp_planes(array, matrix, original_size))
