"""Validation transforms: the image at the test protocol's input size, the label kept at its original size.

* `ResizeValTransform` (SSSegmentation): squash-resize to `eval.input_size` (LIP/CIHP/ATR) or keep-ratio resize
  to `eval.keep_ratio_size` (VOC: short side 512, long side at most 2048), bilinear.
* `AffineValTransform` (official code): the whole image letterboxed into `eval.input_size` by the affine warp
  (rotation 0, border 0, `eval.affine_convention`); `meta` carries the centre and scale the evaluator inverts.
* `FixedResizeValTransform` (the SegFormer parsers' own code): the photo resized to `eval.input_size` the way
  the reference resizes it: `"fashn_parser"` cv2.INTER_AREA (FashnHumanParser.predict), `"segformer_processor"`
  Pillow's BILINEAR on the RGB uint8 image (transformers' SegformerImageProcessorPil, the backend transformers
  uses when torchvision is not installed and the only one before transformers 5).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import cv2
import numpy as np
from PIL import Image

from humanparse.data.geometry import check_affine_convention, get_affine_transform, image_center_scale
from humanparse.data.transforms.common import label_tensor
from humanparse.data.transforms.normalize import check_normalization, normalize_image
from humanparse.data.transforms.sssegmentation import resize_dsize


def _val_sample(image, label: Optional[np.ndarray], meta: Dict[str, Any]) -> Dict[str, Any]:
    sample: Dict[str, Any] = {"image": image, "meta": meta}
    if label is not None:
        sample["label"] = label_tensor(label)
    return sample


class ResizeValTransform:
    """SSSegmentation's test pipeline: Resize (no random scale), Normalize, ToTensor; call as `t(image, label)`."""

    def __init__(
        self, input_size: Sequence[int], keep_ratio: bool, keep_ratio_size: Sequence[int], normalization: str
    ) -> None:
        self.output_size = tuple(keep_ratio_size) if keep_ratio else tuple(input_size)
        self.keep_ratio = keep_ratio
        self.normalization = check_normalization(normalization)

    def __call__(self, image: np.ndarray, label: Optional[np.ndarray] = None) -> Dict[str, Any]:
        height, width = image.shape[:2]
        dsize = resize_dsize((height, width), self.output_size, self.keep_ratio)
        resized = cv2.resize(image, dsize, interpolation=cv2.INTER_LINEAR)
        meta = {"original_size": (height, width), "input_size": (dsize[1], dsize[0])}
        return _val_sample(normalize_image(resized, self.normalization), label, meta)


class AffineValTransform:
    """The official evaluation input: the affine letterbox with rotation 0; call as `t(image, label)`."""

    def __init__(self, input_size: Sequence[int], normalization: str, convention: str = "size") -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.normalization = check_normalization(normalization)
        self.convention = check_affine_convention(convention)

    def __call__(self, image: np.ndarray, label: Optional[np.ndarray] = None) -> Dict[str, Any]:
        height, width = image.shape[:2]
        center, scale = image_center_scale(width, height, self.input_size)
        matrix = get_affine_transform(center, scale, 0, self.input_size, convention=self.convention)
        warped = cv2.warpAffine(
            image,
            matrix,
            (self.input_size[1], self.input_size[0]),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        meta = {
            "original_size": (height, width),
            "center": [float(c) for c in center],
            "scale": [float(s) for s in scale],
            "input_size": self.input_size,
        }
        return _val_sample(normalize_image(warped, self.normalization), label, meta)


# protocol -> how it resizes the photo to the network input
FIXED_RESIZE_PROTOCOLS = ("fashn_parser", "segformer_processor")


class FixedResizeValTransform:
    """The photo resized to `input_size` (H, W) as a SegFormer reference does it (`protocol`, see the module
    docstring), then normalised; call as `t(image, label)`."""

    def __init__(self, input_size: Sequence[int], protocol: str, normalization: str) -> None:
        if protocol not in FIXED_RESIZE_PROTOCOLS:
            raise ValueError(f"not a fixed-resize protocol: {protocol!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.protocol = protocol
        self.normalization = check_normalization(normalization)

    def __call__(self, image: np.ndarray, label: Optional[np.ndarray] = None) -> Dict[str, Any]:
        height, width = image.shape[:2]
        dsize = (self.input_size[1], self.input_size[0])
        if self.protocol == "fashn_parser":
            resized = cv2.resize(image, dsize, interpolation=cv2.INTER_AREA)  # per channel: BGR or RGB alike
        else:
            rgb = Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))
            resized = np.asarray(rgb.resize(dsize, resample=Image.BILINEAR))[:, :, ::-1]
        meta = {"original_size": (height, width), "input_size": self.input_size}
        return _val_sample(normalize_image(resized, self.normalization), label, meta)
