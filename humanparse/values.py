"""The values a user gives for the test-time protocol, parsed and checked here once, with the same limits
wherever they come from (a recipe, the command line, a request to the server).

A front end may be stricter only through a documented limit (`ScaleLimits`), never through a check of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

from humanparse.errors import ConfigError

RESIZE_PROTOCOLS = ("resize", "fashn_parser", "segformer_processor")
"""The protocols whose logits are resized straight to the photo: SSSegmentation's resize, and the SegFormer
references' fixed resizes (FashnHumanParser.predict's cv2.INTER_AREA, SegformerImageProcessor's PIL bilinear)."""
PROTOCOLS = ("resize", "affine", "fashn_parser", "segformer_processor")
"""`eval.protocol`: the resize protocols, or the official CE2P/SCHP letterbox with the inverse warp."""
PREDICT_SCRIPTS = ("evaluate", "simple_extractor")
"""`eval.predict_script`: which reference script `predict` reproduces."""
PIPELINES = ("sssegmentation", "sssegmentation_voc", "affine")
"""`data.pipeline`: the train augmentation."""
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def check_choice(key: str, value: str, choices: Sequence[str]) -> str:
    """`value` when it is one of `choices`; else ConfigError "unknown KEY 'value'; choose from ..."."""
    if value not in choices:
        raise ConfigError(f"unknown {key} {value!r}; choose from {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class ScaleLimits:
    """A stricter bound on test scales than "positive and finite": at most `max_count`, each in [low, high]."""

    max_count: int
    low: float
    high: float


def check_scales(
    scales: Sequence[float], name: str = "--scales (eval.scales)", limits: Optional[ScaleLimits] = None
) -> Tuple[float, ...]:
    """Test scales as floats: at least one, each positive and finite (and within `limits` when given)."""
    scales = tuple(float(scale) for scale in scales)
    if limits is not None and (
        not scales
        or len(scales) > limits.max_count
        or any(not limits.low <= scale <= limits.high for scale in scales)
    ):
        raise ConfigError(
            f"{name} takes 1 to {limits.max_count} numbers in [{limits.low}, {limits.high}], got {scales}"
        )
    if not scales or any(not math.isfinite(scale) or scale <= 0 for scale in scales):
        raise ConfigError(f"{name} must be positive finite numbers, got {list(scales)}")
    return scales


# The longest side of any image the network is given or trained on (a size, or a size times a test scale).
# Far above every recipe (473, 512; VOC's 2048 x 1.75); a larger value is a typo that would need tens of GB.
MAX_SIDE = 8192


def working_size_problem(size: Sequence[int], scales: Sequence[float]) -> Optional[str]:
    """Why a network input of `size` (H, W) at test `scales` is too large (over MAX_SIDE a side), or None: the one
    check of the working size, for recipes, stored configs and --scales alike."""
    largest = max(size) * max(scales)
    if not math.isfinite(largest) or largest > MAX_SIDE:
        return (
            f"{size[0]}x{size[1]} at scale {max(scales):g} makes a network input of {largest:.0f} px a side; "
            f"at most {MAX_SIDE} px are supported"
        )
    return None


def parse_scales(
    texts: Iterable[str], name: str = "scales", limits: Optional[ScaleLimits] = None
) -> Tuple[float, ...]:
    """Scales written as text, comma-separated (`"0.75,1,1.25"`, possibly over several values), checked."""
    texts = list(texts)
    parts = [part.strip() for value in texts for part in value.split(",") if part.strip()]
    try:
        scales = [float(part) for part in parts]
    except ValueError as error:
        raise ConfigError(f"{name} must be numbers separated by commas, got {','.join(texts)!r}") from error
    return check_scales(scales, name, limits)


def parse_flag(text: str, name: str) -> bool:
    """A yes/no value written as text (true/false, yes/no, on/off, 1/0; any case)."""
    word = text.lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise ConfigError(f"{name} must be true or false, got {word!r}")
    return word in TRUE_WORDS
