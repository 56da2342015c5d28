"""Lovász-softmax loss (Berman, Rannen Triki and Blaschko, CVPR 2018), the batch-flattened multi-class form.

The tractable surrogate of the Jaccard loss: for each class, sort the pixel errors |fg - p_c| in decreasing order
and take their dot product with the gradient of the Lovász extension of the Jaccard loss at that order.
"""

from __future__ import annotations

import torch

from humanparse.data.labels import IGNORE_INDEX


def lovasz_grad(fg_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovász extension of the Jaccard loss, for foreground indicators sorted by error."""
    total = fg_sorted.sum()
    intersection = total - fg_sorted.cumsum(0)
    union = total + (1 - fg_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    if fg_sorted.numel() > 1:
        jaccard[1:] = jaccard[1:] - jaccard[:-1]
    return jaccard


def lovasz_softmax(
    probs: torch.Tensor, labels: torch.Tensor, ignore_index: int = IGNORE_INDEX, only_present: bool = True
) -> torch.Tensor:
    """Mean over classes of the Lovász hinge on (n, K, H, W) probabilities and (n, H, W) labels.

    Pixels labelled ``ignore_index`` are dropped; with ``only_present`` the classes absent from the valid labels
    are skipped (the reference's ``classes='present'``). Returns 0 (with a graph) when nothing is left.
    """
    num_classes = probs.shape[1]
    probs = probs.permute(0, 2, 3, 1).reshape(-1, num_classes)
    labels = labels.reshape(-1)
    valid = labels != ignore_index
    probs, labels = probs[valid], labels[valid]
    losses = []
    for c in range(num_classes):
        fg = (labels == c).to(probs.dtype)
        if only_present and fg.sum() == 0:
            continue
        errors = (fg - probs[:, c]).abs()
        errors_sorted, order = torch.sort(errors, 0, descending=True)
        losses.append(torch.dot(errors_sorted, lovasz_grad(fg[order])))
    if not losses:
        return probs.sum() * 0.0
    return torch.stack(losses).mean()
