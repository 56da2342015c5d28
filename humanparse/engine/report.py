"""Evaluation reports: a terminal table, a JSON file and two PNGs (per-class IoU bars, confusion matrix)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np

from humanparse.outputs import writing

SUMMARY_KEYS = ("mIoU", "pixel_acc", "mean_acc", "fwIoU")
NONFINITE_NOTE = "the network gave non-finite (NaN/inf) logits; these scores are meaningless"


def _percent(value: float) -> str:
    return "   n/a" if value is None or math.isnan(value) else f"{100 * value:6.2f}"


def format_table(results: Dict[str, Any]) -> str:
    """Per-class IoU and the summary metrics as a plain-text table (values in percent)."""
    names = list(results["per_class_iou"])
    width = max([len(name) for name in names] + [len("pixel_acc")])
    lines = [f"{'class':<{width}}  IoU (%)", "-" * (width + 9)]
    lines += [f"{name:<{width}}  {_percent(value)}" for name, value in results["per_class_iou"].items()]
    lines.append("-" * (width + 9))
    lines += [f"{key:<{width}}  {_percent(results[key])}" for key in SUMMARY_KEYS]
    scales = " ".join(f"{scale:g}" for scale in results.get("scales", []))
    lines.append(
        f"protocol {results.get('protocol')}, scales [{scales}], flip {results.get('flip')}, "
        f"mIoU over {results.get('miou_over')} classes, {results.get('num_images')} images"
    )
    if results.get("nonfinite_logits"):
        lines.append(f"WARNING: {NONFINITE_NOTE}")
    return "\n".join(lines)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None  # JSON has no NaN; a class absent from labels and predictions
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return value


def write_json(results: Dict[str, Any], path: Union[str, Path]) -> Path:
    """Write the results as JSON (NaN written as null); returns the path."""
    path = Path(path)
    with writing(path):
        path.write_text(json.dumps(_json_value(results), indent=2) + "\n")
    return path


def plot_class_iou(results: Dict[str, Any], path: Union[str, Path]) -> Path:
    """Horizontal bar chart of the per-class IoU, with the mIoU as a line (see `class_iou_figure`)."""
    return _save(class_iou_figure(results), path)


ABSENT = "absent"  # the label of a class with neither ground-truth nor predicted pixels (NaN IoU)


def class_iou_figure(results: Dict[str, Any]):
    """The per-class IoU bar chart as a matplotlib figure.

    A class absent from the split (no ground-truth and no predicted pixels: NaN IoU) gets no bar, a grey
    "absent" note and a grey name, so it is not read as IoU 0.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["per_class_iou"])
    ious = list(results["per_class_iou"].values())
    absent = [value is None or math.isnan(value) for value in ious]
    values = [0.0 if missing else 100 * value for value, missing in zip(ious, absent)]
    figure, axes = plt.subplots(figsize=(7, 0.3 * len(names) + 1.5))
    present = [row for row, missing in enumerate(absent) if not missing]
    axes.barh(present, [values[row] for row in present], color="tab:blue")
    axes.set_yticks(range(len(names)), names)
    for row, missing in enumerate(absent):
        if missing:
            axes.get_yticklabels()[row].set_color("grey")
            axes.text(1, row, ABSENT, color="grey", fontstyle="italic", va="center")
    axes.set_ylim(len(names) - 0.5, -0.5)  # first class on top
    axes.axvline(
        100 * results["mIoU"], color="tab:red", linestyle="--", label=f"mIoU {100 * results['mIoU']:.2f}"
    )
    axes.set_xlim(0, 100)
    axes.set_xlabel("IoU (%)")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


ANNOTATE_AT = 0.1  # off-diagonal cells of at least this fraction of their row get their number


def plot_confusion_matrix(results: Dict[str, Any], path: Union[str, Path]) -> Path:
    """The confusion matrix normalised per ground-truth row (recall), as an image (see `confusion_figure`)."""
    return _save(confusion_figure(results), path)


def confusion_cells(results: Dict[str, Any]) -> Dict[str, Any]:
    """What the confusion figure shows: the row-normalised matrix, the (row, column) cells it writes a number in
    (the diagonal of classes in the ground truth, and errors of at least ANNOTATE_AT of a row) and the marks of
    the rows without ground-truth pixels ({row: text})."""
    names: List[str] = list(results["per_class_iou"])
    matrix = np.asarray(results["confusion_matrix"], dtype=np.float64)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    cells = [
        (row, column)
        for row in range(len(names))
        for column in range(len(names))
        if rows[row, 0] > 0 and (row == column or normalised[row, column] >= ANNOTATE_AT)
    ]
    ious = list(results["per_class_iou"].values())
    marks = {
        row: ABSENT if ious[row] is None or math.isnan(ious[row]) else "no ground truth (only predicted)"
        for row in range(len(names))
        if rows[row, 0] == 0
    }
    return {"names": names, "normalised": normalised, "cells": cells, "marks": marks}


def confusion_figure(results: Dict[str, Any]):
    """The confusion matrix as a matplotlib figure: titled, its diagonal and large errors written in the cells
    (percent of the ground-truth row), and the rows of classes without ground-truth pixels marked in grey, as
    the per-class IoU chart marks them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = confusion_cells(results)
    names, normalised = shown["names"], shown["normalised"]
    size = 0.42 * len(names) + 2
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(names)), names, rotation=90)
    axes.set_yticks(range(len(names)), names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("ground truth")
    axes.set_title(
        f"Confusion matrix (% of each ground-truth class's pixels; mIoU {100 * results['mIoU']:.1f}%)\n"
        f"numbers: the diagonal and errors of at least {100 * ANNOTATE_AT:.0f}%",
        fontsize=10,
    )
    for row, column in shown["cells"]:
        value = normalised[row, column]
        axes.text(
            column, row, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
            color="white" if value > 0.5 else ("black" if row == column else "tab:red"),
        )  # fmt: skip
    for row, text in shown["marks"].items():
        axes.get_yticklabels()[row].set_color("grey")
        axes.text(-0.4, row, text, color="grey", fontstyle="italic", fontsize=7, va="center", ha="left")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="fraction of the class's pixels")
    figure.tight_layout()
    return figure


def _save(figure, path: Union[str, Path]) -> Path:
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with writing(path):
            figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
    return path


def report_files(json_path: Union[str, Path]) -> List[Path]:
    """What `write_report` writes: the JSON report, `<stem>_class_iou.png` and `<stem>_confusion.png`."""
    json_path = Path(json_path)
    stem = json_path.with_suffix("")
    return [json_path, Path(f"{stem}_class_iou.png"), Path(f"{stem}_confusion.png")]


def write_report(results: Dict[str, Any], json_path: Union[str, Path]) -> List[Path]:
    """The JSON report and, next to it, `<stem>_class_iou.png` and `<stem>_confusion.png`."""
    json_file, class_iou, confusion = report_files(json_path)
    return [
        write_json(results, json_file),
        plot_class_iou(results, class_iou),
        plot_confusion_matrix(results, confusion),
    ]
