"""Synthetic people written in the real dataset layouts, so every reader, the demo and the tests run offline.

Each image holds one person (one to three for CIHP and VOC) drawn with OpenCV polygons over a cluttered
background: head with face and hair (sometimes a hat or sunglasses), upper clothes, a coat or a dress, pants,
shorts or a skirt, arms, legs and shoes. People face the camera, so the person's left arm is on the image's right,
as the datasets define it. Each clothing class has its own colour family and texture so that a small network can
learn the classes in minutes; skin parts share the person's skin tone and differ by where they are.

Images are JPEG, labels PNG (grayscale; VOC's are palette PNGs with the VOC colours and a 255 border, as in VOC).
Everything is drawn from `numpy.random.default_rng([seed, split, index])`: the same seed gives the same files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import cv2
import numpy as np

from humanparse.data.io import label_png
from humanparse.data.labels import IGNORE_INDEX, canonical_layout, get_label_set, get_palette

SYNTH_LAYOUTS = ("lip", "cihp", "atr", "voc", "ppp", "folder")

# Canonical parts, drawn back to front; each layout maps them onto its classes.
_LIP_IDS = {
    "hat": 1, "hair": 2, "sunglasses": 4, "upper_clothes": 5, "dress": 6, "coat": 7, "pants": 9, "skirt": 12,
    "face": 13, "left_arm": 14, "right_arm": 15, "left_leg": 16, "right_leg": 17, "left_shoe": 18,
    "right_shoe": 19,
}  # fmt: skip
_ATR_IDS = {
    "hat": 1, "hair": 2, "sunglasses": 3, "upper_clothes": 4, "coat": 4, "skirt": 5, "pants": 6, "dress": 7,
    "face": 11, "left_shoe": 9, "right_shoe": 10, "left_leg": 12, "right_leg": 13, "left_arm": 14,
    "right_arm": 15, "bag": 16,
}  # fmt: skip
# Pascal-Person-Part labels body parts whatever covers them; `_upper`/`_lower` name the limb segments.
_PPP_IDS = {
    "hat": 1, "hair": 1, "sunglasses": 1, "face": 1, "upper_clothes": 2, "coat": 2, "dress": 2, "skirt": 2,
    "pants_upper": 5, "pants_lower": 6, "arm_upper": 3, "arm_lower": 4, "leg_upper": 5, "leg_lower": 6,
    "shoe": 6, "sleeve": 3, "coat_sleeve_lower": 4,
}  # fmt: skip
_HEAD_SCALE = 1.25
_HEAD_TOP = 0.06  # top margin (fraction of the image) that keeps a hat in the frame
_SHOE_SIZE = (0.075, 0.047)
_VOC_PERSON = 15
_VOC_OBJECTS = {"bottle": 5, "chair": 9, "pottedplant": 16, "tvmonitor": 20}

Polygon = np.ndarray  # (N, 2) float points


@dataclass
class Part:
    """One drawn piece: polygons in the person's frame, its canonical name, PPP name and appearance."""

    name: str
    polygons: List[Polygon]
    ppp: str
    texture: str  # key of _TEXTURES, or "skin"


# ---------------------------------------------------------------------------------------------- shapes
def _ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 20) -> Polygon:
    angles = np.linspace(0, 2 * math.pi, points, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def _capsule(p0, p1, w0: float, w1: float) -> List[Polygon]:
    """A limb segment from p0 to p1, half-widths w0 and w1, with round ends."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    direction = p1 - p0
    length = max(float(np.hypot(*direction)), 1e-6)
    normal = np.array([-direction[1], direction[0]]) / length
    quad = np.stack([p0 + w0 * normal, p1 + w1 * normal, p1 - w1 * normal, p0 - w0 * normal])
    return [quad, _ellipse(p0[0], p0[1], w0, w0, 12), _ellipse(p1[0], p1[1], w1, w1, 12)]


def _limb_points(root, angle_deg: float, bend_deg: float, lengths: Tuple[float, float]):
    """Joint positions of a two-segment limb; angle 0 points straight down."""
    root = np.asarray(root, float)
    a0 = math.radians(angle_deg)
    middle = root + lengths[0] * np.array([math.sin(a0), math.cos(a0)])
    a1 = math.radians(angle_deg + bend_deg)
    end = middle + lengths[1] * np.array([math.sin(a1), math.cos(a1)])
    return root, middle, end


def _lerp(p0, p1, t: float) -> np.ndarray:
    return np.asarray(p0, float) + t * (np.asarray(p1, float) - np.asarray(p0, float))


# ---------------------------------------------------------------------------------------------- a person
def _person_parts(rng: np.random.Generator) -> Tuple[List[Part], Dict[str, np.ndarray]]:
    """The parts of one front-facing person, back to front, in a frame where the person is 1 unit tall, and its
    arm joints ("left_shoulder", ..., "right_wrist") in that frame."""
    parts: List[Part] = []
    joints: Dict[str, np.ndarray] = {}
    upper_style = rng.choice(["shirt", "coat", "dress"], p=[0.55, 0.25, 0.2])
    lower_style = (
        "none" if upper_style == "dress" else rng.choice(["pants", "shorts", "skirt"], p=[0.35, 0.35, 0.3])
    )
    shoulder_y, hip_y, ankle_y = 0.2, 0.53, 0.93
    shoulder_x = rng.uniform(0.11, 0.13)
    hip_x = rng.uniform(0.095, 0.11)

    # legs (the person's left leg on the image's right: x > 0), then shoes
    legs = {}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        spread = rng.uniform(-4, 14)
        knee_bend = rng.uniform(-10, 10)
        root = (sign * 0.055, hip_y)
        length = (ankle_y - hip_y) / 2
        legs[side] = _limb_points(root, sign * spread, sign * knee_bend, (length, length))
    for side, (hip, knee, ankle) in legs.items():
        parts.append(Part(f"{side}_leg", _capsule(hip, knee, 0.062, 0.052), "leg_upper", "skin"))
        parts.append(Part(f"{side}_leg", _capsule(knee, ankle, 0.052, 0.044), "leg_lower", "skin"))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        ankle = legs[side][2]
        shoe = _ellipse(ankle[0] + sign * 0.018, ankle[1] + 0.025, *_SHOE_SIZE)
        parts.append(Part(f"{side}_shoe", [shoe], "shoe", "shoes"))

    # lower clothes
    if lower_style in ("pants", "shorts"):
        for side in ("left", "right"):
            hip, knee, ankle = legs[side]
            parts.append(Part("pants", _capsule(hip, knee, 0.066, 0.056), "pants_upper", "pants"))
            if lower_style == "pants":
                parts.append(
                    Part(
                        "pants",
                        _capsule(knee, _lerp(knee, ankle, 0.92), 0.056, 0.048),
                        "pants_lower",
                        "pants",
                    )
                )
            else:
                parts.append(
                    Part(
                        "pants", _capsule(knee, _lerp(knee, ankle, 0.1), 0.056, 0.055), "pants_lower", "pants"
                    )
                )
        waist = np.array(
            [
                [-hip_x, hip_y - 0.04],
                [hip_x, hip_y - 0.04],
                [hip_x + 0.005, hip_y + 0.03],
                [-hip_x - 0.005, hip_y + 0.03],
            ]
        )
        parts.append(Part("pants", [waist], "pants_upper", "pants"))
    elif lower_style == "skirt":
        flare = rng.uniform(0.14, 0.2)
        bottom = rng.uniform(0.63, 0.72)
        skirt = np.array(
            [[-hip_x + 0.01, hip_y - 0.05], [hip_x - 0.01, hip_y - 0.05], [flare, bottom], [-flare, bottom]]
        )
        parts.append(Part("skirt", [skirt], "skirt", "skirt"))

    # torso clothes
    torso_bottom = {"shirt": hip_y + 0.02, "coat": hip_y + 0.1, "dress": rng.uniform(0.66, 0.75)}[upper_style]
    bottom_half = {"shirt": hip_x + 0.01, "coat": hip_x + 0.04, "dress": rng.uniform(0.16, 0.22)}[upper_style]
    torso = np.array(
        [[-shoulder_x, shoulder_y], [-0.04, shoulder_y - 0.012], [0.04, shoulder_y - 0.012], [shoulder_x, shoulder_y],
         [shoulder_x - 0.015, 0.36], [hip_x - 0.005, hip_y - 0.05], [bottom_half, torso_bottom],
         [-bottom_half, torso_bottom], [-hip_x + 0.005, hip_y - 0.05], [-shoulder_x + 0.015, 0.36]]
    )  # fmt: skip
    torso_name = {"shirt": "upper_clothes", "coat": "coat", "dress": "dress"}[upper_style]
    parts.append(Part(torso_name, [torso], torso_name, torso_name))
    if upper_style == "coat":  # an open coat shows the shirt down the middle
        gap = rng.uniform(0.025, 0.04)
        shirt = np.array(
            [[-gap, shoulder_y + 0.01], [gap, shoulder_y + 0.01], [gap * 1.3, hip_y], [-gap * 1.3, hip_y]]
        )
        parts.append(Part("upper_clothes", [shirt], "upper_clothes", "upper_clothes"))

    # arms, with sleeves of the torso's clothes
    sleeve = rng.choice([0.0, 0.45, 1.0], p=[0.25, 0.5, 0.25]) if upper_style != "coat" else 1.0
    for side, sign in (("left", 1.0), ("right", -1.0)):
        raise_angle = rng.uniform(8, 70) if rng.random() < 0.8 else rng.uniform(70, 130)
        elbow_bend = rng.uniform(-40, 40) if rng.random() < 0.7 else rng.uniform(40, 100)
        root = (sign * (shoulder_x - 0.02), shoulder_y + 0.025)
        shoulder, elbow, wrist = _limb_points(root, sign * raise_angle, sign * elbow_bend, (0.16, 0.15))
        joints.update({f"{side}_shoulder": shoulder, f"{side}_elbow": elbow, f"{side}_wrist": wrist})
        hand = _lerp(elbow, wrist, 1.18)
        parts.append(Part(f"{side}_arm", _capsule(shoulder, elbow, 0.04, 0.035), "arm_upper", "skin"))
        parts.append(Part(f"{side}_arm", _capsule(elbow, wrist, 0.035, 0.03), "arm_lower", "skin"))
        parts.append(Part(f"{side}_arm", [_ellipse(hand[0], hand[1], 0.03, 0.03, 12)], "arm_lower", "skin"))
        if sleeve > 0:
            sleeve_name = "coat" if upper_style == "coat" else torso_name
            upper_end = elbow if sleeve >= 1.0 else _lerp(shoulder, elbow, sleeve)
            parts.append(
                Part(sleeve_name, _capsule(shoulder, upper_end, 0.047, 0.043), "sleeve", sleeve_name)
            )
            if sleeve >= 1.0:
                cuff = _lerp(elbow, wrist, 0.9)
                parts.append(
                    Part(sleeve_name, _capsule(elbow, cuff, 0.043, 0.038), "coat_sleeve_lower", sleeve_name)
                )

    # head: long hair behind the face, neck, face, hair on top, then hat and sunglasses
    head_x, head_y = rng.uniform(-0.01, 0.01), 0.1
    first_head_part = len(parts)
    long_hair = rng.random() < 0.35
    if long_hair:
        back = np.array(
            [[head_x - 0.075, head_y], [head_x + 0.075, head_y], [head_x + 0.07, 0.28], [head_x - 0.07, 0.28]]
        )
        parts.append(Part("hair", [back], "hair", "hair"))
    neck = np.array(
        [
            [-0.025, head_y + 0.05],
            [0.025, head_y + 0.05],
            [0.028, shoulder_y + 0.005],
            [-0.028, shoulder_y + 0.005],
        ]
    )
    parts.append(Part("face", [neck], "face", "skin"))
    parts.append(Part("hair", [_ellipse(head_x, head_y - 0.012, 0.07, 0.08)], "hair", "hair"))
    parts.append(Part("face", [_ellipse(head_x, head_y + 0.012, 0.058, 0.07)], "face", "skin"))
    features = [
        _ellipse(head_x - 0.022, head_y + 0.005, 0.011, 0.009, 10),
        _ellipse(head_x + 0.022, head_y + 0.005, 0.011, 0.009, 10),
        _ellipse(head_x, head_y + 0.045, 0.022, 0.007, 12),
    ]
    parts.append(Part("face", features, "face", "features"))  # eyes and mouth: a face looks like a face
    fringe = _ellipse(head_x, head_y - 0.05, 0.066, 0.035)
    parts.append(Part("hair", [fringe], "hair", "hair"))
    if rng.random() < 0.4:
        crown = _ellipse(head_x, head_y - 0.045, 0.07, 0.05)
        brim = np.array(
            [
                [head_x - 0.095, head_y - 0.05],
                [head_x + 0.095, head_y - 0.05],
                [head_x + 0.09, head_y - 0.02],
                [head_x - 0.09, head_y - 0.02],
            ]
        )
        parts.append(Part("hat", [crown, brim], "hat", "hat"))
    if rng.random() < 0.4:
        glasses = np.array(
            [
                [head_x - 0.064, head_y - 0.02],
                [head_x + 0.064, head_y - 0.02],
                [head_x + 0.058, head_y + 0.045],
                [head_x - 0.058, head_y + 0.045],
            ]
        )
        parts.append(Part("sunglasses", [glasses], "sunglasses", "sunglasses"))
    # cartoon proportions: a big head (about the neck, which keeps its size) is easier to learn at low resolution
    anchor = np.array([head_x, shoulder_y])
    for part in parts[first_head_part:]:
        if part.polygons[0] is not neck:
            part.polygons = [anchor + (polygon - anchor) * _HEAD_SCALE for polygon in part.polygons]
    return parts, joints


# ---------------------------------------------------------------------------------------------- textures
# (hue range, saturation range, value range) in OpenCV HSV (hue 0-180) and the pattern of each class.
_COLOURS: Dict[str, Tuple[Tuple[int, int], Tuple[int, int], Tuple[int, int], str]] = {
    "upper_clothes": ((95, 118), (150, 255), (120, 230), "stripes"),
    "coat": ((128, 148), (110, 220), (70, 170), "noise"),
    "dress": ((160, 178), (150, 255), (150, 250), "dots"),
    "pants": ((70, 90), (120, 230), (60, 160), "vertical"),
    "skirt": ((0, 180), (0, 40), (200, 250), "checks"),  # black and white: unlike skin or shoes
    "hat": ((0, 5), (190, 255), (140, 230), "plain"),
    "hair": ((5, 20), (60, 160), (15, 70), "noise"),
    "shoes": ((38, 62), (130, 230), (90, 210), "plain"),
    "sunglasses": ((0, 180), (0, 30), (5, 30), "plain"),
    "skin": ((6, 16), (60, 140), (130, 235), "plain"),
    "features": ((0, 20), (60, 160), (20, 70), "plain"),
    "bag": ((40, 55), (120, 220), (90, 200), "plain"),
}


def _hsv_colour(rng: np.random.Generator, key: str) -> np.ndarray:
    (h0, h1), (s0, s1), (v0, v1), _ = _COLOURS[key]
    hsv = np.array(
        [[[rng.integers(h0, h1 + 1), rng.integers(s0, s1 + 1), rng.integers(v0, v1 + 1)]]], np.uint8
    )

    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def _texture(rng: np.random.Generator, key: str, shape: Tuple[int, int], unit: float) -> np.ndarray:
    """A (H, W, 3) float32 BGR pattern of class family `key`; `unit` is the person's height in pixels."""
    h, w = shape
    base = _hsv_colour(rng, key)
    pattern = _COLOURS[key][3]
    other = base * (rng.uniform(0.15, 0.3) if pattern == "checks" else rng.uniform(0.55, 0.8))  # darker shade
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(4.0, unit * rng.uniform(0.06, 0.09))  # coarse enough to survive downsampling
    if pattern == "stripes":
        mask = (np.sin(yy * (2 * math.pi / period)) > 0)[..., None]
    elif pattern == "vertical":
        mask = (np.sin(xx * (2 * math.pi / period)) > 0.6)[..., None]
    elif pattern == "checks":
        mask = ((np.floor(yy / period) + np.floor(xx / period)) % 2 == 0)[..., None]
    elif pattern == "dots":
        mask = (
            (np.mod(yy, period) - period / 2) ** 2 + (np.mod(xx, period) - period / 2) ** 2
            < (period / 4) ** 2
        )[..., None]
    else:
        mask = np.zeros((h, w, 1), bool)
    texture = np.where(mask, other, base)
    noise = 12.0 if pattern == "noise" else 5.0
    return texture + rng.normal(0.0, noise, size=(h, w, 1)).astype(np.float32)


def _background(rng: np.random.Generator, shape: Tuple[int, int]) -> np.ndarray:
    """A muted gradient with random shapes: rectangles, circles and lines."""
    h, w = shape
    top, bottom = rng.uniform(40, 210, size=3), rng.uniform(40, 210, size=3)
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    image = (top * (1 - ramp) + bottom * ramp) * np.ones((h, w, 3), np.float32)
    for _ in range(int(rng.integers(3, 10))):
        colour = tuple(float(c) for c in _muted(rng))
        kind = rng.integers(0, 3)
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        if kind == 0:
            cv2.rectangle(
                image,
                (x, y),
                (x + int(rng.integers(10, w // 2)), y + int(rng.integers(10, h // 2))),
                colour,
                -1,
            )
        elif kind == 1:
            cv2.circle(image, (x, y), int(rng.integers(5, max(6, w // 6))), colour, -1)
        else:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(image, (x, y), end, colour, int(rng.integers(1, 5)))
    return image + rng.normal(0.0, 6.0, size=(h, w, 1)).astype(np.float32)


def _muted(rng: np.random.Generator) -> np.ndarray:
    grey = rng.uniform(40, 220)
    return np.clip(grey + rng.normal(0, 25, size=3), 0, 255)


# ---------------------------------------------------------------------------------------------- drawing
@dataclass
class _Canvas:
    image: np.ndarray  # float32 (H, W, 3) BGR
    parts: np.ndarray  # int16 (H, W): index into `names` + 1, 0 = background
    names: List[Tuple[str, str]]  # (canonical, ppp) names of the drawn part ids

    def paint(self, polygons: List[np.ndarray], texture: np.ndarray, name: Tuple[str, str]) -> None:
        mask = np.zeros(self.parts.shape, np.uint8)
        for polygon in polygons:  # one call each: a single fillPoly call would XOR the overlaps into holes
            cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
        where = mask.astype(bool)
        if name not in self.names:
            self.names.append(name)
        self.parts[where] = self.names.index(name) + 1
        self.image[where] = texture[where]


def _draw_person(
    canvas: _Canvas, rng: np.random.Generator, centre_x: float, top_y: float, height: float
) -> Dict[str, np.ndarray]:
    """Paint one person; returns its arm joints in the image's pixels (x, y)."""
    shape = canvas.parts.shape
    angle = math.radians(rng.uniform(-12, 12))
    girth = rng.uniform(1.15, 1.35)  # wider than life: thicker limbs and parts at low resolution
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) * height
    rotation = rotation @ np.diag([girth, 1.0])
    origin = np.array([centre_x, top_y])
    skin = _texture(rng, "skin", shape, height)
    textures: Dict[str, np.ndarray] = {"skin": skin}
    parts, joints = _person_parts(rng)
    for part in parts:
        if part.texture not in textures:
            textures[part.texture] = _texture(rng, part.texture, shape, height)
        polygons = [p @ rotation.T + origin for p in part.polygons]
        canvas.paint(polygons, textures[part.texture], (part.name, part.ppp))
    return {name: point @ rotation.T + origin for name, point in joints.items()}


def _draw_object(canvas: _Canvas, rng: np.random.Generator, name: str) -> None:
    """A simple VOC object (bottle, chair, potted plant, TV) at a random place."""
    h, w = canvas.parts.shape
    size = rng.uniform(0.15, 0.35) * min(h, w)
    x, y = rng.uniform(0, w - size * 0.6), rng.uniform(h * 0.2, h - size * 0.5)
    if name == "bottle":
        polygons = [np.array([[x, y + size * 0.35], [x + size * 0.3, y + size * 0.35], [x + size * 0.3, y + size], [x, y + size]]),
                    np.array([[x + size * 0.1, y], [x + size * 0.2, y], [x + size * 0.2, y + size * 0.35], [x + size * 0.1, y + size * 0.35]])]  # fmt: skip
    elif name == "tvmonitor":
        polygons = [np.array([[x, y], [x + size, y], [x + size, y + size * 0.7], [x, y + size * 0.7]])]
    elif name == "pottedplant":
        polygons = [np.array([[x + size * 0.2, y + size * 0.6], [x + size * 0.6, y + size * 0.6], [x + size * 0.55, y + size], [x + size * 0.25, y + size]]),
                    _ellipse(x + size * 0.4, y + size * 0.35, size * 0.35, size * 0.3)]  # fmt: skip
    else:  # chair
        polygons = [np.array([[x, y], [x + size * 0.15, y], [x + size * 0.15, y + size], [x, y + size]]),
                    np.array([[x, y + size * 0.5], [x + size * 0.6, y + size * 0.5], [x + size * 0.6, y + size * 0.6], [x, y + size * 0.6]]),
                    np.array([[x + size * 0.5, y + size * 0.5], [x + size * 0.6, y + size * 0.5], [x + size * 0.6, y + size], [x + size * 0.5, y + size]])]  # fmt: skip
    colour = _muted(rng) * 0.5 + rng.uniform(0, 255, size=3) * 0.5
    texture = np.ones(canvas.image.shape, np.float32) * colour.astype(np.float32)
    canvas.paint(polygons, texture, (name, name))


def _occlude(canvas: _Canvas, rng: np.random.Generator) -> None:
    """A background-coloured box in front of the people (labelled background)."""
    h, w = canvas.parts.shape
    bw, bh = int(rng.uniform(0.15, 0.35) * w), int(rng.uniform(0.1, 0.3) * h)
    x = int(rng.integers(0, w - bw)) if w > bw else 0
    y = int(rng.integers(h // 3, h - bh)) if h - bh > h // 3 else 0
    colour = tuple(float(c) for c in _muted(rng))
    cv2.rectangle(canvas.image, (x, y), (x + bw, y + bh), colour, -1)
    canvas.parts[y : y + bh, x : x + bw] = 0


# OpenPose body points 2-7 (right shoulder, elbow, wrist; left shoulder, elbow, wrist): the person's own sides
OPENPOSE_ARMS = ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist")


def render_sample(
    layout: str, size: Tuple[int, int], rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray]:
    """One synthetic image (BGR uint8) and its label map (uint8, the layout's class ids)."""
    image, label, _ = render_person(layout, size, rng)
    return image, label


def render_person(
    layout: str, size: Tuple[int, int], rng: np.random.Generator
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`render_sample`'s image and label map (the same for the same `rng`), and the body keypoints of its first
    person: (18, 2) OpenPose points (x, y) in the image's pixels, the arms (2-7) drawn and the rest (0, 0)."""
    h, w = size
    canvas = _Canvas(_background(rng, (h, w)), np.zeros((h, w), np.int16), [])
    multi = layout in ("cihp", "voc")
    people = int(rng.integers(1, 4)) if multi else 1
    keypoints = np.zeros((18, 2))
    if layout == "voc":
        for name in rng.choice(list(_VOC_OBJECTS), size=int(rng.integers(0, 3)), replace=False):
            _draw_object(canvas, rng, str(name))
    for index in range(people):
        fraction = rng.uniform(0.72, 0.9) if people == 1 else rng.uniform(0.5, 0.85)
        if people == 1:
            centre_x = w * rng.uniform(0.3, 0.7)
        else:
            centre_x = w * (index + rng.uniform(0.3, 0.7)) / people
        # the figure spans about [-0.05, 1.0] of its height: most people stand wholly in the frame (feet
        # included), some are cropped at the bottom
        lowest_top = max(_HEAD_TOP, 1.0 - fraction)
        top = rng.uniform(_HEAD_TOP, lowest_top) if rng.random() < 0.9 else rng.uniform(0.15, 0.3)
        joints = _draw_person(canvas, rng, centre_x, h * top, h * fraction)
        if index == 0:
            keypoints[2:8] = [joints[name] for name in OPENPOSE_ARMS]
    if rng.random() < 0.15:
        _occlude(canvas, rng)
    image = np.clip(canvas.image, 0, 255).astype(np.uint8)
    image = cv2.GaussianBlur(image, (3, 3), 0.6)
    label = _layout_labels(layout, canvas)
    return image, label, keypoints


def _layout_labels(layout: str, canvas: _Canvas) -> np.ndarray:
    lookup = np.zeros(len(canvas.names) + 1, np.uint8)
    for index, (name, ppp) in enumerate(canvas.names, start=1):
        if layout == "voc":
            lookup[index] = _VOC_OBJECTS.get(name, _VOC_PERSON)
        elif layout == "ppp":
            lookup[index] = _PPP_IDS[ppp if ppp in _PPP_IDS else name]
        elif layout == "atr":
            lookup[index] = _ATR_IDS[name]
        else:
            lookup[index] = _LIP_IDS[name]
    label = lookup[canvas.parts]
    if layout == "voc":  # VOC outlines every object with the ignore value
        kernel = np.ones((3, 3), np.uint8)
        border = cv2.dilate(label, kernel) != cv2.erode(label, kernel)
        label[border] = IGNORE_INDEX
    return label


# ---------------------------------------------------------------------------------------------- layouts
@dataclass(frozen=True)
class _LayoutPaths:
    root: Path  # what to pass as the data root
    image: Callable[[str, str], Path]  # (split, id) -> path
    label: Callable[[str, str], Path]
    id_list: Callable[[str], Path]
    split_name: Callable[[str], str]  # "train"/"val" -> the split the reader is asked for
    image_id: Callable[[str, int], str]


def _layout_paths(layout: str, out: Path) -> _LayoutPaths:
    identity = lambda split: split  # noqa: E731
    plain_id = lambda split, i: f"{split}_{i:06d}"  # noqa: E731
    if layout in ("lip", "ppp"):
        return _LayoutPaths(
            out,
            lambda s, i: out / f"{s}_images" / f"{i}.jpg",
            lambda s, i: out / f"{s}_segmentations" / f"{i}.png",
            lambda s: out / f"{s}_id.txt",
            identity,
            plain_id,
        )
    if layout == "cihp":
        folder = {"train": "Training", "val": "Validation"}
        return _LayoutPaths(
            out,
            lambda s, i: out / folder[s] / "Images" / f"{i}.jpg",
            lambda s, i: out / folder[s] / "Category_ids" / f"{i}.png",
            lambda s: out / folder[s] / f"{s}_id.txt",
            identity,
            lambda s, i: f"{i + 1:07d}",
        )
    if layout == "atr":
        return _LayoutPaths(
            out,
            lambda s, i: out / "JPEGImages" / f"{i}.jpg",
            lambda s, i: out / "SegmentationClassAug" / f"{i}.png",
            lambda s: out / f"{s}_id.txt",
            identity,
            plain_id,
        )
    if layout == "voc":
        base = out / "VOCdevkit" / "VOC2012"
        return _LayoutPaths(
            out,
            lambda s, i: base / "JPEGImages" / f"{i}.jpg",
            lambda s, i: base / "SegmentationClass" / f"{i}.png",
            lambda s: base / "ImageSets" / "Segmentation" / f"{s}.txt",
            lambda split: "trainaug" if split == "train" else split,
            lambda s, i: f"{2007 if s == 'train' else 2008}_{i:06d}",
        )
    if layout == "folder":
        return _LayoutPaths(
            out,
            lambda s, i: out / "images" / f"{i}.jpg",
            lambda s, i: out / "labels" / f"{i}.png",
            lambda s: out / f"{s}_id.txt",
            identity,
            plain_id,
        )
    raise ValueError(f"unknown synthetic layout {layout!r}; choose from {', '.join(SYNTH_LAYOUTS)}")


def layout_num_classes(layout: str) -> int:
    """Number of classes of a synthetic layout (folder uses LIP's 20)."""
    return get_label_set("lip" if layout == "folder" else canonical_layout(layout)).num_classes


def _write_label(path: Path, label: np.ndarray, layout: str) -> None:
    if layout == "voc":  # VOC ships palette PNGs
        label_png(label, "voc").save(path)
    elif not cv2.imwrite(str(path), label):
        raise OSError(f"cannot write {path}")


def generate_dataset(
    layout: str,
    out,
    train: int,
    val: int,
    size: Tuple[int, int] = (256, 256),
    seed: int = 0,
    preview: bool = False,
    progress: Optional[Callable[[int], None]] = None,
) -> Path:
    """Write `train` + `val` synthetic people in `layout`'s real layout under `out`; return the data root.

    `layout` is one of lip, cihp, atr, voc, ppp, folder (folder: `images/`, `labels/`, `{split}_id.txt`, LIP
    classes). With `preview`, `out/preview.png` shows the first training images beside their labels.
    `progress`, when given, is called with 1 after each written sample.
    """
    if layout not in SYNTH_LAYOUTS:
        raise ValueError(f"unknown synthetic layout {layout!r}; choose from {', '.join(SYNTH_LAYOUTS)}")
    out = Path(out)
    paths = _layout_paths(layout, out)
    shown: List[Tuple[np.ndarray, np.ndarray]] = []
    for split_index, (split, count) in enumerate((("train", train), ("val", val))):
        name = paths.split_name(split)
        ids = [paths.image_id(split, i) for i in range(count)]
        for i, image_id in enumerate(ids):
            rng = np.random.default_rng([seed, split_index, i])
            image, label = render_sample(layout, size, rng)
            image_path, label_path = paths.image(split, image_id), paths.label(split, image_id)
            image_path.parent.mkdir(parents=True, exist_ok=True)
            label_path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(image_path), image, [cv2.IMWRITE_JPEG_QUALITY, 92]):
                raise OSError(f"cannot write {image_path}")
            _write_label(label_path, label, layout)
            if split == "train" and len(shown) < 8:
                shown.append((image, label))
            if progress is not None:
                progress(1)
        list_path = paths.id_list(name)
        list_path.parent.mkdir(parents=True, exist_ok=True)
        list_path.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
    if preview and shown:
        write_contact_sheet(out / "preview.png", shown)
    return paths.root


def write_contact_sheet(path: Path, samples: List[Tuple[np.ndarray, np.ndarray]], columns: int = 4) -> Path:
    """A PNG of images beside their labels coloured with the LIP palette (ignore pixels white)."""
    palette = get_palette("lip")[:, ::-1].copy()  # BGR
    palette[IGNORE_INDEX] = 255
    tiles = [cv2.hconcat([image, palette[label]]) for image, label in samples]
    height, width = tiles[0].shape[:2]
    tiles = [cv2.resize(t, (width, height), interpolation=cv2.INTER_NEAREST) for t in tiles]
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [cv2.hconcat(tiles[r : r + columns]) for r in range(0, len(tiles), columns)]
    cv2.imwrite(str(path), cv2.vconcat(rows))
    return path
