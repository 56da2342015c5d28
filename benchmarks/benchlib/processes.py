"""Whole processes, process start included: the environment they run in, their timing, the order they take
turns in, and the label PNGs they leave behind."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


class ProcessFailed(RuntimeError):
    """A timed process exited non-zero or ran past its time limit; the message ends with its stderr."""


def benchmark_env(*paths: Path, **extra: str) -> Dict[str, str]:
    """This environment with the checkout (then `paths`) first on PYTHONPATH: the processes run this tree's
    humanparse; `extra` variables are set."""
    path = os.pathsep.join(filter(None, [str(ROOT), *map(str, paths), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, **extra)


def timed_run(command: Sequence[str], env: Mapping[str, str], timeout: Optional[float] = None) -> float:
    """Wall-clock seconds of one process from start to exit; raises ProcessFailed on failure or timeout."""
    start = time.perf_counter()
    try:
        result = subprocess.run(list(command), capture_output=True, text=True, env=dict(env), timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise ProcessFailed(f"{' '.join(command[:5])} ...: more than {timeout:.0f} s") from error
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise ProcessFailed(
            f"{' '.join(command[:5])} ... exited {result.returncode}: {result.stderr[-3000:]}"
        )
    return seconds


def round_order(sides: Sequence[str], round_index: int) -> List[str]:
    """The order the sides run in a round: as given in even rounds, reversed in odd ones, so that neither side
    always runs first (after the other's page cache and frequency) or last."""
    return list(sides) if round_index % 2 == 0 else list(reversed(sides))


def read_labels(path: Path) -> np.ndarray:
    """A label PNG's class ids: palette indices of an indexed PNG, the values of a grey one."""
    from PIL import Image

    with Image.open(path) as picture:
        if picture.mode not in ("P", "L", "I", "I;16"):
            raise ValueError(f"{path}: not a label map (PNG mode {picture.mode})")
        return np.asarray(picture)


def label_equality(ours: Path, theirs: Path, stems: Sequence[str]) -> float:
    """The share of label pixels equal between two folders of `<stem>.png`, over all the photos' pixels."""
    if not stems:
        raise ValueError("no photos to compare")
    equal = total = 0
    for stem in stems:
        a, b = read_labels(ours / f"{stem}.png"), read_labels(theirs / f"{stem}.png")
        if a.shape != b.shape:
            raise ValueError(f"{stem}.png: {a.shape} in {ours}, {b.shape} in {theirs}")
        equal += int(np.count_nonzero(a == b))
        total += a.size
    return equal / total
