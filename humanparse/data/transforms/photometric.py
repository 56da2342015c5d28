"""Colour augmentations on BGR uint8 images.

* `photometric_distortion`: SSSegmentation's (mmseg's) PhotoMetricDistortion.
* `augmentation_block`: CDGNet/CSENet's `AugmentationBlock`: one of Gaussian blur, colour jitter or grayscale,
  chosen uniformly and applied with probability 0.5, on the RGB PIL image.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

BRIGHTNESS_DELTA = 32
CONTRAST_RANGE = (0.5, 1.5)
SATURATION_RANGE = (0.5, 1.5)
HUE_DELTA = 18

# torchvision ColorJitter(0.1026, 0.0935, 0.8386, 0.1592) as CDGNet/CSENet build it
JITTER_BRIGHTNESS = 0.1026
JITTER_CONTRAST = 0.0935
JITTER_SATURATION = 0.8386
JITTER_HUE = 0.1592
BLUR_RADIUS = 2


def _convert(image: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    return np.clip(image.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def photometric_distortion(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """mmseg PhotoMetricDistortion: brightness, contrast (before or after), saturation, hue; each p=0.5."""
    if rng.integers(2):
        image = _convert(image, beta=rng.uniform(-BRIGHTNESS_DELTA, BRIGHTNESS_DELTA))
    mode = rng.integers(2)
    if mode == 1 and rng.integers(2):
        image = _convert(image, alpha=rng.uniform(*CONTRAST_RANGE))
    if rng.integers(2):
        # SSSegmentation converts the BGR image with COLOR_RGB2HSV / COLOR_HSV2RGB (a quirk kept for parity)
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        hsv[..., 1] = _convert(hsv[..., 1], alpha=rng.uniform(*SATURATION_RANGE))
        image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if rng.integers(2):
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)  # same quirk
        hsv[..., 0] = (hsv[..., 0].astype(int) + rng.integers(-HUE_DELTA, HUE_DELTA)) % 180
        image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    if mode == 0 and rng.integers(2):
        image = _convert(image, alpha=rng.uniform(*CONTRAST_RANGE))
    return image


class PassesGaussianBlur(ImageFilter.MultibandFilter):
    """Pillow's extended-box Gaussian blur with an explicit number of box passes.

    CSENet calls the old core API with 2 passes, CDGNet with Pillow's default 3 (`ImageFilter.GaussianBlur`).
    """

    name = "GaussianBlur"

    def __init__(self, radius: float, passes: int) -> None:
        self.radius = radius
        self.passes = passes

    def filter(self, image):
        return image.gaussian_blur((self.radius, self.radius), self.passes)


def _adjust_hue(image: Image.Image, factor: float) -> Image.Image:
    hue, saturation, value = image.convert("HSV").split()
    shifted = np.asarray(hue, dtype=np.uint8) + np.uint8(int(factor * 255) % 256)  # wraps like torchvision
    return Image.merge("HSV", (Image.fromarray(shifted, "L"), saturation, value)).convert("RGB")


def color_jitter(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """torchvision ColorJitter on a PIL image: the four adjustments in a random order."""
    brightness = rng.uniform(max(0.0, 1 - JITTER_BRIGHTNESS), 1 + JITTER_BRIGHTNESS)
    contrast = rng.uniform(max(0.0, 1 - JITTER_CONTRAST), 1 + JITTER_CONTRAST)
    saturation = rng.uniform(max(0.0, 1 - JITTER_SATURATION), 1 + JITTER_SATURATION)
    hue = rng.uniform(-JITTER_HUE, JITTER_HUE)
    for step in rng.permutation(4):
        if step == 0:
            image = ImageEnhance.Brightness(image).enhance(brightness)
        elif step == 1:
            image = ImageEnhance.Contrast(image).enhance(contrast)
        elif step == 2:
            image = ImageEnhance.Color(image).enhance(saturation)
        else:
            image = _adjust_hue(image, hue)
    return image


def augmentation_block(image_bgr: np.ndarray, rng: np.random.Generator, blur_passes: int) -> np.ndarray:
    """CDGNet/CSENet AugmentationBlock on a BGR uint8 image: blur, jitter or grayscale, applied with p=0.5."""
    choice = rng.integers(3)
    if rng.random() < 0.5:  # the reference applies it when random.random() >= 0.5
        return image_bgr
    image = Image.fromarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
    if choice == 0:
        image = image.filter(PassesGaussianBlur(BLUR_RADIUS, blur_passes))
    elif choice == 1:
        image = color_jitter(image, rng)
    else:
        image = image.convert("L").convert("RGB")
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
