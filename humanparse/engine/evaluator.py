"""`evaluate`: score a model on a validation split with its recipe's test protocol.

Under DDP every rank scores its own shard (sample i goes to rank i % world) and the confusion matrices are summed.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import torch
import torch.distributed as dist
from torch import nn

from humanparse.inference.tta import Forward, TestTimeAugmentation, model_forward
from humanparse.errors import DataError
from humanparse.hardware import resolve_device
from humanparse.metrics import ConfusionMatrix
from humanparse.models.prepare import prepare_for_inference
from humanparse.progress import progress_bar


def _rank_and_world() -> tuple:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def build_tta(
    model: nn.Module,
    config,
    flip_pairs,
    num_classes: int,
    *,
    scales: Optional[Sequence[float]] = None,
    flip: Optional[bool] = None,
    precision: str = "fp32",
) -> TestTimeAugmentation:
    """The config's test protocol around `model`, scoring `config.eval.output`."""
    forward = model_forward(model, config.eval.output, precision)
    return TestTimeAugmentation.from_config(
        forward, config, flip_pairs, num_classes, scales=scales, flip=flip
    )


def evaluate(
    model: Optional[nn.Module],
    config,
    dataset,
    *,
    scales: Optional[Sequence[float]] = None,
    flip: Optional[bool] = None,
    device: str = "cpu",
    progress: bool = True,
    precision: str = "fp32",
    optimize: bool = True,
    forward: Optional[Forward] = None,
) -> Dict[str, Any]:
    """Metrics of `model` on `dataset` (from `build_dataset(config, split, train=False)`).

    `optimize` scores a BatchNorm-folded channels_last copy of the model (same outputs, faster); `precision`
    "bf16"/"fp16" runs it under autocast. `forward` (with `model` None) scores a forward function instead, e.g.
    an exported file on a runtime (`humanparse.inference.backends.runtime_forward`).

    Returns `mIoU`, `pixel_acc`, `mean_acc`, `fwIoU`, `per_class_iou` (class name -> IoU), `miou_over`,
    `protocol`, `scales`, `flip`, `num_images`, `confusion_matrix` (list of rows, gt x pred) and
    `nonfinite_logits` (True when the network gave NaN/inf logits: the scores are meaningless).
    """
    if len(dataset) == 0:
        raise DataError(f"the validation split of {config.data.root} has no images")
    if not getattr(dataset, "has_labels", True):
        raise DataError(f"the split of {config.data.root} has no labels to score against")
    if (model is None) == (forward is None):
        raise ValueError("evaluate takes a model or a forward function")
    device = resolve_device(device)
    was_training = model.training if model is not None else False
    if forward is not None:
        tta = TestTimeAugmentation.from_config(
            forward, config, dataset.flip_pairs, dataset.num_classes, scales=scales, flip=flip
        )
    else:
        model.eval().to(device)
        network = model
        if optimize:
            network = prepare_for_inference(model, torch.zeros(1, 3, 65, 65, device=device))
        tta = build_tta(
            network,
            config,
            dataset.flip_pairs,
            dataset.num_classes,
            scales=scales,
            flip=flip,
            precision=precision,
        )
    tta.source = getattr(model, "weights_name", "the model")
    matrix = ConfusionMatrix(dataset.num_classes)
    rank, world = _rank_and_world()
    indices = range(rank, len(dataset), world)
    if progress and rank == 0:
        indices = progress_bar(iterable=indices, desc="evaluate", unit="img")
    for index in indices:
        sample = dataset[index]
        image = sample["image"].unsqueeze(0).to(device)
        (prediction,) = tta.labels(image, [sample["meta"]])
        matrix.update(prediction, sample["label"].numpy())
    matrix.all_reduce()
    if model is not None:
        model.train(was_training)
    results = matrix.compute(config.eval.miou_over)
    results["per_class_iou"] = dict(zip(dataset.class_names, results["per_class_iou"]))
    results.update(
        protocol=tta.protocol,
        scales=tta.scales,
        flip=tta.flip,
        num_images=len(dataset),
        confusion_matrix=matrix.matrix.tolist(),
        nonfinite_logits=tta.nonfinite,
    )
    return results
