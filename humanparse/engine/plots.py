"""Training curves as PNG files: loss, learning rate and validation mIoU, drawn from the log.jsonl records."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _moving_average(values: Sequence[float], window: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def _save(figure, path: Path) -> Path:
    # the Agg canvas is used directly, so plotting never touches (or needs) a display or pyplot's global state

    FigureCanvasAgg(figure)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path


def plot_training_curves(records: Iterable[Dict], out_dir: Union[str, Path]) -> List[Path]:
    """Write loss.png, lr.png and (once an evaluation has run) val_miou.png to `out_dir`; return their paths.

    `records` are the log.jsonl entries: {"type": "train", "iteration", "loss", "lr", ...} and
    {"type": "eval", "epoch", "mIoU", ...}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = list(records)
    train = [r for r in records if r.get("type") == "train"]
    evals = [r for r in records if r.get("type") == "eval" and r.get("mIoU") is not None]
    written: List[Path] = []
    if train:
        iterations = [r["iteration"] for r in train]
        losses = [r["loss"] for r in train]
        figure = Figure(figsize=(7, 4))
        axes = figure.add_subplot()
        axes.plot(iterations, losses, color="tab:blue", alpha=0.35, linewidth=0.8, label="per iteration")
        window = max(1, len(losses) // 50)
        if window > 1:
            smoothed = _moving_average(losses, window)
            axes.plot(iterations[window - 1 :], smoothed, color="tab:blue", label=f"mean of {window}")
        axes.set_xlabel("iteration")
        axes.set_ylabel("training loss")
        axes.set_title("Training loss")
        axes.grid(alpha=0.3)
        axes.legend()
        written.append(_save(figure, out_dir / "loss.png"))

        figure = Figure(figsize=(7, 4))
        axes = figure.add_subplot()
        axes.plot(iterations, [r["lr"] for r in train], color="tab:orange")
        axes.set_xlabel("iteration")
        axes.set_ylabel("learning rate")
        axes.set_title("Learning rate (poly schedule)")
        axes.grid(alpha=0.3)
        written.append(_save(figure, out_dir / "lr.png"))
    if evals:
        figure = Figure(figsize=(7, 4))
        axes = figure.add_subplot()
        axes.plot(
            [r["epoch"] for r in evals], [100 * r["mIoU"] for r in evals], marker="o", color="tab:green"
        )
        axes.set_xlabel("epoch")
        axes.set_ylabel("mIoU (%)")
        axes.set_title("Validation mIoU")
        axes.grid(alpha=0.3)
        written.append(_save(figure, out_dir / "val_miou.png"))
    return written
