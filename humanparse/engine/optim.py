"""The optimizer of a recipe and its learning-rate schedule.

* ``sgd`` (CE2P, SCHP, CDGNet, CSENet): one group, weight decay on every parameter, BN and biases included.
* ``adamw`` (SegFormer, as mmsegmentation's SegFormer configs define it): parameter groups from `paramwise`
  rules: `train.head_lr_mult` on the parameters outside the backbone (mmseg's ``'head': lr_mult=10``), and with
  `train.no_decay_norms` no weight decay on normalisation layers (LayerNorm, BatchNorm) and on the Mix-FFN's
  depth-wise positional convs (mmseg's ``'norm'`` and ``'pos_block'`` decay_mult=0).

The schedule (`lr_at`): a linear warm-up from `warmup_ratio * lr` over `train.warmup_iterations` (mmengine's
LinearLR, start_factor=warmup_ratio), then the poly schedule over the iterations left (PolyLR, `poly_power`,
eta_min `min_lr`); each group's rate is that times its `lr_mult`.
"""

from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import nn

from humanparse.errors import ConfigError

OPTIMIZERS = ("sgd", "adamw")
_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


def poly_lr(
    base_lr: float, iteration: int, max_iterations: int, power: float = 0.9, min_lr: float = 0.0
) -> float:
    """SSSegmentation's PolyScheduler: `(base - min_lr) * (1 - it / max_it) ** power + min_lr`, it from 0."""
    return (base_lr - min_lr) * (1.0 - iteration / max_iterations) ** power + min_lr


def lr_at(train, iteration: int, max_iterations: int) -> float:
    """The base learning rate at `iteration` (from 0): linear warm-up, then poly over the rest."""
    warmup = train.warmup_iterations
    if iteration < warmup:
        return train.lr * (train.warmup_ratio + (1.0 - train.warmup_ratio) * iteration / warmup)
    return poly_lr(
        train.lr, iteration - warmup, max(max_iterations - warmup, 1), train.poly_power, train.min_lr
    )


def _no_decay_names(model: nn.Module) -> set:
    """Parameter names of normalisation layers and depth-wise (positional) convs."""
    names = set()
    for module_name, module in model.named_modules():
        positional = (
            isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups == module.in_channels
        )
        if isinstance(module, _NORMS) or positional:
            prefix = f"{module_name}." if module_name else ""
            names.update(prefix + name for name, _ in module.named_parameters(recurse=False))
    return names


def param_groups(model: nn.Module, train) -> List[Dict[str, Any]]:
    """The optimizer's groups: each with `params`, `lr_mult`, `weight_decay` and `name` (see the docstring)."""
    no_decay = _no_decay_names(model) if train.no_decay_norms else set()
    groups: Dict[tuple, Dict[str, Any]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        head = not name.startswith("backbone.")
        decay = name not in no_decay
        key = (head, decay)
        if key not in groups:
            groups[key] = {
                "name": f"{'head' if head else 'backbone'}{'' if decay else '_no_decay'}",
                "params": [],
                "lr_mult": train.head_lr_mult if head else 1.0,
                "weight_decay": train.weight_decay if decay else 0.0,
            }
        groups[key]["params"].append(parameter)
    return list(groups.values())


def build_optimizer(model: nn.Module, train) -> torch.optim.Optimizer:
    """`train.optimizer` over `model`'s parameters (see the module docstring)."""
    if train.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            model.parameters(), lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay
        )
        for group in optimizer.param_groups:
            group["lr_mult"] = 1.0
        return optimizer
    if train.optimizer == "adamw":
        return torch.optim.AdamW(param_groups(model, train), lr=train.lr, betas=tuple(train.betas))
    raise ConfigError(f"unknown train.optimizer {train.optimizer!r}; choose from {', '.join(OPTIMIZERS)}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group's rate: `lr` times its `lr_mult`."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
