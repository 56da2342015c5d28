"""What a training run reports, in one place: `train.log`, `log.jsonl`, TensorBoard, the progress bar and the
PNG curves.

Text goes through the standard `logging` module (logger "humanparse.train"), so a library user can silence or
redirect it; rank 0 adds a FileHandler writing `train.log`. `log.jsonl` holds one JSON object per iteration and
per evaluation (on resume, the lines after the checkpoint are dropped). TensorBoard is written when installed.
Only rank 0 reports; on the other ranks every method does nothing.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
from tqdm import tqdm

from humanparse.engine.plots import plot_training_curves
from humanparse.progress import progress_bar

LOGGER_NAME = "humanparse.train"
logger = logging.getLogger(LOGGER_NAME)
TEXT_LOG = "train.log"
JSON_LOG = "log.jsonl"


class RunLogger:
    """The reports of one run in `work_dir`.

    Args:
        work_dir: where train.log, log.jsonl, tensorboard/ and the plots go.
        enabled: False on every rank but 0.
        keep_until_iteration: on resume, the checkpoint's iteration (later log.jsonl lines are dropped);
            None for a new run (log.jsonl starts empty).
        log_interval: iterations between train.log lines (log.jsonl gets every iteration).
        progress: show a progress bar.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        enabled: bool,
        keep_until_iteration: Optional[int],
        log_interval: int,
        progress: bool,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.enabled = enabled
        self.log_interval = log_interval
        self.progress = progress and enabled
        self.bar: Optional[tqdm] = None
        self._handler: Optional[logging.Handler] = None
        self._json = None
        self._tensorboard = None
        if not enabled:
            return
        self._handler = logging.FileHandler(self.work_dir / TEXT_LOG, mode="a")
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(self._handler)
        if logger.level == logging.NOTSET:  # a level the user chose is kept
            logger.setLevel(logging.INFO)
        self._json = _open_json_log(self.work_dir / JSON_LOG, keep_until_iteration)
        self._tensorboard = _tensorboard_writer(self.work_dir / "tensorboard")

    # ---------------------------------------------------------------- text
    def info(self, message: str) -> None:
        """A line in train.log."""
        if self.enabled:
            logger.info(message)

    def note(self, message: str) -> None:
        """A line in train.log that is also shown on the console (through the bar while one is open)."""
        if self.enabled:
            logger.info(message)
            self._console(f"humanparse train: {message}")

    def _console(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message)
        else:
            print(message)

    # ---------------------------------------------------------------- progress bar
    def open_bar(self, total: int, initial: int) -> None:
        """The run's progress bar over all iterations (when `progress`)."""
        if self.progress:
            self.bar = progress_bar(total=total, initial=initial, unit="it")

    def start_epoch(self, epoch: int, epochs: int) -> None:
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch}/{epochs}")

    # ---------------------------------------------------------------- records
    def iteration(self, record: Dict[str, Any], max_iterations: int, epochs: int) -> None:
        """One training iteration: log.jsonl, TensorBoard, the bar, and train.log every `log_interval`."""
        if not self.enabled:
            return
        iteration = record["iteration"]
        self._write_json(record)
        if self._tensorboard is not None:
            for key, value in record.items():
                if key.startswith("loss") or key == "lr":
                    self._tensorboard.add_scalar(f"train/{key}", value, iteration)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}")
        if iteration % self.log_interval == 0 or iteration == max_iterations:
            terms = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k.startswith("loss"))
            self.info(
                f"epoch {record['epoch']}/{epochs} iteration {iteration}/{max_iterations} "
                f"lr={record['lr']:.6g} {terms}"
            )

    def evaluation(self, record: Dict[str, Any]) -> None:
        """A validation result: log.jsonl, TensorBoard, train.log and, with a bar, the console."""
        if not self.enabled:
            return
        self._write_json(record)
        if self._tensorboard is not None:
            for key in ("mIoU", "pixel_acc", "mean_acc", "fwIoU"):
                if record.get(key) is not None:
                    self._tensorboard.add_scalar(f"val/{key}", record[key], record["epoch"])
        message = f"validation after epoch {record['epoch']}: mIoU {100 * record['mIoU']:.2f}%"
        accuracy = record.get("pixel_acc")
        self.info(message + (f", pixel accuracy {100 * accuracy:.2f}%" if accuracy is not None else ""))
        if self.bar is not None:
            self.bar.write(message)

    def error(self, record: Dict[str, Any]) -> None:
        """The error that stops the run: log.jsonl and train.log."""
        if self.enabled:
            self._write_json(record)
            logger.error(record["message"])

    def _write_json(self, record: Dict[str, Any]) -> None:
        self._json.write(json.dumps(_json_safe(record)) + "\n")
        self._json.flush()

    def records(self) -> List[Dict[str, Any]]:
        """Every record of log.jsonl (the resumed run's earlier lines included)."""
        path = self.work_dir / JSON_LOG
        if not self.enabled or not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def plot(self) -> None:
        """loss.png, lr.png and val_miou.png from log.jsonl."""
        if self.enabled:
            plot_training_curves(self.records(), self.work_dir)

    def close(self) -> None:
        """Close the bar, the files and TensorBoard; the logger keeps no handler of this run."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self._handler is not None:
            logger.removeHandler(self._handler)
            self._handler.close()
            self._handler = None
        if self._json is not None:
            self._json.close()
            self._json = None
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None


def _open_json_log(path: Path, keep_until_iteration: Optional[int]):
    if keep_until_iteration is None:
        path.write_text("")
    elif path.is_file():
        kept = [line for line in path.read_text().splitlines() if _keep(line, keep_until_iteration)]
        path.write_text("".join(line + "\n" for line in kept))
    return path.open("a")


def _keep(line: str, until_iteration: int) -> bool:
    try:
        return json.loads(line).get("iteration", 0) <= until_iteration
    except ValueError:  # a line cut short when the run was killed
        return False


def _tensorboard_writer(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional (`pip install humanparse[tensorboard]`)
        return None
    return SummaryWriter(str(path))


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return _json_safe(value.item())
    return value
