"""Named conversions between the human-parsing label sets: LIP (20), ATR (18), CIHP (20), Pascal-Person-Part (7),
FASHN (18) and OOTDiffusion's ATR + neck (19).

Each class of each set lists, in order, the body/garment concepts it covers. A source class goes to the target
class that holds its first concept held by exactly one target class; a concept that several target classes hold
(LIP's left and right arm for FASHN's "arms") or that none holds gives no target (saved as 255). The tables are in
docs/label_sets.md (`conversion_table`).

    conversion = get_conversion("lip", "atr")
    atr_labels = conversion.apply(lip_labels)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np

from humanparse.data.labels import IGNORE_INDEX, get_label_set
from humanparse.errors import ConfigError

NO_TARGET = IGNORE_INDEX

_LIP = {
    "background": ["background"], "hat": ["hat"], "hair": ["hair"], "glove": ["glove"],
    "sunglasses": ["sunglasses"], "upper_clothes": ["upper_clothes"], "dress": ["dress"], "coat": ["coat"],
    "socks": ["socks"], "pants": ["pants"], "jumpsuits": ["jumpsuits"], "scarf": ["scarf"], "skirt": ["skirt"],
    "face": ["face"], "left_arm": ["left_arm", "arm"], "right_arm": ["right_arm", "arm"],
    "left_leg": ["left_leg", "leg"], "right_leg": ["right_leg", "leg"], "left_shoe": ["left_shoe", "shoe"],
    "right_shoe": ["right_shoe", "shoe"],
}  # fmt: skip
_CIHP = {  # LIP's classes with 10 = torso skin in place of jumpsuits
    (name if name != "jumpsuits" else "torso_skin"): (concepts if name != "jumpsuits" else ["torso_skin"])
    for name, concepts in _LIP.items()
}
_ATR = {
    "background": ["background"], "hat": ["hat"], "hair": ["hair"], "sunglasses": ["sunglasses"],
    "upper_clothes": ["upper_clothes", "coat"], "skirt": ["skirt"], "pants": ["pants"],
    "dress": ["dress", "jumpsuits"], "belt": ["belt"], "left_shoe": ["left_shoe", "shoe"],
    "right_shoe": ["right_shoe", "shoe"], "face": ["face", "neck"], "left_leg": ["left_leg", "leg"],
    "right_leg": ["right_leg", "leg"], "left_arm": ["left_arm", "arm"], "right_arm": ["right_arm", "arm"],
    "bag": ["bag"], "scarf": ["scarf"],
}  # fmt: skip
_OOTD = {**{name: [c for c in concepts if c != "neck"] for name, concepts in _ATR.items()}, "neck": ["neck"]}
_PASCAL = {
    "background": ["background", "bag"],
    "head": ["head", "face", "hat", "hair", "sunglasses", "neck"],
    "torso": ["torso", "upper_clothes", "torso_skin", "coat", "dress", "jumpsuits", "scarf", "belt"],
    "upper_arms": ["upper_arm"],
    "lower_arms": ["lower_arm", "hands"],
    "upper_legs": ["upper_leg"],
    "lower_legs": ["lower_leg", "shoe", "socks"],
}
_FASHN = {
    "background": ["background"], "face": ["face"], "hair": ["hair"], "top": ["upper_clothes", "coat"],
    "dress": ["dress", "jumpsuits"], "skirt": ["skirt"], "pants": ["pants"], "belt": ["belt"], "bag": ["bag"],
    "hat": ["hat"], "scarf": ["scarf"], "glasses": ["sunglasses"], "arms": ["arm"], "hands": ["hands", "glove"],
    "legs": ["leg"], "feet": ["shoe", "socks"], "torso": ["torso_skin"], "jewelry": ["jewelry"],
}  # fmt: skip
FASHN_CLASSES = tuple(_FASHN)  # FASHN's human parser, ids 0..17 in this order
OOTD_CLASSES = tuple(_OOTD)  # ATR's 18 classes and 18 = neck

CONCEPTS: Dict[str, Dict[str, List[str]]] = {
    "lip": _LIP,
    "atr": _ATR,
    "cihp": _CIHP,
    "pascal_person_part": _PASCAL,
    "fashn": _FASHN,
    "ootd": _OOTD,
}
LABEL_SET_NAMES = tuple(CONCEPTS)
_ALIASES = {
    "ppp": "pascal_person_part",
    "pascal": "pascal_person_part",
    "pascal-person-part": "pascal_person_part",
}


def canonical_name(name: str) -> str:
    key = _ALIASES.get(name.lower(), name.lower().replace("-", "_"))
    if key not in CONCEPTS:
        raise ConfigError(f"unknown label set {name!r}; choose from {', '.join(LABEL_SET_NAMES)}")
    return key


def class_names(name: str) -> Tuple[str, ...]:
    """The classes of a label set, in id order (from humanparse.data.labels where it holds the set)."""
    key = canonical_name(name)
    try:
        names = get_label_set(key).classes
    except KeyError:  # OOTDiffusion's 19 classes are defined here
        names = tuple(CONCEPTS[key])
    if tuple(names) != tuple(CONCEPTS[key]):
        raise AssertionError(f"the concept table of {key} is out of step with its classes")
    return tuple(names)


@dataclass(frozen=True)
class Conversion:
    """Source ids -> target ids: `lookup` (256 entries, 255 = no target), and what the mapping loses."""

    source: str
    target: str
    lookup: np.ndarray
    no_target: Tuple[str, ...]  # source classes without a target class
    merged: Dict[str, Tuple[str, ...]]  # target class -> the several source classes it receives

    @property
    def palette(self) -> str:
        """The palette of the target's PNGs: VOC's for Pascal-Person-Part and OOTDiffusion's map, else LIP's."""
        return "voc" if self.target in ("pascal_person_part", "ootd") else "lip"

    def apply(self, labels: np.ndarray) -> np.ndarray:
        """The uint8 label map in the target's ids (255 stays 255)."""
        return self.lookup[np.asarray(labels, dtype=np.uint8)]

    def summary(self) -> str:
        """One line: which source classes have no target, and which merge."""
        parts = []
        if self.no_target:
            parts.append(f"no {self.target} class for {', '.join(self.no_target)} (saved as {NO_TARGET})")
        if self.merged:
            merges = "; ".join(f"{', '.join(sources)} -> {target}" for target, sources in self.merged.items())
            parts.append(f"merged: {merges}")
        return f"{self.source} -> {self.target}: " + (". ".join(parts) if parts else "one to one")


def _target_of(concepts: List[str], target: Dict[str, List[str]]) -> Optional[str]:
    for concept in concepts:
        holders = [name for name, held in target.items() if concept in held]
        if len(holders) == 1:
            return holders[0]
        if len(holders) > 1:
            return None  # ambiguous (e.g. left or right): no target
    return None


def get_conversion(source: str, target: str) -> Conversion:
    """The conversion between two named label sets (see LABEL_SET_NAMES)."""
    source, target = canonical_name(source), canonical_name(target)
    source_names, target_names = class_names(source), class_names(target)
    lookup = np.full(256, NO_TARGET, dtype=np.uint8)
    no_target: List[str] = []
    received: Dict[str, List[str]] = {}
    for index, name in enumerate(source_names):
        goal = _target_of(CONCEPTS[source][name], CONCEPTS[target])
        if goal is None:
            no_target.append(name)
            continue
        lookup[index] = target_names.index(goal)
        received.setdefault(goal, []).append(name)
    merged = {goal: tuple(names) for goal, names in received.items() if len(names) > 1}
    return Conversion(source, target, lookup, tuple(no_target), merged)


def conversion_table(source: str, target: str) -> str:
    """A Markdown table of a conversion (for docs/label_sets.md)."""
    conversion = get_conversion(source, target)
    target_names = class_names(conversion.target)
    rows = [f"| {conversion.source} | {conversion.target} |", "|---|---|"]
    for index, name in enumerate(class_names(conversion.source)):
        value = int(conversion.lookup[index])
        shown = "no target (255)" if value == NO_TARGET else f"{value} {target_names[value]}"
        rows.append(f"| {index} {name} | {shown} |")
    return "\n".join(rows)


def converted_labels(dataset: str, target: str) -> Conversion:
    """The conversion from a recipe's `data.dataset` (its label set) to `target` (`predict --to`)."""
    from humanparse.data.labels import canonical_layout

    source = canonical_layout(dataset)
    if source not in CONCEPTS:
        raise ConfigError(
            f"--to converts between human-parsing label sets; the recipe's dataset is {dataset!r}"
        )
    return get_conversion(source, target)
