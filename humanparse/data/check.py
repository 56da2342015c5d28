"""Scan a whole dataset and collect every problem, each naming its file (what `humanparse check-data` prints).

The checks are the readers' own (`humanparse.data.io`, `humanparse.data.datasets`), run on every sample instead of
stopping at the first failure: missing id list or folder, empty list, missing image or label, unreadable or
truncated image, label with several channels, 16 bits or values outside [0, K) other than 255, and image/label
size mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

from humanparse.data.datasets import duplicate_ids, locate_split
from humanparse.data.io import check_same_size, read_image, read_label
from humanparse.data.labels import canonical_layout, class_info
from humanparse.errors import DataError
from humanparse.progress import progress_bar as progress


@dataclass
class SplitReport:
    """What the scan of one split found."""

    split: str
    samples: int = 0  # ids listed
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_split(
    config,
    split: str,
    progress: Optional[Callable[[int], None]] = None,
    on_total: Optional[Callable[[int], None]] = None,
) -> SplitReport:
    """Check every sample of `split` of `config.data`; `progress(1)` after each, `on_total(n)` once the count is known."""
    data = config.data
    layout = canonical_layout(data.dataset)
    report = SplitReport(split)
    try:
        num_classes = class_info(layout, data).num_classes
        files = locate_split(layout, data.root, split, data)
    except DataError as error:
        report.problems.append(str(error))
        return report
    report.samples = len(files.ids)
    if on_total is not None:
        on_total(report.samples)
    if not files.ids:
        report.problems.append(f"split {split!r} is empty: no ids in {files.list_path}")
        return report
    repeated = duplicate_ids(files.ids)
    if repeated:
        shown = ", ".join(repeated[:10]) + (", ..." if len(repeated) > 10 else "")
        report.problems.append(f"{files.list_path}: {len(repeated)} id(s) listed more than once: {shown}")
    for index in range(len(files.ids)):
        label_path = files.label_paths[index] if files.label_paths is not None else None
        report.problems.extend(check_sample(files.image_paths[index], label_path, num_classes))
        if progress is not None:
            progress(1)
    return report


def check_sample(image_path: str, label_path: Optional[str], num_classes: int) -> List[str]:
    """Every problem of one image/label pair, as messages naming the file(s)."""
    problems: List[str] = []
    image = label = None
    try:
        image = read_image(image_path)
    except DataError as error:
        problems.append(str(error))
    if label_path is not None:
        try:
            label = read_label(label_path, num_classes)
        except DataError as error:
            problems.append(str(error))
    if image is not None and label is not None:
        try:
            check_same_size(image, label, image_path, label_path)
        except DataError as error:
            problems.append(str(error))
    return problems


def check_dataset(config, splits: Sequence[str], progress_bar: bool = True) -> List[SplitReport]:
    """Check each split in turn with a progress bar per split; return one report per split."""
    reports = []
    for split in splits:
        with progress(desc=f"checking {split}", unit="img", disable=not progress_bar) as bar:
            reports.append(check_split(config, split, progress=bar.update, on_total=_setter(bar)))
    return reports


def _setter(bar) -> Callable[[int], None]:
    def set_total(total: int) -> None:
        bar.total = total
        bar.refresh()

    return set_total
