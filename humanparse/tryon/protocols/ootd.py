"""OOTDiffusion's and IDM-VTON's try-on inputs: the 19-class parse map (ATR + neck) and the agnostic masks.

What their preprocessing does, step by step, written from how it behaves (their code is CC BY-NC-SA and not
used here):

1. The photo (decoded by PIL, no EXIF rotation) is resized bicubically to 768x1024, then to 384x512 for parsing.
2. ATR (at 512) and LIP (at 473) label maps of the 384x512 photo, each by SCHP's simple_extractor protocol.
3. Upper clothes are hole-filled around the arms: on the ATR map with a 1-pixel zero border, the region
   upper-clothes + arms has its holes filled and becomes upper clothes; the arms, and the filled holes larger than
   2000 px (the gaps between arm and body), keep their own labels again.
4. Neck (18): pixels ATR calls face (11) and LIP does not (LIP face is 13).
5. The agnostic mask (`agnostic_mask`) from the map and the arm keypoints, per category and model type.
6. The masks are resized NEAREST to 768x1024 and the masked area painted grey (127) in the photo.

Every array operation is chosen so that the outputs are pixel-equal to theirs, including the integer truncations
and OpenCV's contour functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
from PIL import Image, ImageDraw

from humanparse.data.labels import voc_palette
from humanparse.errors import ConfigError
from humanparse.tryon.protocol import NetworkRole, TryonProtocol

PHOTO_SIZE = (768, 1024)  # (width, height) of the try-on model's photo and masks
PARSE_SIZE = (384, 512)  # (width, height) of the parse map and the keypoints' frame
CATEGORIES = ("upper_body", "lower_body", "dresses")
MODEL_TYPES = ("hd", "dc")
ARM_WIDTH = {"hd": 60, "dc": 45}  # px at a 512-pixel height
NECK = 18
NUM_CLASSES = 19
GREY = 127
_MIN_HOLE_AREA = 2000  # px: filled holes this large between cloth and arm keep their labels
_WRIST_EXTENSION = 1.2  # the arm band runs past the wrist, 1.2 x the forearm from the elbow

# ATR ids (humanparse.data.labels "atr") used below
HAT, SUNGLASSES, UPPER, SKIRT, PANTS, DRESS = 1, 3, 4, 5, 6, 7
LEFT_SHOE, RIGHT_SHOE, FACE, LEFT_LEG, RIGHT_LEG, LEFT_ARM, RIGHT_ARM, BAG = 9, 10, 11, 12, 13, 14, 15, 16
LIP_FACE = 13
_KERNEL = np.ones((5, 5), np.uint8)
_CONTOURS = (cv2.RETR_CCOMP, cv2.CHAIN_APPROX_TC89_L1)


def palette() -> np.ndarray:
    """The 19 colours of the parse map (the VOC bit-interleaved map), uint8 (19, 3)."""
    return voc_palette(NUM_CLASSES)


# ------------------------------------------------------------------------------------------------ the parse map
def _fill_holes(binary: np.ndarray) -> np.ndarray:
    """uint8 0/255 `binary` with every region not reachable from the corner (0, 0) set to 255."""
    flooded = binary.copy()
    cv2.floodFill(flooded, np.zeros((binary.shape[0] + 2, binary.shape[1] + 2), np.uint8), (0, 0), 255)
    return binary | (255 - flooded)


def _areas(contours) -> list:
    return [abs(cv2.contourArea(contour, True)) for contour in contours]


def fill_upper_clothes(atr: np.ndarray) -> np.ndarray:
    """Step 3: the ATR map with the holes of upper clothes + arms filled as upper clothes, except the arms and the
    large holes, which keep their labels. `atr` (H, W) integer labels; returns int64 (H, W)."""
    padded = np.pad(atr.astype(np.int64), 1)
    arms = (padded == LEFT_ARM) | (padded == RIGHT_ARM)
    filled = _fill_holes(np.where((padded == UPPER) | arms, 255, 0).astype(np.uint8)) == 255
    as_upper = np.where(filled, UPPER, padded)
    # holes: filled, not upper clothes before, not arm
    holes = (filled & (padded != UPPER) & ~arms).astype(np.uint8) * 255
    contours, _ = cv2.findContours(holes, *_CONTOURS)
    keep = np.zeros(padded.shape, np.uint8)
    for contour, area in zip(contours, _areas(contours)):
        if area > _MIN_HOLE_AREA:
            cv2.drawContours(keep, [contour], -1, color=255, thickness=-1)
    keep = keep + arms.astype(np.uint8)  # uint8 on purpose: an arm inside a kept hole wraps to 0 there too
    return np.where(keep != 0, padded, as_upper)[1:-1, 1:-1]


def parse_map(atr: np.ndarray, lip: np.ndarray) -> np.ndarray:
    """Steps 3-4: the uint8 19-class map from the ATR and LIP label maps of the 384x512 photo."""
    filled = fill_upper_clothes(atr)
    neck = (filled == FACE) & (lip != LIP_FACE)
    return np.where(neck, NECK, filled).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- the agnostic mask
def _classes(parse: np.ndarray, *ids: int) -> np.ndarray:
    return np.isin(parse, ids)


def _arm_band(
    shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray, width: int, wrist_first: bool
) -> np.ndarray:
    """The band drawn along shoulder-elbow-(extended) wrist with a ring at the shoulder, as a bool (512, 384)."""
    band = Image.new("L", PARSE_SIZE)
    draw = ImageDraw.Draw(band)
    wrist = elbow + _WRIST_EXTENSION * (wrist - elbow)
    points = (wrist, elbow, shoulder) if wrist_first else (shoulder, elbow, wrist)
    # integer pixel coordinates as unsigned 16-bit values (a point off the top or left wraps around, as theirs)
    draw.line(np.concatenate(points).astype(np.uint16).tolist(), "white", width, "curve")
    half = width // 2
    box = [shoulder[0] - half, shoulder[1] - half, shoulder[0] + half, shoulder[1] + half]
    draw.arc(box, 0, 360, "white", width // 2)
    return np.asarray(band) != 0


def agnostic_mask(
    parse: np.ndarray, keypoints: Optional[np.ndarray], category: str, model_type: str
) -> np.ndarray:
    """Step 5: the (512, 384) bool mask of what the try-on model repaints.

    `parse`: the 19-class map at 384x512. `keypoints`: (18, 2) OpenPose body points in the 384x512 frame with
    [0, 0] for a missing point, or None for none (pose-free: each arm is then taken from the parse map, as for
    an undetected wrist).
    """
    check_options(category, model_type)
    if parse.shape != PARSE_SIZE[::-1]:
        raise ConfigError(f"the parse map must be {PARSE_SIZE[0]}x{PARSE_SIZE[1]}, got {parse.shape[::-1]}")
    points = np.zeros((18, 2)) if keypoints is None else np.asarray(keypoints, dtype=np.float64)
    head = _classes(parse, HAT, SUNGLASSES, FACE)
    fixed = _classes(parse, LEFT_SHOE, RIGHT_SHOE, HAT, SUNGLASSES, BAG)
    arms_left, arms_right = parse == LEFT_ARM, parse == RIGHT_ARM
    if category == "dresses":
        repaint = _classes(parse, DRESS, UPPER, SKIRT, PANTS)
    elif category == "upper_body":
        repaint = _classes(parse, UPPER, DRESS)
        fixed |= _classes(parse, SKIRT, PANTS)
    else:
        repaint = _classes(parse, PANTS, LEFT_LEG, RIGHT_LEG, SKIRT)
        fixed |= _classes(parse, UPPER, LEFT_ARM, RIGHT_ARM)
    changeable = ~fixed  # background, and everything not kept
    with_arms = category in ("upper_body", "dresses")
    if with_arms:
        width = ARM_WIDTH[model_type]
        # OpenPose: 2-4 right shoulder, elbow, wrist (the image's left); 5-7 the left arm
        bands = []
        for (shoulder, elbow, wrist), parsed, wrist_first in (
            (points[2:5], arms_right, False),
            (points[5:8], arms_left, True),
        ):
            if wrist[0] <= 1.0 and wrist[1] <= 1.0:  # no wrist: the arm as parsed
                bands.append(parsed)
            else:
                bands.append(_arm_band(shoulder, elbow, wrist, width, wrist_first))
        band_right, band_left = bands
        fixed |= (arms_left & ~band_left) | (arms_right & ~band_right)  # hands outside the band are kept
    fixed |= head
    repaint = cv2.dilate(repaint.astype(np.float32), _KERNEL, iterations=5) != 0
    if with_arms:
        neck = cv2.dilate((parse == NECK).astype(np.float32), _KERNEL, iterations=1) != 0
        repaint |= neck & ~head
        repaint |= cv2.dilate((band_left | band_right).astype(np.float32), _KERNEL, iterations=4) != 0
    keep = (changeable & ~repaint) | fixed
    inpaint = np.where(keep, 0, 255).astype(np.uint8)
    inpaint = np.pad(inpaint[1:-1, 1:-1], 1)  # a zero border, so the flood fill starts outside
    return _largest_region(_fill_holes(inpaint)) != 0


def _largest_region(binary: np.ndarray) -> np.ndarray:
    """uint8 0/255: the (filled) contour of `binary` with the largest area; all zero when there is none."""
    contours, _ = cv2.findContours(binary, *_CONTOURS)
    result = np.zeros_like(binary)
    if contours:
        areas = _areas(contours)
        cv2.drawContours(result, contours, areas.index(max(areas)), color=255, thickness=-1)
    return result


def check_options(category: str, model_type: str) -> None:
    if category not in CATEGORIES:
        raise ConfigError(f"--category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"--model-type must be one of {', '.join(MODEL_TYPES)}, not {model_type!r}")


# ------------------------------------------------------------------------------------------------- the photo
def prepare_photo(image: Image.Image) -> Tuple[np.ndarray, np.ndarray]:
    """Steps 1: (the RGB 768x1024 photo, the BGR 384x512 parsing input), both uint8, from a decoded photo."""
    photo = image.convert("RGB").resize(PHOTO_SIZE, Image.BICUBIC)
    small = photo.resize(PARSE_SIZE, Image.BICUBIC)
    return np.asarray(photo), np.ascontiguousarray(np.asarray(small)[:, :, ::-1])


def composite(photo: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Step 6's picture: the RGB photo with the (1024, 768) 0/255 mask's area grey."""
    return np.where(mask[:, :, None] != 0, np.uint8(GREY), photo).astype(np.uint8)


def upscale(mask: np.ndarray) -> np.ndarray:
    """A (512, 384) uint8 mask resized NEAREST (PIL's, as theirs) to (1024, 768)."""
    return np.asarray(Image.fromarray(mask).resize(PHOTO_SIZE, Image.NEAREST))


@dataclass(frozen=True)
class TryonInputs:
    """What the try-on model takes: the parse map (384x512), the masks and the masked photo (768x1024)."""

    parse: np.ndarray  # uint8 (512, 384), 19 classes
    mask: np.ndarray  # uint8 (1024, 768), 0/255
    mask_gray: np.ndarray  # uint8 (1024, 768), 0/127
    masked: np.ndarray  # uint8 (1024, 768, 3) RGB


def tryon_inputs(
    parse: np.ndarray,
    photo: np.ndarray,
    keypoints: Optional[np.ndarray],
    category: str = "upper_body",
    model_type: str = "hd",
) -> TryonInputs:
    """Steps 5-6 from the parse map and the 768x1024 RGB photo."""
    small = agnostic_mask(parse, keypoints, category, model_type).astype(np.uint8)
    mask = upscale(small * 255)
    return TryonInputs(parse, mask, upscale(small * GREY), composite(photo, mask))


class OotdProtocol(TryonProtocol):
    """OOTDiffusion / IDM-VTON (and Leffa, which copies it): `run/utils_ootd.py`, `gradio_demo/utils_mask.py`."""

    name = "ootd"
    roles = (
        NetworkRole("atr", "schp_resnet101_atr", "ootd_parsing_atr"),
        NetworkRole("lip", "schp_resnet101_lip", "ootd_parsing_lip"),
    )
    suffixes = ("_parse.png", "_mask.png", "_mask_gray.png", "_masked.png")

    def __init__(self, category: str = "upper_body", model_type: str = "hd") -> None:
        check_options(category, model_type)
        self.category = category
        self.model_type = model_type

    def prepare(self, image: Image.Image) -> Tuple[np.ndarray, np.ndarray]:
        return prepare_photo(image)

    def combine(self, labels: Dict[str, np.ndarray]) -> np.ndarray:
        return parse_map(labels["atr"], labels["lip"])

    def outputs(
        self, parse: np.ndarray, photo: np.ndarray, keypoints: Optional[np.ndarray]
    ) -> Dict[str, Image.Image]:
        result = tryon_inputs(parse, photo, keypoints, self.category, self.model_type)
        parse_png = Image.fromarray(result.parse, mode="P")
        parse_png.putpalette(palette().reshape(-1).tolist())
        return {
            "_parse.png": parse_png,
            "_mask.png": Image.fromarray(result.mask),
            "_mask_gray.png": Image.fromarray(result.mask_gray),
            "_masked.png": Image.fromarray(result.masked),
        }
