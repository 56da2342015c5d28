"""`evaluate`: score a model on a validation split with its recipe's test protocol.

Under DDP every rank scores its own shard (sample i goes to rank i % world) and the confusion matrices are summed.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import torch
import torch.distributed as dist
from torch import nn

from humanparse.errors import DataError
from humanparse.hardware import resolve_device
from humanparse.inference.runtimes import Device, Forward, ModelSpec, Network, build_network
from humanparse.inference.tta import TestTimeAugmentation
from humanparse.metrics import ConfusionMatrix
from humanparse.progress import progress_bar


def _rank_and_world() -> tuple:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def evaluate(
    model: Optional[nn.Module],
    config,
    dataset,
    *,
    scales: Optional[Sequence[float]] = None,
    flip: Optional[bool] = None,
    device: Device = "cpu",
    progress: bool = True,
    precision: str = "fp32",
    optimize: bool = True,
    forward: Optional[Forward] = None,
    network: Optional[Network] = None,
) -> Dict[str, Any]:
    """Metrics of `model` on `dataset` (from `build_dataset(config, split, train=False)`).

    `optimize` scores a BatchNorm-folded channels_last copy of the model (same outputs, faster); `precision`
    "bf16"/"fp16" runs it under autocast. With `model` None, `network` (from
    `humanparse.inference.runtimes.build_network`, e.g. an exported file on a runtime) or a bare `forward` function
    is scored instead.

    Returns `mIoU`, `pixel_acc`, `mean_acc`, `fwIoU`, `per_class_iou` (class name -> IoU), `miou_over`,
    `protocol`, `scales`, `flip`, `num_images`, `confusion_matrix` (list of rows, gt x pred) and
    `nonfinite_logits` (True when the network gave NaN/inf logits: the scores are meaningless).
    """
    if len(dataset) == 0:
        raise DataError(f"the validation split of {config.data.root} has no images")
    if not getattr(dataset, "has_labels", True):
        raise DataError(f"the split of {config.data.root} has no labels to score against")
    if (model is not None) + (forward is not None) + (network is not None) != 1:
        raise ValueError("evaluate takes a model, a network or a forward function")
    was_training = model.training if model is not None else False
    if network is None:
        if forward is not None:
            network = Network(forward, device if isinstance(device, torch.device) else resolve_device(device))
        else:
            spec = ModelSpec(config, model=model)
            network = build_network(spec, "torch", device, precision, optimize=optimize)
    tta = TestTimeAugmentation.from_config(
        network.forward, config, scales=scales, flip=flip, source=network.source
    )
    matrix = ConfusionMatrix(dataset.num_classes)
    rank, world = _rank_and_world()
    indices = range(rank, len(dataset), world)
    if progress and rank == 0:
        indices = progress_bar(iterable=indices, desc="evaluate", unit="img")
    for index in indices:
        sample = dataset[index]
        image = sample["image"].unsqueeze(0).to(network.device)
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
