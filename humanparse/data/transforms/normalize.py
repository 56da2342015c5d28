"""Channel order and normalisation of each recipe, from a BGR uint8 image to a float32 (3, H, W) tensor.

* ``rgb`` (SSSegmentation ``Normalize(to_rgb=True)``): BGR -> RGB, then ``(x - mean) * (1 / std)`` in float32
  with the 0-255 ImageNet statistics.
* ``bgr_rgb_stats`` (official CE2P, CDGNet, CSENet): ``ToTensor`` (/255) and ``Normalize`` with the RGB-order
  ImageNet statistics applied to the B, G, R channels as they are (kept for parity with their checkpoints).
* ``bgr`` (SCHP): the same on BGR, with the statistics reordered to BGR.
* ``rgb_01`` (FASHN's parser, transformers' SegformerImageProcessor): BGR -> RGB, ``x / 255`` then
  ``(x - mean) / std`` in float32 with the 0-1 ImageNet statistics.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from humanparse.errors import ConfigError

NORMALIZATIONS = ("rgb", "bgr_rgb_stats", "bgr", "rgb_01")

_MEAN_255 = np.array([123.675, 116.28, 103.53])
_STD_255 = np.array([58.395, 57.12, 57.375])
_MEAN_01 = [0.485, 0.456, 0.406]
_STD_01 = [0.229, 0.224, 0.225]


def check_normalization(mode: str) -> str:
    """Return `mode` if it is a known normalisation, else raise ConfigError naming the choices."""
    if mode not in NORMALIZATIONS:
        raise ConfigError(f"unknown data.normalization {mode!r}; choose from {', '.join(NORMALIZATIONS)}")
    return mode


def normalize_image(image_bgr: np.ndarray, mode: str) -> torch.Tensor:
    """Normalise an (H, W, 3) BGR uint8 image the way recipe `mode` does; returns float32 (3, H, W)."""
    check_normalization(mode)
    if mode == "rgb":
        # SSSegmentation's Normalize, op for op: in-place cv2 colour swap, subtract and multiply in float32
        image = image_bgr.astype(np.float32)
        cv2.cvtColor(image, cv2.COLOR_BGR2RGB, image)
        cv2.subtract(image, _MEAN_255.reshape(1, -1), image)
        cv2.multiply(image, 1 / _STD_255.reshape(1, -1), image)
        return torch.from_numpy(image).permute(2, 0, 1).contiguous()
    if mode == "rgb_01":
        # FASHN's _preprocess_single op for op: float32 / 255, then (x - mean) / std with float32 statistics
        image = image_bgr[:, :, ::-1].astype(np.float32) / 255.0
        image = (image - np.asarray(_MEAN_01, np.float32)) / np.asarray(_STD_01, np.float32)
        return torch.from_numpy(image.transpose(2, 0, 1).copy())
    tensor = torch.from_numpy(np.ascontiguousarray(image_bgr)).permute(2, 0, 1).float().div(255)
    mean, std = (_MEAN_01, _STD_01) if mode == "bgr_rgb_stats" else (_MEAN_01[::-1], _STD_01[::-1])
    mean_t = torch.as_tensor(mean, dtype=torch.float32)[:, None, None]
    std_t = torch.as_tensor(std, dtype=torch.float32)[:, None, None]
    return tensor.sub_(mean_t).div_(std_t).contiguous()
