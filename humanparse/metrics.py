"""Segmentation metrics from a confusion matrix: mIoU, pixel accuracy, mean accuracy, frequency-weighted IoU.

Two averaging conventions, both reported by name (`miou_over`):

* `"present"` (SSSegmentation's `Evaluation`): a class's IoU is NaN when its union is empty and the means are
  NaN-means, so classes that appear in neither the labels nor the predictions do not count.
* `"all"` (official CE2P/CDGNet/CSENet `compute_mean_ioU`): IoU = tp / max(1, union), accuracy
  = tp / max(1, gt pixels), plain means over all K classes.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch
import torch.distributed as dist

from humanparse.data.labels import IGNORE_INDEX

MIOU_CONVENTIONS = ("present", "all")


def _as_numpy(values: Any) -> np.ndarray:
    if torch.is_tensor(values):
        return values.detach().cpu().numpy()
    return np.asarray(values)


class ConfusionMatrix:
    """A K x K pixel count matrix: rows are ground-truth classes, columns predicted classes.

    Pixels whose label is `ignore_index` or outside [0, K) are skipped.
    """

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)

    def update(self, pred: Any, label: Any) -> None:
        """Add one prediction/label pair (int arrays or tensors of equal shape)."""
        pred = _as_numpy(pred).astype(np.int64, copy=False)
        label = _as_numpy(label).astype(np.int64, copy=False)
        if pred.shape != label.shape:
            raise ValueError(f"prediction shape {pred.shape} differs from label shape {label.shape}")
        k = self.num_classes
        valid = (label != self.ignore_index) & (label >= 0) & (label < k)
        # predictions outside [0, K) would alias other cells; clip them into a class (they count as wrong)
        index = label[valid] * k + np.clip(pred[valid], 0, k - 1)
        self.matrix += np.bincount(index, minlength=k * k).reshape(k, k)

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add the counts of `other` (same number of classes) into this matrix; returns self."""
        if other.num_classes != self.num_classes:
            raise ValueError(f"cannot merge {other.num_classes}-class counts into {self.num_classes} classes")
        self.matrix += other.matrix
        return self

    def all_reduce(self) -> ConfusionMatrix:
        """Sum the counts over all processes when torch.distributed is initialised; returns self."""
        if dist.is_available() and dist.is_initialized():
            device = "cuda" if dist.get_backend() == "nccl" else "cpu"
            counts = torch.from_numpy(self.matrix).to(device)
            dist.all_reduce(counts)
            self.matrix = counts.cpu().numpy()
        return self

    def reset(self) -> None:
        self.matrix[:] = 0

    def compute(self, miou_over: str = "present") -> Dict[str, Any]:
        """The metrics as fractions in [0, 1]: mIoU, pixel_acc, mean_acc, fwIoU, per_class_iou (list)."""
        if miou_over not in MIOU_CONVENTIONS:
            raise ValueError(f"miou_over must be one of {MIOU_CONVENTIONS}, got {miou_over!r}")
        matrix = self.matrix.astype(np.float64)
        tp = np.diag(matrix)
        gt_pixels = matrix.sum(axis=1)
        pred_pixels = matrix.sum(axis=0)
        union = gt_pixels + pred_pixels - tp
        total = gt_pixels.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            if miou_over == "present":
                iou = np.where(union > 0, tp / union, np.nan)
                accuracy = np.where(gt_pixels > 0, tp / gt_pixels, np.nan)
                miou = float(np.nanmean(iou)) if np.any(union > 0) else float("nan")
                mean_acc = float(np.nanmean(accuracy)) if np.any(gt_pixels > 0) else float("nan")
            else:
                iou = tp / np.maximum(1.0, union)
                accuracy = tp / np.maximum(1.0, gt_pixels)
                miou = float(iou.mean())
                mean_acc = float(accuracy.mean())
            pixel_acc = float(tp.sum() / total) if total > 0 else float("nan")
            frequency = gt_pixels / total if total > 0 else np.zeros_like(gt_pixels)
        fw_iou = float(np.nansum(frequency * iou)) if total > 0 else float("nan")
        return {
            "mIoU": miou,
            "pixel_acc": pixel_acc,
            "mean_acc": mean_acc,
            "fwIoU": fw_iou,
            "per_class_iou": [float(value) for value in iou],
            "miou_over": miou_over,
        }
